"""run_tasks locally and on a real Dask LocalCluster (two worker processes on loopback)."""

from __future__ import annotations

import os
import signal
import time

import pytest

from carerun._errors import InputError
from carerun.parallel import dask_client, run_tasks


def scaled(item: int, *, factor: int) -> tuple[int, int]:
    time.sleep(0.3)
    return item, item * factor


def test_local_loop_keeps_order_and_reports_progress() -> None:
    seen: list[tuple[int, int, str]] = []
    out = run_tasks(
        scaled,
        [3, 1, 2],
        shared={"factor": 10},
        labels=["a", "b", "c"],
        progress=lambda d, t, label: seen.append((d, t, label)),
    )
    assert out == [(3, 30), (1, 10), (2, 20)]
    assert seen == [(1, 3, "a"), (2, 3, "b"), (3, 3, "c")]


def test_workers_must_be_positive() -> None:
    with pytest.raises(InputError, match="workers"):
        run_tasks(scaled, [1], shared={"factor": 1}, workers=0)


def test_unreachable_scheduler_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="cannot reach the Dask scheduler"):
        run_tasks(scaled, [1], shared={"factor": 1}, scheduler="tcp://127.0.0.1:9")


def test_local_cluster_survives_a_worker_killed_mid_run() -> None:
    items = list(range(10))
    killed: list[int] = []

    with dask_client(workers=2) as client:
        pids = list(client.run(os.getpid).values())
        assert len(pids) == 2

        def kill_one(done: int, total: int, label: str) -> None:
            if not killed:
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])

        from carerun.parallel import _run_on_client

        out = _run_on_client(
            client, scaled, items, {"factor": 3}, 3, [str(i) for i in items], kill_one
        )
    assert killed
    # Every task's result exactly once, in input order.
    assert out == [(i, 3 * i) for i in items]
