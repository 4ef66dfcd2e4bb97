"""Output folders: the as-is travel study and the plan folder (see the design, *Output*).

Every file is written atomically (a failure leaves any earlier file in place and no partial
one); text cells of CSV files go through :func:`~carerun._io.safe_cell`; inputs are never
touched. Tables are also available as DataFrames (:func:`assignments_frame`,
:func:`unassigned_frame`) for other tools.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from carerun import __version__, _io
from carerun._errors import InputError
from carerun._io import atomic_write
from carerun.matrix import TravelMatrix
from carerun.metrics import (
    compare_kpis,
    impossible_gaps,
    plan_kpis,
    travel_by_carer,
    travel_by_day,
    travel_by_provider,
    travel_table,
)
from carerun.model import Plan, Roster, day_name, format_time
from carerun.runsheets import write_runsheets_html, write_runsheets_xlsx

ASSIGNMENT_COLUMNS = [
    "visit_id",
    "client_id",
    "day",
    "carer_id",
    "provider",
    "start",
    "end",
    "window",
    "duration_min",
    "carers_required",
    "travel_before_min",
    "distance_before_km",
]
UNASSIGNED_COLUMNS = [
    "visit_id",
    "client_id",
    "day",
    "window",
    "duration_min",
    "carers_required",
    "priority",
    "reason",
]


def write_csv(frame: pd.DataFrame, path: str | Path, *, decimals: int = 2) -> Path:
    """Write `frame` to `path` atomically, text cells neutralised, floats rounded."""
    return _io.write_csv(frame, path, decimals=decimals)


def write_json(data: Mapping[str, Any], path: str | Path) -> Path:
    """Write `data` as indented JSON to `path` atomically; returns `path`."""
    path = Path(path)
    text = _dumps(data, path.name)
    with atomic_write(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    return path


def _dumps(data: Mapping[str, Any], name: str) -> str:
    try:
        return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    except (TypeError, ValueError) as exc:
        msg = f"cannot write {name}: {exc}"
        raise InputError(msg) from None


def write_travel_study(
    roster: Roster,
    plan: Plan,
    matrix: TravelMatrix,
    out_dir: str | Path,
    *,
    extra: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], list[Path]]:
    """The travel study of `plan` (usually the as-is): KPIs and the files written.

    Writes ``travel_by_carer.csv``, ``travel_by_provider.csv``, ``travel_by_day.csv``,
    ``impossible_gaps.csv`` (on the roster's planned times) and ``summary.json`` (the
    :func:`~carerun.metrics.plan_kpis` plus ``impossible_gaps``, the number of such pairs,
    and `extra` as given).
    """
    out = Path(out_dir)
    table = travel_table(roster, plan)
    gaps = impossible_gaps(roster, plan, matrix)
    kpis = plan_kpis(roster, plan)
    kpis["impossible_gaps"] = int(gaps.shape[0])
    paths = [
        write_csv(travel_by_carer(table), out / "travel_by_carer.csv"),
        write_csv(travel_by_provider(table, roster), out / "travel_by_provider.csv"),
        write_csv(travel_by_day(table), out / "travel_by_day.csv"),
        write_csv(gaps, out / "impossible_gaps.csv"),
        write_json(
            {"carerun": __version__, "roster": roster.name, "kpis": kpis, **dict(extra or {})},
            out / "summary.json",
        ),
    ]
    return kpis, paths


def assignments_frame(roster: Roster, plan: Plan) -> pd.DataFrame:
    """One row per carer per visit, day then carer then start order (``ASSIGNMENT_COLUMNS``)."""
    rows = []
    for (cid, day), run in sorted(plan.routes().items(), key=lambda kv: (kv[0][1], kv[0][0])):
        provider = roster.carer(cid).provider
        for a in run:
            v = roster.visit(a.visit_id)
            rows.append(
                {
                    "visit_id": v.visit_id,
                    "client_id": v.client_id,
                    "day": day_name(day),
                    "carer_id": cid,
                    "provider": provider,
                    "start": format_time(a.start),
                    "end": format_time(a.start + v.duration),
                    "window": str(v.window),
                    "duration_min": v.duration / 60,
                    "carers_required": v.carers_required,
                    "travel_before_min": a.travel_before / 60,
                    "distance_before_km": a.distance_before / 1000,
                }
            )
    return pd.DataFrame(rows, columns=ASSIGNMENT_COLUMNS)


def unassigned_frame(roster: Roster, plan: Plan) -> pd.DataFrame:
    """One row per visit `plan` leaves undone, with the reason (``UNASSIGNED_COLUMNS``)."""
    rows = []
    for u in plan.unassigned:
        v = roster.visit(u.visit_id)
        rows.append(
            {
                "visit_id": v.visit_id,
                "client_id": v.client_id,
                "day": day_name(v.day),
                "window": str(v.window),
                "duration_min": v.duration / 60,
                "carers_required": v.carers_required,
                "priority": v.priority,
                "reason": u.reason.value,
            }
        )
    return pd.DataFrame(rows, columns=UNASSIGNED_COLUMNS)


def plan_summary(
    roster: Roster,
    plan: Plan,
    *,
    asis: Plan | None = None,
    matrix: TravelMatrix | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """What ``summary.json`` holds: KPIs ``before`` (the as-is, when given), ``after`` (the
    plan) and ``difference`` (after - before), plus `extra` (e.g. solver settings) as given.
    With a `matrix`, each side also counts its ``impossible_gaps`` (the as-is on its planned
    times, the plan on its own)."""
    after = plan_kpis(roster, plan)
    before = None if asis is None else plan_kpis(roster, asis)
    if matrix is not None:
        gaps = impossible_gaps(roster, plan, matrix, planned=False)
        after["impossible_gaps"] = int(gaps.shape[0])
        if asis is not None and before is not None:
            before["impossible_gaps"] = int(impossible_gaps(roster, asis, matrix).shape[0])
    return {
        "carerun": __version__,
        "roster": roster.name,
        "week_start": None if roster.week_start is None else roster.week_start.isoformat(),
        "before": before,
        "after": after,
        "difference": None if before is None else compare_kpis(before, after),
        "plan_stats": dict(plan.stats),
        "extra": dict(extra or {}),
    }


def write_plan_folder(
    roster: Roster,
    plan: Plan,
    out_dir: str | Path,
    *,
    asis: Plan | None = None,
    matrix: TravelMatrix | None = None,
    extra: Mapping[str, Any] | None = None,
) -> list[Path]:
    """Write the plan folder: ``assignments.csv``, ``runsheets.xlsx``, ``runsheets.html``,
    ``unassigned.csv`` and ``summary.json`` (see :func:`plan_summary`).

    Parameters
    ----------
    roster, plan
        The week and the plan for it.
    out_dir
        Folder to write into (created when missing); other files in it are left alone.
    asis
        The as-is plan (:func:`~carerun.asis.asis_plan`) for the *before* KPIs.
    matrix
        Travel times, to count impossible gaps before and after.
    extra
        JSON-ready facts to keep with the summary (solver settings, seed, run time).

    Returns
    -------
    list[pathlib.Path]
        The files written.
    """
    out = Path(out_dir)
    # Build the summary first: a bad `extra` then fails before any file is replaced.
    summary = plan_summary(roster, plan, asis=asis, matrix=matrix, extra=extra)
    _dumps(summary, "summary.json")
    return [
        write_csv(assignments_frame(roster, plan), out / "assignments.csv"),
        write_runsheets_xlsx(roster, plan, out / "runsheets.xlsx"),
        write_runsheets_html(roster, plan, out / "runsheets.html"),
        write_csv(unassigned_frame(roster, plan), out / "unassigned.csv"),
        write_json(summary, out / "summary.json"),
    ]
