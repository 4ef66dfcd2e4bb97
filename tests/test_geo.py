"""Coverage overlays on hand-built rosters whose answers can be counted by hand.

The roster lies in Rutland (British National Grid). Clients sit near the centres of known hex
cells: an in-house provider serves 4 × 2 cells, an external one 4 × 2 cells shifted by two
columns, so exactly 4 cells are shared. The road graphs are two river banks with no bridge
(or one bridge), so what an isochrone reaches can be worked out on paper.
"""

from __future__ import annotations

import dataclasses
import itertools
import warnings
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pyogrio  # type: ignore[import-untyped]
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import CRS, Transformer

from carerun._errors import InputError
from carerun.geo import (
    BRITISH_NATIONAL_GRID,
    GraphIndex,
    HexGrid,
    coverage_layers,
    demand_cells,
    duplicate_points,
    hours_column,
    isochrones,
    projected_crs,
    provider_areas,
    provider_overlap,
    route_lines,
    unmet_need_cells,
    write_coverage,
)
from carerun.model import (
    Assignment,
    Carer,
    Location,
    Mode,
    Plan,
    Provider,
    ProviderKind,
    Roster,
    TimeWindow,
    Unassigned,
    UnassignedReason,
    Visit,
)

CELL_M = 500.0
GRID = HexGrid(CELL_M)
ORIGIN_E, ORIGIN_N = 486_000.0, 308_500.0  # near Oakham, Rutland
TO_WGS84 = Transformer.from_crs(27700, 4326, always_xy=True)
SECRET = "SECRET"


def bng_location(e: float, n: float, *, label: str = "") -> Location:
    lon, lat = TO_WGS84.transform(e, n)
    return Location(lat=lat, lon=lon, address=f"{label} {SECRET} Lane", postcode="LE15 6XX")


def cell_centre(dq: int, dr: int) -> tuple[float, float]:
    q0, r0 = GRID.cells(np.array([ORIGIN_E]), np.array([ORIGIN_N]))
    x, y = GRID.centre(q0 + dq, r0 + dr)
    return float(x[0]), float(y[0])


@dataclasses.dataclass
class Case:
    roster: Roster
    shared_cells: int
    visits_of: dict[tuple[str, int, int], list[str]]


def _visit(vid: str, client: str, where: Location, **kw: object) -> Visit:
    return Visit(
        visit_id=vid,
        client_id=client,
        day=0,
        window=TimeWindow(8 * 3600, 9 * 3600),
        duration=30 * 60,
        location=where,
        **kw,  # type: ignore[arg-type]
    )


def two_provider_case() -> Case:
    """IH serves cells dq 0..3, EXT dq 2..5 (dr 0..1); 3 clients per provider per cell.

    Extra: one lone EXT client far away (a cell with one client, suppressed); three clients with
    no provider in one cell and one elsewhere (unmet need, one cell kept, one suppressed).
    """
    visits: list[Visit] = []
    visits_of: dict[tuple[str, int, int], list[str]] = {}
    n = 0
    offsets = [(-60.0, 0.0), (60.0, 30.0), (0.0, -70.0)]
    for provider, carer, dqs in (("IH", "ih1", range(0, 4)), ("EXT", "ex1", range(2, 6))):
        for dq in dqs:
            for dr in (0, 1):
                cx, cy = cell_centre(dq, dr)
                for ox, oy in offsets:
                    n += 1
                    where = bng_location(cx + ox, cy + oy, label=str(n))
                    vid = f"V{n}"
                    visits.append(
                        _visit(
                            vid,
                            f"{SECRET}-client-{n}",
                            where,
                            provider=provider,
                            carer_ids=(carer,),
                        )
                    )
                    visits_of.setdefault((provider, dq, dr), []).append(vid)
    lone = bng_location(*cell_centre(10, 0), label="lone")
    visits.append(_visit("LONE", f"{SECRET}-client-lone", lone, provider="EXT", carer_ids=("ex1",)))
    cx, cy = cell_centre(0, 3)
    for i, (ox, oy) in enumerate(offsets):
        where = bng_location(cx + ox, cy + oy, label=f"u{i}")
        visits.append(_visit(f"U{i}", f"{SECRET}-client-u{i}", where))
    visits.append(_visit("U9", f"{SECRET}-client-u9", bng_location(*cell_centre(6, 3))))
    carers = (
        Carer("ih1", "IH", bng_location(*cell_centre(0, 0)), team="north"),
        Carer("ih2", "IH", bng_location(*cell_centre(1, 0)), team="north"),
        Carer("ex1", "EXT", bng_location(*cell_centre(5, 0))),
    )
    providers = (
        Provider("IH", "Council in-house", ProviderKind.IN_HOUSE),
        Provider("EXT", "Agency", ProviderKind.EXTERNAL),
    )
    return Case(Roster(tuple(visits), carers, providers), shared_cells=4, visits_of=visits_of)


