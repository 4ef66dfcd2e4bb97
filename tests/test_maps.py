"""The meeting map: one HTML file that opens offline in headless Chromium and shows the overlays.

Chromium comes from Debian's ``chromium`` package (installed here when missing, as root); the
browser tests skip with the reason only where it cannot be installed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image as mpimg

from carerun import _browser
from carerun._errors import InputError
from carerun.geo import coverage_layers
from carerun.maps import coverage_figures, write_map
from carerun.model import Assignment, Mode, Plan, Visit
from test_geo import SECRET, _Event, bank_graph, bank_roster, two_provider_case


@pytest.fixture(scope="module")
def chromium() -> str:
    exe = _browser.ensure_chromium()
    if exe is None:
        pytest.skip("Chromium is absent and cannot be installed here (apt-get needs root)")
    return exe


@pytest.fixture(scope="module")
def meeting_map(tmp_path_factory: pytest.TempPathFactory) -> Path:
    case = two_provider_case()
    network = {Mode.DRIVE: bank_graph()}
    events = [_event(v) for v in case.roster.visits[:4]]
    layers = coverage_layers(case.roster, network=network, duplicates=events)
    figures = coverage_figures(layers, case.roster)
    path = tmp_path_factory.mktemp("map") / "map.html"
    return write_map(layers, path, network=network, title="Test <week>", figures=figures)


def _event(visit: Visit) -> _Event:
    loc = visit.location
    return _Event(0, loc.lat, loc.lon, ("EXT", "IH"), (visit.visit_id,))


def test_map_is_self_contained(meeting_map: Path) -> None:
    text = meeting_map.read_text(encoding="utf-8")
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", text)
    assert "sourceMappingURL" not in text
    assert "url(images/" not in text  # Leaflet's images are data URIs
    assert "Test &lt;week&gt;" in text  # the title is escaped
    assert SECRET not in text  # no client id or address reaches the shared map
    assert meeting_map.stat().st_size < 10_000_000


def test_figures_name_overlap_hours_and_duplicates() -> None:
    case = two_provider_case()
    layers = coverage_layers(case.roster, duplicates=[_event(v) for v in case.roster.visits[:4]])
    figures = coverage_figures(layers, case.roster)
    assert figures["Hours in overlaps"] == "12 h in 4 cells"
    assert figures["In-house/external overlap"] == "12 h"
    assert figures["Duplicate events"] == "4"
    # 1 of 26.5 contact hours is in cells with fewer than 3 clients.
    assert figures["Hidden for privacy"] == (
        "1 h in 2 cells with fewer than 3 clients (4% of hours; cells 500 m across)"
    )


def test_the_title_block_says_how_much_is_hidden_at_this_cell_size() -> None:
    case = two_provider_case()
    with pytest.warns(UserWarning, match="larger `cell_m`"):
        layers = coverage_layers(case.roster, min_clients=4)
    figures = coverage_figures(layers, case.roster)
    assert figures["Hidden for privacy"] == (
        "14 h in 11 cells with fewer than 4 clients (55% of hours; cells 500 m across)"
    )


def test_routes_on_the_map_keep_away_from_the_base(tmp_path: Path) -> None:
    roster = bank_roster()
    plan = Plan((Assignment("A", "k1", 0, 8 * 3600), Assignment("B", "k1", 0, 9 * 3600)))
    network = {Mode.DRIVE: bank_graph()}
    layers = coverage_layers(roster, plan=plan, network=network, min_clients=1)
    page = write_map(layers, tmp_path / "map.html", network=network).read_text(encoding="utf-8")
    found = re.search(r"const DATA = (\{.*?\});</script>", page, flags=re.S)
    assert found is not None
    (feature,) = json.loads(found.group(1))["layers"]["routes"]["features"]
    lon, lat = np.array(feature["geometry"]["coordinates"]).T
    base = roster.carers[0].base
    # Metres east and north of the base, near enough at this latitude.
    east = (lon - base.lon) * 111_320 * np.cos(np.radians(base.lat))
    north = (lat - base.lat) * 110_574
    assert np.hypot(east, north).min() > 1_900  # starts at the first visit, 2 km along the road


def test_write_map_refuses_bad_input(tmp_path: Path) -> None:
    case = two_provider_case()
    layers = coverage_layers(case.roster)
    with pytest.raises(InputError, match="html"):
        write_map(layers, tmp_path / "map.png")
    with pytest.raises(InputError, match="unknown layers"):
        write_map({"secret": layers["demand"]}, tmp_path / "map.html")
    assert not list(tmp_path.iterdir())


def test_map_opens_offline_without_errors_and_shows_every_layer(
    meeting_map: Path, chromium: str
) -> None:
    run = _browser.load_page(meeting_map, chromium=chromium)
    assert run.console == ()
    assert 'data-ready="1"' in run.dom
    layers = re.search(r'data-layers="([^"]*)"', run.dom)
    assert layers is not None
    assert set(layers.group(1).split()) == {
        "roads",
        "demand",
        "provider_areas",
        "overlap",
        "duplicates",
        "isochrones",
        "unmet_need",
    }
    overlays = re.findall(r"leaflet-control-layers-selector[^>]*>\s*<span>\s*([^<]+)", run.dom)
    assert any(o.startswith("Overlaps between providers (1)") for o in overlays), overlays
    assert len(overlays) == 7
    # Overlays shown at start are SVG paths: 2 areas, 1 overlap, 1 unmet cell, duplicates.
    assert run.dom.count("<path") >= 5
    assert "leaflet-control-scale" in run.dom and "legend" in run.dom


def test_map_screenshot_is_not_blank(meeting_map: Path, chromium: str, tmp_path: Path) -> None:
    png = _browser.screenshot(meeting_map, tmp_path / "map.png", chromium=chromium)
    pixels = mpimg.imread(png)[..., :3]
    colours = np.unique((pixels * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 50
    # The overlap's red and the in-house blue are on screen.
    assert _near(pixels, (0xD7, 0x19, 0x1C)) > 100


def _near(pixels: np.ndarray, rgb: tuple[int, int, int], tol: float = 40) -> int:
    diff = np.abs(pixels * 255 - np.array(rgb)).sum(axis=-1)
    return int((diff < tol).sum())


def test_offline_flags_cut_the_network(chromium: str, tmp_path: Path) -> None:
    page = tmp_path / "net.html"
    page.write_text(
        "<html><body><script>fetch('https://example.org/').then("
        "() => document.body.dataset.net = 'up', () => document.body.dataset.net = 'down');"
        "</script></body></html>"
    )
    run = _browser.load_page(page, chromium=chromium)
    assert 'data-net="down"' in run.dom


def test_cli_map_writes_the_map_the_overlays_and_figures(
    leeds_pbf: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from carerun.cli import main
    from carerun.network import load_network
    from carerun.roster import write_roster
    from carerun.synth import synth_roster

    roster = synth_roster(load_network(leeds_pbf), clients=30, providers=2, days=[0], seed=3)
    write_roster(roster, tmp_path / "roster")
    out = tmp_path / "out"
    code = main(
        [
            "map",
            str(tmp_path / "roster"),
            "--osm",
            str(leeds_pbf),
            "--out",
            str(out),
            "--min-clients",
            "1",
        ]
    )
    assert code == 0
    assert {p.name for p in out.iterdir()} == {"map.html", "coverage.gpkg", "figures"}
    assert any((out / "figures").glob("demand.png"))
    assert "Duplicate events" in capsys.readouterr().out


def test_cli_map_refuses_a_missing_plan_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from carerun.cli import main

    code = main(
        [
            "map",
            str(tmp_path),
            "--plan",
            str(tmp_path / "nope"),
            "--osm",
            "default",
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert code == 2
    assert "no plan folder" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
