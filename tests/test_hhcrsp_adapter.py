"""Readers, carerun adapter and independent scorer of the HHCRSP benchmark (benchmarks/)."""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import _hhcrsp_io as hh
from carerun.model import Roster

MANKOWSKA_10_1 = Path("hhcrsp/mankowska/InstanzCPLEX_HCSRP_10_1.txt")
ITALIAN_003 = Path("hhcrsp/ceschia2024_italian/instance_003-rome-r19-p44-s4-sim22.3-seq22.9.json")


@pytest.fixture(scope="module")
def mankowska(shared_data: Path) -> hh.Instance:
    return hh.read_mankowska(shared_data / MANKOWSKA_10_1)


def test_mankowska_reader_counts(mankowska: hh.Instance) -> None:
    # nbNodes 12 = 10 patients + 2 depot copies; nbVehi 3; DS "11 10 9" = patients 10, 9, 8.
    assert len(mankowska.patients) == 10
    assert mankowska.travel.shape == (11, 11)
    assert len(mankowska.caregivers) == 3
    assert {s for c in mankowska.caregivers for s in c.abilities} == {f"s{k}" for k in range(1, 7)}
    assert [p.patient_id for p in mankowska.double_service] == ["8", "9", "10"]
    assert mankowska.n_tasks == 13
    by_id = {p.patient_id: p for p in mankowska.patients}
    assert by_id["8"].sync == hh.SIMULTANEOUS and by_id["8"].gap == (0.0, 0.0)
    assert by_id["9"].sync == hh.SEQUENTIAL and by_id["9"].gap == (51.0, 102.0)
    assert [s for s, _ in by_id["9"].services] == ["s1", "s4"]  # lower-numbered first
    assert by_id["1"].window == (345.0, 465.0) and by_id["1"].services == (("s4", 14.0),)
    assert mankowska.travel[0, 4] == pytest.approx(7.28011)


def test_italian_reader_counts_match_file_name(shared_data: Path) -> None:
    path = shared_data / ITALIAN_003
    inst = hh.read_instance(path)
    match = re.search(r"-p(\d+)-", path.name)
    assert match is not None
    assert len(inst.patients) == int(match.group(1)) == 44
    assert len(inst.caregivers) == 8
    assert inst.travel.shape == (45, 45)
    assert len(inst.double_service) == 19
    assert all(p.sync for p in inst.double_service)


def test_adapter_builds_linked_roster(mankowska: hh.Instance) -> None:
    adapted = hh.adapt_instance(mankowska)
    roster = adapted.roster
    assert isinstance(roster, Roster)
    assert len(roster.visits) == 13 and len(roster.carers) == 3
    linked = {v.visit_id: v for v in roster.visits if v.follows}
    assert set(linked) == {"8-s6", "9-s4", "10-s6"}
    assert linked["8-s6"].follows == "8-s5"
    assert (linked["8-s6"].gap_min, linked["8-s6"].gap_max) == (0, 0)
    assert (linked["9-s4"].gap_min, linked["9-s4"].gap_max) == (3060, 6120)  # seconds = units x 60
    assert all(v.link_other_carer for v in linked.values())  # two caregivers, as published
    assert all(not v.double_handed and len(v.skills) == 1 for v in roster.visits)
    first = roster.visit("1-s4")
    assert (first.window.start, first.window.end, first.duration) == (345 * 60, 465 * 60, 14 * 60)
    # Travel is rounded up to whole seconds: never shorter than the instance's own.
    carer = roster.carers[0]
    there = adapted.matrix.time(carer.mode, carer.base, first.location)
    assert there == math.ceil(mankowska.travel[0, 1] * hh.SCALE)
    assert (adapted.matrix.seconds[carer.mode] >= mankowska.travel * hh.SCALE - 1e-6).all()


def _toy() -> hh.Instance:
    """Depot 0, patient A (node 1, single s1), patient B (node 2, s1 and s2 together)."""
    travel = np.array([[0.0, 3.0, 6.0], [3.0, 0.0, 4.0], [6.0, 4.0, 0.0]])
    patients = (
        hh.Patient("A", 1, (0.0, 10.0), (("s1", 5.0),)),
        hh.Patient("B", 2, (0.0, 5.0), (("s1", 2.0), ("s2", 2.0)), hh.SIMULTANEOUS),
    )
    carers = (hh.Caregiver("c1", frozenset({"s1", "s2"})), hh.Caregiver("c2", frozenset({"s2"})))
    return hh.Instance("toy", patients, carers, travel, "hand")


def test_score_of_hand_made_solution() -> None:
    # c1: depot -3-> A at 3 (ends 8) -4-> B/s1 at 12 -6-> depot; c2: depot -6-> B/s2 at 12.
    routes = {"c1": [("A", "s1", 3.0), ("B", "s1", 12.0)], "c2": [("B", "s2", 12.0)]}
    score = hh.score_routes(_toy(), routes)
    assert score.feasible, score.problems
    assert score.travel == pytest.approx(13 + 12)
    assert score.total_tardiness == pytest.approx(7 + 7)
    assert score.max_tardiness == pytest.approx(7)
    assert score.objective == pytest.approx((25 + 14 + 7) / 3)