@pytest.fixture(scope="module")
def case() -> Case:
    return two_provider_case()


# Two river banks --------------------------------------------------------------------------

BANK_E0 = 480_000.0
STEP_M = 200.0
STEP_S = 24.0  # 200 m at 30 km/h
NORTH_N, SOUTH_N = ORIGIN_N + 500.0, ORIGIN_N - 500.0


def bank_graph(n: int = 60, *, bridge_at: int | None = None) -> nx.MultiDiGraph:
    """Two east-west roads 1 km apart (a river between); optionally one bridge."""
    g = nx.MultiDiGraph(crs="EPSG:4326")
    for bank, north in (("n", NORTH_N), ("s", SOUTH_N)):
        for i in range(n):
            lon, lat = TO_WGS84.transform(BANK_E0 + STEP_M * i, north)
            g.add_node(f"{bank}{i}", x=lon, y=lat)
        for i in range(n - 1):
            for a, b in ((i, i + 1), (i + 1, i)):
                g.add_edge(f"{bank}{a}", f"{bank}{b}", length=STEP_M, travel_time=STEP_S)
    if bridge_at is not None:
        for near, far in (("n", "s"), ("s", "n")):
            g.add_edge(
                f"{near}{bridge_at}", f"{far}{bridge_at}", length=1000.0, travel_time=5 * STEP_S
            )
    return g


def bank_roster() -> Roster:
    base = bng_location(BANK_E0, NORTH_N)
    visits = (
        _visit("A", "c1", bng_location(BANK_E0 + 10 * STEP_M, NORTH_N)),
        _visit("B", "c2", bng_location(BANK_E0 + 30 * STEP_M, NORTH_N)),
    )
    carer = Carer("k1", "P", base, shifts={0: (TimeWindow(7 * 3600, 14 * 3600),)})
    return Roster(visits, (carer,), (Provider("P", kind=ProviderKind.IN_HOUSE),))


def covered(iso: gpd.GeoDataFrame, minutes: float, e: float, n: float) -> bool:
    return bool(iso.loc[iso["minutes"] == minutes].geometry.contains(shapely.Point(e, n)).any())


# CRS ---------------------------------------------------------------------------------------


def test_projected_crs_is_british_national_grid_in_britain_and_utm_elsewhere() -> None:
    assert projected_crs(52.67, -0.73) == BRITISH_NATIONAL_GRID  # Oakham
    assert projected_crs(55.95, -3.19) == BRITISH_NATIONAL_GRID  # Edinburgh
    assert projected_crs(53.35, -6.26).to_epsg() == 32629  # Dublin: not GB
    assert projected_crs(60.17, 24.94).to_epsg() == 32635  # Helsinki
    assert projected_crs(-33.87, 151.21).to_epsg() == 32756  # Sydney (south)
    assert projected_crs([52.6, 52.7, 60.0], [-0.7, -0.8, 24.9]) == BRITISH_NATIONAL_GRID


def test_layers_are_projected_in_metres(case: Case) -> None:
    layers = coverage_layers(case.roster)
    assert set(layers) == {"demand", "provider_areas", "overlap", "unmet_need"}
    for name, gdf in layers.items():
        assert gdf.crs == BRITISH_NATIONAL_GRID, name
        assert gdf.crs.axis_info[0].unit_name == "metre"


