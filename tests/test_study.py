"""Studies: scenarios side by side, locally, on a LocalCluster that loses a worker, and on a
scheduler started separately (all on loopback, on the embedded Helsinki network)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from carerun._errors import InputError
from carerun.cli import main
from carerun.examples import example_roster_path
from carerun.network import default_network
from carerun.roster import read_roster
from carerun.study import read_study, results_table, run_scenario, run_study, study_matrix

STUDY = """
[study]
name = "Helsinki what-ifs"
roster = "{roster}"
osm = "default"
time_limit = 1
seed = 1

[[scenario]]
name = "as it stands"
run = "asis"

[[scenario]]
name = "without provider P3"
run = "asis"
drop_provider = "{dropped}"

[[scenario]]
name = "everyone walks"
run = "asis"
change_mode = {{ mode = "walk" }}
"""


@pytest.fixture(scope="module")
def network():  # type: ignore[no-untyped-def]
    return default_network()


@pytest.fixture(scope="module")
def roster():  # type: ignore[no-untyped-def]
    return read_roster(example_roster_path())


@pytest.fixture
def study_file(tmp_path: Path, roster) -> Path:  # type: ignore[no-untyped-def]
    dropped = sorted(p.provider for p in roster.providers)[-1]
    path = tmp_path / "study.toml"
    path.write_text(STUDY.format(roster=example_roster_path(), dropped=dropped))
    return path


def test_read_study_resolves_paths_and_scenarios(study_file: Path) -> None:
    study = read_study(study_file)
    assert [s.name for s in study.scenarios] == [
        "as it stands",
        "without provider P3",
        "everyone walks",
    ]
    assert study.osm == "default" and study.time_limit == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[study]\nroster='x'\n", "needs `osm`"),
        ("[study]\nroster='x'\nosm='default'\n", "no [[scenario]]"),
        ("[study]\nroster='x'\nosm='default'\ncolour='red'\n", "unknown key"),
        ("[study\n", "not valid TOML"),
        (
            "[study]\nroster='x'\nosm='default'\n[[scenario]]\nname='a'\n[[scenario]]\nname='a'\n",
            "distinct",
        ),
    ],
)
def test_bad_study_files_are_clear_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(InputError, match=message.replace("[", r"\[")):
        read_study(path)


def test_scenarios_change_the_figures(study_file: Path, roster, network) -> None:  # type: ignore[no-untyped-def]
    results = run_study(read_study(study_file), roster=roster, network=network)
    table = results_table(results)
    assert list(table["scenario"]) == ["as it stands", "without provider P3", "everyone walks"]
    base, dropped, walking = (r.kpis for r in results)
    assert dropped["carers"] < base["carers"]
    assert dropped["visits_unassigned"] > base["visits_unassigned"]
    # The same runs on foot take longer than by car, on the same roads.
    assert walking["travel_min"] > base["travel_min"]
    assert table["travel_per_contact_hour_change_pct"].iloc[0] == 0


def test_plan_scenario_runs_the_optimiser(roster, network) -> None:  # type: ignore[no-untyped-def]
    from carerun.scenarios import Scenario

    one_day = roster.replace(visits=roster.visits_on(0))
    scenario = Scenario("plan Monday")
    matrix = study_matrix(one_day, [scenario], network)
    result = run_scenario(scenario, roster=one_day, matrix=matrix, time_limit=1, seed=1)
    asis = run_scenario(
        Scenario("asis", run="asis"), roster=one_day, matrix=matrix, time_limit=1, seed=1
    )
    assert result.kpis["travel_min"] <= asis.kpis["travel_min"]


def test_study_on_local_cluster_with_a_worker_killed(study_file: Path, roster, network) -> None:  # type: ignore[no-untyped-def]
    from carerun.parallel import _run_on_client, dask_client

    study = read_study(study_file)
    matrix = study_matrix(roster, study.scenarios, network)
    local = run_study(study, roster=roster, network=network)
    killed: list[int] = []
    with dask_client(workers=2) as client:
        pids = list(client.run(os.getpid).values())

        def kill_first(done: int, total: int, label: str) -> None:
            if not killed:
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])

        shared = {"roster": roster, "matrix": matrix, "time_limit": 1.0, "seed": 1}
        names = [s.name for s in study.scenarios]
        remote = _run_on_client(
            client, run_scenario, list(study.scenarios), shared, 3, names, kill_first
        )
    assert killed
    assert [r.name for r in remote] == names
    assert [dict(r.kpis) for r in remote] == [dict(r.kpis) for r in local]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def separate_scheduler(tmp_path: Path) -> Iterator[str]:
    """A Dask scheduler and one worker started as their own processes, on loopback."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    bindir = Path(sys.executable).parent
    dask = shutil.which("dask", path=str(bindir)) or "dask"
    procs = [
        subprocess.Popen(
            [dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
    ]
    time.sleep(3)
    procs.append(
        subprocess.Popen(
            [
                dask,
                "worker",
                address,
                "--nworkers",
                "1",
                "--nthreads",
                "1",
                "--no-dashboard",
                "--local-directory",
                str(tmp_path),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    )
    try:
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            p.wait(timeout=30)


def test_study_cli_on_a_separately_started_scheduler(
    study_file: Path, tmp_path: Path, separate_scheduler: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = main(["study", str(study_file), "--out", str(out), "--scheduler", separate_scheduler])
    assert code == 0
    printed = capsys.readouterr().out
    assert "everyone walks" in printed
    for name in ("scenarios.csv", "scenarios.json", "scenarios.html", "scenarios.png"):
        assert (out / name).stat().st_size > 0
    assert (out / "scenarios" / "as-it-stands" / "assignments.csv").exists()


def test_unreachable_scheduler_exits_2(
    study_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "study",
            str(study_file),
            "--out",
            str(tmp_path / "o"),
            "--scheduler",
            f"tcp://127.0.0.1:{_free_port()}",
        ]
    )
    assert code == 2
    assert "cannot reach the Dask scheduler" in capsys.readouterr().err