@pytest.mark.parametrize(
    ("routes", "problem"),
    [
        ({"c1": [("A", "s1", 3.0), ("B", "s1", 12.0)], "c2": [("B", "s2", 13.0)]}, "simultaneous"),
        ({"c1": [("A", "s1", 2.0), ("B", "s1", 12.0)], "c2": [("B", "s2", 12.0)]}, "cannot reach"),
        ({"c1": [("A", "s1", 3.0)], "c2": [("B", "s2", 12.0)]}, "not served"),
        (
            {"c1": [("B", "s2", 12.0)], "c2": [("B", "s1", 12.0), ("A", "s1", 30.0)]},
            "not qualified",
        ),
        (
            {"c1": [("A", "s1", 3.0), ("B", "s1", 12.0), ("B", "s2", 12.0)], "c2": []},
            "one caregiver",
        ),
    ],
)
def test_scorer_catches_broken_rules(routes: dict, problem: str) -> None:
    score = hh.score_routes(_toy(), routes)
    assert not score.feasible
    assert any(problem in p for p in score.problems), score.problems


def test_sequential_gap_is_checked_in_order() -> None:
    inst = _toy()
    seq = hh.Patient("B", 2, (0.0, 50.0), (("s1", 2.0), ("s2", 2.0)), hh.SEQUENTIAL, (5.0, 8.0))
    inst = hh.Instance("toy", (inst.patients[0], seq), inst.caregivers, inst.travel, "hand")
    ok = {"c1": [("A", "s1", 3.0), ("B", "s1", 12.0)], "c2": [("B", "s2", 18.0)]}
    early = {"c1": [("A", "s1", 3.0), ("B", "s1", 12.0)], "c2": [("B", "s2", 10.0)]}
    assert hh.score_routes(inst, ok).feasible
    assert any("sequential" in p for p in hh.score_routes(inst, early).problems)


def test_best_published_takes_the_lowest(shared_data: Path) -> None:
    results = hh.published_results(shared_data / "hhcrsp" / "results")
    best, source = hh.best_published("InstanzCPLEX_HCSRP_10_1", results)
    assert best == pytest.approx(218.199)
    assert source == "ceschia2024_mankowska_best.csv:total_cost"
    assert len(results["InstanzCPLEX_HCSRP_10_1"]) >= 6  # several tables, matched by letter A1
    best_it, _ = hh.best_published("instance_003-rome-r19-p44-s4-sim22.3-seq22.9", results)
    assert best_it == pytest.approx(365.667)


def test_solve_smoke_feasible(mankowska: hh.Instance) -> None:
    import hhcrsp
    from carerun.solve import plan_day

    adapted = hh.adapt_instance(mankowska)
    plan = plan_day(adapted.roster, adapted.matrix, 0, hhcrsp.solve_params(2.0, 0))
    score = hh.score_routes(mankowska, hh.routes_from_plan(adapted, plan))
    assert score.feasible, score.problems
    assert score.objective >= 218.199 - 0.01  # no better than the proven optimum


def test_run_record_sets_the_plan_against_every_published_result(shared_data: Path) -> None:
    import hhcrsp

    results = hh.published_results(shared_data / "hhcrsp" / "results")
    record = hhcrsp.run_instance(shared_data / MANKOWSKA_10_1, hhcrsp.solve_params(1.0, 0), results)
    published = record["published"]
    assert published == results["InstanzCPLEX_HCSRP_10_1"]
    assert published[record["best_source"]] == record["best_published"] == min(published.values())
    assert "kummer2021_brkga_mp_ipr_tableC3_A1.csv:brkga_mp_ipr_best" in published


def test_sequential_services_go_to_two_caregivers() -> None:
    # c1 could do both of B's services, 5-8 units apart, in one trip; the published model
    # needs a second caregiver, so c2 (the only other one able) must do s2.
    import hhcrsp
    from carerun.solve import plan_day

    toy = _toy()
    seq = hh.Patient("B", 2, (0.0, 50.0), (("s1", 2.0), ("s2", 2.0)), hh.SEQUENTIAL, (5.0, 8.0))
    inst = hh.Instance("toy", (toy.patients[0], seq), toy.caregivers, toy.travel, "hand")
    adapted = hh.adapt_instance(inst)
    plan = plan_day(adapted.roster, adapted.matrix, 0, hhcrsp.solve_params(1.0, 0))
    routes = hh.routes_from_plan(adapted, plan)
    assert hh.score_routes(inst, routes).feasible, hh.score_routes(inst, routes).problems
    assert [(p, s) for p, s, _ in routes["c2"]] == [("B", "s2")]


def test_repeated_runs_report_the_median_feasible_first() -> None:
    import hhcrsp

    def run(objective: float, feasible: bool = True) -> dict[str, object]:
        return {"objective": objective, "feasible": feasible}

    assert hhcrsp.median_run([run(3.0), run(1.0), run(2.0)])["objective"] == 2.0
    # An infeasible run ranks last however low its objective.
    assert hhcrsp.median_run([run(0.5, False), run(2.0), run(3.0)])["objective"] == 3.0
    assert hhcrsp.median_run([run(4.0), run(1.0)])["objective"] == 1.0