def test_asking_for_another_crs_warns_and_a_geographic_one_is_refused(case: Case) -> None:
    with pytest.warns(UserWarning, match="would suit"):
        gdf = demand_cells(case.roster, crs="EPSG:32630")
    assert gdf.crs.to_epsg() == 32630
    with pytest.raises(InputError, match="projected"):
        demand_cells(case.roster, crs="EPSG:4326")


# Demand, areas, overlap ---------------------------------------------------------------------


def test_hex_cells_have_the_right_size_and_tile() -> None:
    q = np.array([0, 1, 0, -3])
    r = np.array([0, 0, 1, 7])
    polys = GRID.polygons(q, r)
    assert np.allclose(shapely.area(polys), np.sqrt(3) / 2 * CELL_M**2)
    # Neighbours share an edge and do not overlap.
    assert shapely.intersection(polys[0], polys[1]).area == pytest.approx(0.0, abs=1e-6)
    assert shapely.intersection(polys[0], polys[1]).length == pytest.approx(GRID.radius)
    # Every cell's own centre falls in that cell.
    cx, cy = GRID.centre(q, r)
    assert (GRID.cells(cx, cy)[0] == q).all() and (GRID.cells(cx, cy)[1] == r).all()


def test_demand_counts_hours_per_provider_and_drops_thin_cells(case: Case) -> None:
    demand = demand_cells(case.roster, cell_m=CELL_M)
    # IH-only 4 cells, shared 4, EXT-only 4, unmet 1 kept; lone EXT and lone unmet dropped.
    assert len(demand) == 13
    assert demand.attrs["suppressed_cells"] == 2
    assert demand.attrs["suppressed_hours"] == pytest.approx(1.0)
    shared = demand[(demand[hours_column("IH")] > 0) & (demand[hours_column("EXT")] > 0)]
    assert len(shared) == case.shared_cells
    assert (shared["clients"] == 6).all()
    assert shared["hours"].to_numpy() == pytest.approx([3.0] * 4)
    assert demand["hours_unallocated"].sum() == pytest.approx(1.5)
    total = sum(v.duration for v in case.roster.visits) / 3600
    assert demand["hours"].sum() + demand.attrs["suppressed_hours"] == pytest.approx(total)


def test_min_clients_of_one_keeps_every_cell(case: Case) -> None:
    demand = demand_cells(case.roster, min_clients=1)
    assert len(demand) == 15 and demand.attrs["suppressed_cells"] == 0
    with pytest.raises(InputError, match="min_clients"):
        demand_cells(case.roster, min_clients=0)


def test_provider_areas_are_unions_of_served_cells(case: Case) -> None:
    areas = provider_areas(case.roster).set_index("provider")
    assert areas.loc["IH", "cells"] == 8
    assert areas.loc["EXT", "cells"] == 9  # its lone far client counts: areas are not suppressed
    assert areas.loc["IH", "area_m2"] == pytest.approx(8 * GRID.area)
    assert areas.loc["IH", "kind"] == "in-house"
    shared = areas.loc["IH", "geometry"].intersection(areas.loc["EXT", "geometry"])
    assert shared.area == pytest.approx(case.shared_cells * GRID.area)


def test_overlap_names_providers_hours_and_in_house_external(case: Case) -> None:
    overlap = provider_overlap(case.roster)
    assert len(overlap) == 1
    row = overlap.iloc[0]
    assert row["providers"] == "EXT;IH"
    assert row["kinds"] == "external;in-house"
    assert bool(row["in_house_external"])
    assert row["cells"] == case.shared_cells
    assert row["area_m2"] == pytest.approx(case.shared_cells * GRID.area)
    assert row["clients"] == 24
    assert row[hours_column("IH")] == pytest.approx(6.0)  # 4 cells × 3 clients × 0.5 h
    assert row[hours_column("EXT")] == pytest.approx(6.0)


def test_overlap_cells_with_too_few_clients_are_dropped(case: Case) -> None:
    overlap = provider_overlap(case.roster, min_clients=7)
    assert overlap.empty
    assert overlap.attrs["suppressed_cells"] == case.shared_cells


