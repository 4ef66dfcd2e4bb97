"""`carerun analyse` and `carerun plan`: the as-is study and the plan folder from the CLI.

The by-hand figures use a hand-written matrix; the end-to-end runs read a small roster on the
real Leeds OpenStreetMap extract in ../shared/data/osm (see its PROVENANCE.md: © OpenStreetMap
contributors, ODbL), skipped where that data is absent.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from carerun.asis import asis_plan
from carerun.cli import _parse_days, main
from carerun.outputs import write_travel_study
from test_asis import make_matrix, three_visit_roster

VISITS = """\
visit_id,client_id,day,start,duration_min,carers_required,lat,lon,address,carer_id,provider,tasks
v1,cl1,Mon,09:00,30,1,53.8080,-1.5600,1 Woodhouse Ln,c1,P1,breakfast
v2,cl2,Mon,09:40,45,1,53.8100,-1.5520,2 Clarendon Rd,c1,P1,meds
v3,cl3,Mon,10:45,30,2,53.8065,-1.5650,3 Hyde Park,c1;c2,P1,hoist
v4,=cmd|' /C calc'!A0,Mon,12:30,30,1,53.8080,-1.5600,1 Woodhouse Ln,c2,P2,lunch
v5,cl4,Tue,10:00,30,1,53.8110,-1.5580,4 Cromer Tce,,,
"""
CARERS = """\
carer_id,provider,mode,lat,lon,mon,tue
c1,P1,drive,53.8070,-1.5620,07:00-14:00,07:00-14:00
c2,P2,walk,53.8090,-1.5540,07:00-14:00,
"""
PROVIDERS = "provider,name,kind\nP1,Council,in-house\nP2,Agency,external\n"


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_three_visit_study_by_hand(tmp_path: Path) -> None:
    roster = three_visit_roster()
    matrix = make_matrix()
    kpis, _ = write_travel_study(roster, asis_plan(roster, matrix), matrix, tmp_path)
    # base→A 600 s + A→B 300 s + B→C 420 s + C→base 900 s = 37 min; 105 min of contact.
    assert kpis["travel_min"] == 37.0
    assert kpis["travel_per_contact_hour"] == 21.14
    (row,) = read_csv(tmp_path / "travel_by_carer.csv")
    assert (row["carer_id"], row["travel_min"], row["contact_min"]) == ("c1", "37.0", "105.0")
    assert row["travel_per_contact_hour"] == "21.14"
    assert read_csv(tmp_path / "impossible_gaps.csv") == []


@pytest.mark.parametrize(
    ("option", "value", "named"),
    [
        ("--portfolio", "0", "portfolio"),
        ("--days", "Mon,Funday", "Funday"),
        ("--solution-limit", "0", "solution_limit"),
    ],
)
def test_bad_plan_option_is_a_plain_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, value: str, named: str
) -> None:
    out = str(tmp_path / "o")
    assert main(["plan", str(tmp_path), "--osm", "x.osm.pbf", "--out", out, option, value]) == 2
    err = capsys.readouterr().err
    assert named in err and "Traceback" not in err


def test_parse_days() -> None:
    assert _parse_days("Mon,tue, Sunday") == [0, 1, 6]
    assert _parse_days("wed,Wed") == [2]


@pytest.fixture(scope="module")
def leeds_roster(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("roster")
    for name, text in (("visits", VISITS), ("carers", CARERS), ("providers", PROVIDERS)):
        (folder / f"{name}.csv").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def isolated_cache(cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from carerun import settings

    monkeypatch.setattr(settings, "cache_folder", cache)
    return cache


def test_analyse_on_real_roads(
    leeds_pbf: Path,
    leeds_roster: Path,
    isolated_cache: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from carerun.matrix import roster_matrix
    from carerun.network import load_network
    from carerun.roster import read_roster

    before = {p.name: p.read_bytes() for p in leeds_roster.iterdir()}
    out = tmp_path / "study"
    assert main(["analyse", str(leeds_roster), "--osm", str(leeds_pbf), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "Loading roads" in captured.err and "Computing travel times" in captured.err
    assert "P1" in captured.out and "total" in captured.out
    assert sorted(p.name for p in out.iterdir()) == [
        "coverage.gpkg",
        "duplicates.csv",
        "exceptions.csv",
        "figures",
        "impossible_gaps.csv",
        "map.html",
        "report.html",
        "summary.json",
        "travel_by_carer.csv",
        "travel_by_day.csv",
        "travel_by_provider.csv",
    ]
    assert {p.name: p.read_bytes() for p in leeds_roster.iterdir()} == before  # input untouched

    # The same travel worked out leg by leg from the road matrix.
    roster = read_roster(leeds_roster)
    m = roster_matrix(load_network(leeds_pbf), roster)
    v = {x.visit_id: x.location for x in roster.visits}
    c1, c2 = roster.carer("c1"), roster.carer("c2")
    legs = [
        m.time(c1.mode, a, b)
        for a, b in [(c1.base, v["v1"]), (v["v1"], v["v2"]), (v["v2"], v["v3"]), (v["v3"], c1.base)]
    ] + [
        m.time(c2.mode, a, b)
        for a, b in [(c2.base, v["v3"]), (v["v3"], v["v4"]), (v["v4"], c2.base)]
    ]
    kpis = json.loads((out / "summary.json").read_text(encoding="utf-8"))["kpis"]
    assert kpis["travel_min"] == pytest.approx(sum(legs) / 60, abs=0.01)
    assert kpis["contact_hours"] == pytest.approx((30 + 45 + 30 + 30 + 30) / 60, abs=1e-3)
    assert kpis["visits_unassigned"] == 1  # v5 has no carer today
    by_provider = read_csv(out / "travel_by_provider.csv")
    assert [(r["provider"], r["kind"]) for r in by_provider] == [
        ("P1", "in-house"),
        ("P2", "external"),
    ]


def test_plan_writes_a_checked_plan_folder(
    leeds_pbf: Path,
    leeds_roster: Path,
    isolated_cache: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "plan"
    code = main(
        [
            "plan",
            str(leeds_roster),
            "--osm",
            str(leeds_pbf),
            "--out",
            str(out),
            "--days",
            "Mon",
            "--time-limit",
            "1",
            "--seed",
            "3",
            "--portfolio",
            "2",
        ]
    )
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "assignments.csv",
        "coverage.gpkg",
        "duplicates.csv",
        "exceptions.csv",
        "figures",
        "map.html",
        "report.html",
        "runsheets.html",
        "runsheets.xlsx",
        "summary.json",
        "unassigned.csv",
    ]
    assert "as-is" in capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["before"]["label"] == "as-is"
    assert summary["after"]["visits_assigned"] + summary["after"]["visits_unassigned"] == 4
    assert summary["extra"]["params"]["seed"] == 3
    assert summary["extra"]["params"]["portfolio"] == 2
    rows = read_csv(out / "assignments.csv")
    assert {r["day"] for r in rows} == {"Mon"}
    assert all(not r["client_id"].startswith("=") for r in rows)
    double = [r for r in rows if r["visit_id"] == "v3"]
    assert len(double) in (0, 2) and len({r["start"] for r in double}) <= 1


def test_plan_with_a_solution_limit_repeats_exactly(
    leeds_pbf: Path, leeds_roster: Path, isolated_cache: Path, tmp_path: Path
) -> None:
    def run(out: Path) -> bytes:
        args = ["plan", str(leeds_roster), "--osm", str(leeds_pbf), "--out", str(out)]
        args += ["--days", "Mon", "--seed", "5", "--solution-limit", "3", "--portfolio", "2"]
        assert main(args) == 0
        summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
        assert summary["extra"]["params"]["solution_limit"] == 3
        return (out / "assignments.csv").read_bytes()

    assert run(tmp_path / "a") == run(tmp_path / "b")


def test_missing_roster_is_a_plain_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["analyse", str(tmp_path / "nope"), "--osm", "default", "--out", str(tmp_path)])
    assert code == 2
    assert "Traceback" not in capsys.readouterr().err
