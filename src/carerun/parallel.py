"""Run independent tasks in this process or on a Dask cluster.

Sub-problems of a weekly plan and scenarios of a study are independent tasks that read the same
large objects (road graphs, travel matrices). :func:`run_tasks` sends those shared objects to the
workers once (``Client.scatter(..., broadcast=True)``) and passes references to each task, so they
are not pickled again per task. Tasks are submitted with retries: when a worker dies mid-task the
scheduler runs it again elsewhere, and a task it cancels instead is submitted again (as many
times). Results come back in input order, exactly one per task.

Parallelism
-----------
- ``workers=1`` and no ``scheduler``: plain loop in this process (the default; no Dask start-up).
- ``workers=N``: a temporary ``LocalCluster`` of N single-threaded worker *processes* on loopback
  (OR-Tools routing is single-threaded, so processes, not threads, give the speed-up).
- ``scheduler="tcp://host:8786"``: an existing cluster; carerun must be importable on its workers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from carerun._errors import InputError

T = TypeVar("T")
R = TypeVar("R")

Progress = Callable[[int, int, str], None]
"""Called as ``progress(done, total, label)`` after each task finishes."""

DEFAULT_RETRIES = 3


def run_tasks(
    func: Callable[..., R],
    items: Sequence[T],
    *,
    shared: Mapping[str, Any] | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    retries: int = DEFAULT_RETRIES,
    labels: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> list[R]:
    """Call ``func(item, **shared)`` for every item; return the results in input order.

    Parameters
    ----------
    func
        A module-level function (it is pickled to the workers).
    items
        One task each.
    shared
        Keyword arguments common to every task, sent to each worker once.
    workers
        Worker processes for a local cluster; 1 runs in this process.
    scheduler
        Address of an existing Dask scheduler; overrides `workers`.
    retries
        Times a task is re-run after its worker dies.
    labels
        A name per task for progress messages.
    progress
        Callback after each finished task.
    """
    if workers < 1:
        msg = f"`workers` must be at least 1, not {workers}"
        raise InputError(msg)
    shared = dict(shared or {})
    names = list(labels) if labels is not None else [str(i) for i in range(len(items))]
    if scheduler is None and workers == 1:
        results = []
        for i, item in enumerate(items):
            results.append(func(item, **shared))
            if progress:
                progress(i + 1, len(items), names[i])
        return results
    with dask_client(workers=workers, scheduler=scheduler) as client:
        return _run_on_client(client, func, items, shared, retries, names, progress)


@contextlib.contextmanager
def dask_client(*, workers: int = 2, scheduler: str | None = None) -> Iterator[Any]:
    """A Dask ``Client`` on `scheduler`, or on a temporary loopback ``LocalCluster``."""
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="10s")
        except OSError as exc:
            msg = f"cannot reach the Dask scheduler at {scheduler!r}: {exc}"
            raise InputError(msg) from None
        with client:
            yield client
        return
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def _run_on_client(
    client: Any,
    func: Callable[..., R],
    items: Sequence[T],
    shared: dict[str, Any],
    retries: int,
    names: list[str],
    progress: Progress | None,
) -> list[R]:
    from concurrent.futures import CancelledError

    from distributed import as_completed

    def share() -> dict[str, Any]:
        # One copy of each shared object per worker, not one per task.
        # Wrapped in a list: scatter() would spread a dict or list value out item by item.
        return {k: client.scatter([v], broadcast=True, hash=False)[0] for k, v in shared.items()}

    refs = share()

    def submit(i: int, attempt: int) -> Any:
        key = f"carerun-{i}-{names[i]}" + (f"-again{attempt}" if attempt else "")
        return client.submit(func, items[i], **refs, retries=retries, pure=False, key=key)

    futures = [submit(i, 0) for i in range(len(items))]
    position = {f.key: (i, 0) for i, f in enumerate(futures)}
    pending = as_completed(futures)
    results: dict[int, R] = {}
    for future in pending:
        i, attempt = position[future.key]
        try:
            results[i] = future.result()
        except CancelledError:
            # The scheduler may cancel a task whose worker died mid-task ("already forgotten",
            # seen with distributed 2026.8) rather than retry it: submit it again, under a new key.
            if attempt >= retries:
                raise
            # Or cancel it for "lost dependencies": the scheduler may count the shared objects
            # lost with the worker, so share them again first.
            refs.update(share())
            again = submit(i, attempt + 1)
            position[again.key] = (i, attempt + 1)
            pending.add(again)
            continue
        if progress:
            progress(len(results), len(items), names[i])
    return [results[i] for i in range(len(items))]