def test_overlap_follows_the_plan_not_the_roster(case: Case) -> None:
    # A plan giving every visit to IH leaves no overlap at all.
    plan = Plan(
        tuple(Assignment(v.visit_id, "ih1", 0, 8 * 3600) for v in case.roster.visits if v.provider)
    )
    assert provider_overlap(case.roster, plan=plan).empty
    areas = provider_areas(case.roster, plan=plan)
    assert list(areas["provider"]) == ["IH"]


def test_unmet_need_counts_unassigned_visits(case: Case) -> None:
    unmet = unmet_need_cells(case.roster)
    assert len(unmet) == 1 and unmet.iloc[0]["visits"] == 3
    assert unmet.attrs["suppressed_cells"] == 1
    ids = case.visits_of[("IH", 0, 0)] + case.visits_of[("EXT", 5, 0)]
    plan = Plan(
        (),
        tuple(Unassigned(v, UnassignedReason.CAPACITY) for v in ids),
    )
    unmet = unmet_need_cells(case.roster, plan=plan)
    assert len(unmet) == 2
    assert set(unmet["reasons"]) == {"not enough carer time: 3"}


# Privacy -----------------------------------------------------------------------------------


def test_no_client_id_or_address_in_any_shared_layer(case: Case) -> None:
    events = [
        _Event(0, v.location.lat, v.location.lon, ("IH", "EXT"), (v.visit_id,))
        for v in case.roster.visits[:5]
    ]
    layers = coverage_layers(case.roster, duplicates=events, min_clients=1)
    doors = {(round(v.location.lon, 6), round(v.location.lat, 6)) for v in case.roster.visits}
    for name, gdf in layers.items():
        for col in gdf.columns:
            assert SECRET not in str(col)
            if col == "geometry":
                continue
            text = " ".join(map(str, gdf[col].tolist()))
            assert SECRET not in text, (name, col)
            assert "LE15" not in text, (name, col)
        wgs = shapely.get_coordinates(gdf.to_crs(4326).geometry.to_numpy())
        assert not {(round(x, 6), round(y, 6)) for x, y in wgs} & doors, name


@dataclasses.dataclass(frozen=True)
class _Event:
    day: int
    lat: float
    lon: float
    providers: tuple[str, ...]
    visit_ids: tuple[str, ...]


def test_duplicates_are_counted_at_cell_centres(case: Case) -> None:
    vs = case.visits_of[("IH", 2, 0)]
    events = [
        _Event(
            0,
            case.roster.visit(v).location.lat,
            case.roster.visit(v).location.lon,
            ("EXT", "IH"),
            (v, v + "x"),
        )
        for v in vs
    ] + [
        _Event(
            3,
            case.roster.visit(vs[0]).location.lat,
            case.roster.visit(vs[0]).location.lon,
            ("IH", "EXT"),
            (vs[0],),
        )
    ]
    dup = duplicate_points(events, crs=BRITISH_NATIONAL_GRID, cell_m=CELL_M)
    assert len(dup) == 1
    row = dup.iloc[0]
    assert row["events"] == 4 and row["visits"] == 6
    assert row["days"] == "Mon;Thu" and row["providers"] == "EXT;IH"
    cx, cy = cell_centre(2, 0)
    assert row.geometry.x == pytest.approx(cx) and row.geometry.y == pytest.approx(cy)


# Isochrones and routes on the river banks -------------------------------------------------


def test_isochrones_grow_and_follow_the_roads() -> None:
    roster = bank_roster()
    iso = isochrones(roster, {Mode.DRIVE: bank_graph()})
    assert sorted(iso["minutes"]) == [5, 10, 15, 20]
    by_minutes = iso.set_index("minutes")["area_m2"]
    assert by_minutes[5] < by_minutes[10] < by_minutes[15] < by_minutes[20]
    # 5 min = 300 s = 12.5 steps of 200 m along the north bank.
    assert covered(iso, 5, BANK_E0 + 2400, NORTH_N)
    assert not covered(iso, 5, BANK_E0 + 2600 + 100, NORTH_N)
    assert covered(iso, 10, BANK_E0 + 4800, NORTH_N)
    # Across the river, 1 km away as the crow flies, nothing is reached in 20 min:
    # a circle would have reached 10 km.
    assert not covered(iso, 20, BANK_E0, SOUTH_N)
    assert iso.geometry.intersects(shapely.Point(BANK_E0, SOUTH_N).buffer(300)).sum() == 0


