"""The Solomon benchmark adapter: parsing, the CVRPLIB distance convention, and a small solve
through carerun's own solver path."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest

from carerun import _ortools
from carerun.check import assert_valid
from carerun.solve import SolveParams

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from _solomon_io import Instance, read_bks, read_instance, route_distance, to_carerun


@pytest.fixture(scope="module")
def c101(shared_data: Path) -> Instance:
    return read_instance(shared_data / "solomon" / "C101.txt")


def test_reads_the_solomon_format(c101: Instance) -> None:
    assert (c101.name, c101.vehicles, c101.capacity, c101.customers) == ("C101", 25, 200, 100)
    assert (c101.x[0], c101.y[0], c101.due[0]) == (40, 50, 1236)
    assert (c101.demand[1], c101.ready[1], c101.due[1], c101.service[1]) == (10, 912, 967, 90)


def test_distances_are_truncated_to_one_decimal_times_ten(c101: Instance) -> None:
    d = c101.distances()
    # depot (40, 50) to customer 1 (45, 68): sqrt(349) = 18.681 -> 18.6 -> 186
    assert d[0, 1] == 186
    assert np.all(np.diag(d) == 0) and np.array_equal(d, d.T)
    assert route_distance(c101, [[1]]) == 37.2


def test_crlf_file_reads_like_the_others(shared_data: Path) -> None:
    r101 = read_instance(shared_data / "solomon" / "R101.txt")  # CRLF line endings
    assert (r101.customers, r101.vehicles, r101.capacity) == (100, 25, 200)


def test_bks_table_has_the_distance_only_column(shared_data: Path) -> None:
    bks = read_bks(shared_data / "solomon" / "bks.csv")
    assert bks["C101"] == 827.3 and len(bks) == 56


def test_adapted_roster_and_small_solve(c101: Instance) -> None:
    keep = 13  # depot + the first 12 customers: a quick solve
    small = dataclasses.replace(
        c101,
        vehicles=4,
        **{f: getattr(c101, f)[:keep] for f in ("x", "y", "demand", "ready", "due", "service")},
    )
    roster, matrix, demand, capacity = to_carerun(small)
    assert len(roster.visits) == 12 and len(roster.carers) == 4
    first, depot = roster.visits[0].location, roster.carers[0].base
    assert matrix.time(roster.carers[0].mode, depot, first) == 186
    params = SolveParams(time_limit=1.0, duplicate=0, continuity=0)
    plan = _ortools.solve_day(roster, matrix, 0, params, demand=demand, capacity=capacity).plan
    assert_valid(roster, plan, matrix, params=params)
    assert not plan.unassigned
    routes = [[int(a.visit_id[1:]) for a in run] for run in plan.routes().values()]
    assert all(sum(demand[f"c{c}"] for c in r) <= 200 for r in routes)
    assert route_distance(small, routes) == pytest.approx(plan.travel_seconds / 10)


def test_bad_file_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("X\nVEHICLE\n 25 200\nCUSTOMER\n 0 40 50 0 0\n")
    with pytest.raises(ValueError, match="7 customer columns"):
        read_instance(bad)


def test_repeated_runs_report_the_median_and_never_favour_an_incomplete_one() -> None:
    from solomon import _median_run

    def run(cost: float, served: int = 100) -> dict[str, float]:
        return {"cost": cost, "served": served}

    assert _median_run([run(3.0), run(1.0), run(2.0)])["cost"] == 2.0
    # A cheap run that leaves a customer unserved ranks last, not first.
    assert _median_run([run(0.5, served=99), run(2.0), run(3.0)])["cost"] == 3.0
    assert _median_run([run(4.0), run(1.0)])["cost"] == 1.0
    assert _median_run([run(1.0)])["cost"] == 1.0