def test_a_bridge_brings_the_far_bank_in_reach() -> None:
    # Node 20 is 480 s east, the bridge 120 s, back west 480 s: 1080 s = 18 min.
    iso = isochrones(bank_roster(), {Mode.DRIVE: bank_graph(bridge_at=20)})
    assert not covered(iso, 15, BANK_E0, SOUTH_N)
    assert covered(iso, 20, BANK_E0, SOUTH_N)


def test_isochrones_skip_modes_without_a_graph() -> None:
    with pytest.warns(UserWarning, match="no drive road graph"):
        iso = isochrones(bank_roster(), {Mode.WALK: bank_graph()})
    assert iso.empty


def test_routes_follow_the_roads_and_carry_no_client_ids() -> None:
    roster = bank_roster()
    plan = Plan(
        (
            Assignment("A", "k1", 0, 8 * 3600, travel_before=240),
            Assignment("B", "k1", 0, 9 * 3600, travel_before=480),
        ),
        travel_home={("k1", 0): 720},
    )
    routes = route_lines(roster, plan, {Mode.DRIVE: bank_graph()})
    assert len(routes) == 1
    row = routes.iloc[0]
    # Node 10 → node 30 only: the legs from and back to base (node 0) are left out.
    assert row["length_m"] == pytest.approx(20 * STEP_M, abs=1e-3)
    assert row["travel_min"] == pytest.approx(8.0)
    assert row["base_travel_min"] == pytest.approx(16.0)
    assert (row["carer_id"], row["provider"], row["day_name"]) == ("k1", "P", "Mon")
    assert row["visits"] == 2
    assert "client_id" not in routes.columns
    north_bank = shapely.box(BANK_E0 - 1, NORTH_N - 1, BANK_E0 + 6_001, NORTH_N + 1)
    assert row.geometry.within(north_bank)


def _node_xy(index: int, north: float = NORTH_N) -> tuple[float, float]:
    """Where node `index` of a bank lands in British National Grid (via WGS84 and back)."""
    lon, lat = TO_WGS84.transform(BANK_E0 + STEP_M * index, north)
    x, y = Transformer.from_crs(4326, 27700, always_xy=True).transform(lon, lat)
    return float(x), float(y)


def test_routes_never_start_or_end_at_a_base_or_a_door() -> None:
    # Doors and the base sit 40 m off the road; the carer lives next door to the first client.
    off = 40.0
    doors = {
        "A": bng_location(BANK_E0 + 10 * STEP_M + 15, NORTH_N + off),
        "B": bng_location(BANK_E0 + 20 * STEP_M - 15, NORTH_N + off),
        "C": bng_location(BANK_E0 + 30 * STEP_M, NORTH_N + off),
    }
    base = bng_location(BANK_E0 + 10 * STEP_M - 20, NORTH_N + off)
    visits = tuple(_visit(k, f"c{k}", where) for k, where in doors.items())
    carer = Carer("k1", "P", base, shifts={0: (TimeWindow(7 * 3600, 14 * 3600),)})
    roster = Roster(visits, (carer,), (Provider("P", kind=ProviderKind.IN_HOUSE),))
    plan = Plan(tuple(Assignment(k, "k1", 0, (8 + i) * 3600) for i, k in enumerate(doors)))
    line = route_lines(roster, plan, {Mode.DRIVE: bank_graph()}).geometry.iloc[0]
    coords = shapely.get_coordinates(line)
    ends = [tuple(coords[0]), tuple(coords[-1])]
    # The ends are the road nodes nearest the first and last doors...
    assert ends[0] == pytest.approx(_node_xy(10))
    assert ends[1] == pytest.approx(_node_xy(30))
    # ...never a door or the base itself.
    to_bng = Transformer.from_crs(4326, 27700, always_xy=True)
    places = [to_bng.transform(p.lon, p.lat) for p in (*doors.values(), base)]
    for end in ends:
        for place in places:
            assert np.hypot(end[0] - place[0], end[1] - place[1]) >= off - 1e-6
    # Nothing is drawn west of the first visit, towards or around the base.
    assert coords[:, 0].min() == pytest.approx(_node_xy(10)[0])


def test_a_one_visit_day_has_an_empty_route() -> None:
    roster = bank_roster()
    plan = Plan((Assignment("A", "k1", 0, 8 * 3600, travel_before=240),))
    routes = route_lines(roster, plan, {Mode.DRIVE: bank_graph()})
    assert len(routes) == 1
    assert routes.geometry.iloc[0].is_empty
    assert routes.iloc[0]["length_m"] == 0.0
    assert routes.iloc[0]["base_travel_min"] == pytest.approx(4.0)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=59), min_size=2, max_size=6))
def test_a_route_runs_from_the_first_visit_to_the_last_along_the_bank(nodes: list[int]) -> None:
    visits = tuple(
        _visit(f"V{i}", f"c{i}", bng_location(BANK_E0 + STEP_M * n, NORTH_N))
        for i, n in enumerate(nodes)
    )
    carer = Carer("k1", "P", bng_location(BANK_E0, NORTH_N))
    roster = Roster(visits, (carer,), (Provider("P", kind=ProviderKind.IN_HOUSE),))
    plan = Plan(
        tuple(Assignment(v.visit_id, "k1", 0, 6 * 3600 + 60 * i) for i, v in enumerate(visits))
    )
    row = route_lines(roster, plan, {Mode.DRIVE: bank_graph()}).iloc[0]
    hops = sum(abs(b - a) for a, b in itertools.pairwise(nodes))
    assert row["length_m"] == pytest.approx(hops * STEP_M, abs=1e-3)
    if hops:
        coords = shapely.get_coordinates(row.geometry)
        assert tuple(coords[0]) == pytest.approx(_node_xy(nodes[0]))
        assert tuple(coords[-1]) == pytest.approx(_node_xy(nodes[-1]))
        # The base is node 0; no visit is there, so the route never comes within 100 m of it.
        base = np.array(_node_xy(0))
        assert np.hypot(*(coords - base).T).min() >= 100.0


def test_no_route_ends_at_a_base_or_a_door_on_a_real_week(rutland_pbf: Path) -> None:
    from carerun.asis import asis_plan
    from carerun.matrix import roster_matrix
    from carerun.network import load_network
    from carerun.synth import synth_roster

    network = load_network(rutland_pbf)
    roster = synth_roster(network, clients=40, days=[0], seed=5)
    plan = asis_plan(roster, roster_matrix(network, roster))
    routes = route_lines(roster, plan, network)
    drawn = routes[~routes.geometry.is_empty]
    assert len(drawn) >= 5
    to_bng = Transformer.from_crs(4326, 27700, always_xy=True)
    places = [c.base for c in roster.carers] + [v.location for v in roster.visits]
    px, py = to_bng.transform([p.lon for p in places], [p.lat for p in places])
    place_xy = {(round(x, 3), round(y, 3)) for x, y in zip(px, py, strict=True)}
    for line in drawn.geometry:
        coords = shapely.get_coordinates(line)
        for end in (coords[0], coords[-1]):
            assert (round(end[0], 3), round(end[1], 3)) not in place_xy
    # Each line runs from the road node nearest the first door to that nearest the last.
    index = {m: GraphIndex(g, BRITISH_NATIONAL_GRID) for m, g in network.graphs.items()}
    for row in drawn.itertuples():
        run = plan.routes()[(row.carer_id, row.day)]
        doors = [roster.visit(a.visit_id).location for a in (run[0], run[-1])]
        dx, dy = to_bng.transform([d.lon for d in doors], [d.lat for d in doors])
        graph = index[roster.carer(row.carer_id).mode]
        nodes = graph.nearest(np.asarray(dx), np.asarray(dy))
        coords = shapely.get_coordinates(row.geometry)
        assert coords[[0, -1]] == pytest.approx(graph.xy[nodes])


# Privacy threshold and cell size ------------------------------------------------------------


def _privacy_warnings(seen: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in seen if "hidden for privacy" in str(w.message)]


def test_hiding_most_hours_warns_and_suggests_larger_cells(case: Case) -> None:
    # At 4 clients per cell, only the 4 shared cells (6 clients) stay: 12 of 26.5 h are shown.
    with pytest.warns(UserWarning, match="hidden for privacy") as seen:
        layers = coverage_layers(case.roster, cell_m=500, min_clients=4)
    (message,) = _privacy_warnings(list(seen))
    assert message.startswith("14 of 26 contact hours (55%)")
    assert "11 cells of 500 m with fewer than 4 clients" in message
    assert "`cell_m` (e.g. 1000)" in message
    demand = layers["demand"]
    assert demand["hours"].sum() == pytest.approx(12.0)
    assert demand.attrs["suppressed_hours"] == pytest.approx(14.5)


def test_larger_cells_keep_the_hours_and_do_not_warn(case: Case) -> None:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        layers = coverage_layers(case.roster, cell_m=2000, min_clients=4)
        default = coverage_layers(case.roster)
    assert _privacy_warnings(seen) == []
    # The same threshold hides 2.5 h here against 14.5 h with 500 m cells.
    assert layers["demand"].attrs["suppressed_hours"] == pytest.approx(2.5)
    assert default["demand"].attrs["suppressed_hours"] == pytest.approx(1.0)


def test_exactly_half_hidden_does_not_warn() -> None:
    # Two cells of 1 h each: one with 3 clients (kept), one with 1 client (hidden).
    kept = [_visit(f"K{i}", f"k{i}", bng_location(*cell_centre(0, 0))) for i in range(3)]
    kept = [dataclasses.replace(v, duration=20 * 60) for v in kept]
    lone = [
        dataclasses.replace(_visit("L", "lone", bng_location(*cell_centre(8, 0))), duration=3600)
    ]
    roster = Roster(tuple(kept + lone), (), (Provider("P", kind=ProviderKind.IN_HOUSE),))
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        layers = coverage_layers(roster)
    assert layers["demand"].attrs["suppressed_hours"] == pytest.approx(1.0)
    assert layers["demand"]["hours"].sum() == pytest.approx(1.0)
    assert _privacy_warnings(seen) == []


# GeoPackage ---------------------------------------------------------------------------------


def test_geopackage_reads_back_with_every_layer(tmp_path: Path, case: Case) -> None:
    roster = bank_roster()
    plan = Plan((Assignment("A", "k1", 0, 8 * 3600),))
    layers = coverage_layers(
        roster, plan=plan, network={Mode.DRIVE: bank_graph()}, duplicates=[], min_clients=1
    )
    layers.update({f"case_{k}": v for k, v in coverage_layers(case.roster).items()})
    path = write_coverage(layers, tmp_path / "coverage.gpkg")
    names = {name for name, _ in pyogrio.list_layers(path)}
    assert names == set(layers)
    for name, gdf in layers.items():
        back = gpd.read_file(path, layer=name)
        assert len(back) == len(gdf), name
        assert CRS.from_user_input(back.crs) == BRITISH_NATIONAL_GRID
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_write_coverage_refuses_a_layer_without_crs(tmp_path: Path) -> None:
    bad = gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.Point(0, 0)])
    with pytest.raises(InputError, match="no CRS"):
        write_coverage({"bad": bad}, tmp_path / "c.gpkg")
    with pytest.raises(InputError, match=r"\.gpkg"):
        write_coverage({"bad": bad}, tmp_path / "c.shp")
    assert not list(tmp_path.iterdir())


def test_mixed_crs_layers_warn_and_keep_their_own_crs(tmp_path: Path) -> None:
    a = gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.Point(486000, 308500)], crs=27700)
    b = a.to_crs(32630)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        path = write_coverage({"a": a, "b": b}, tmp_path / "c.gpkg")
    assert any("EPSG:32630" in str(w.message) for w in seen)
    assert gpd.read_file(path, layer="b").crs.to_epsg() == 32630
