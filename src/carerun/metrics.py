"""Travel KPIs of any plan: the as-is allocation or an optimised plan, measured alike.

Terms (see the design's *Terms*):

- **travel**: door-to-door minutes from base to the first visit, between visits, and from the
  last visit back to base;
- **contact**: visit minutes; a double-handed visit counts once for each of its carers;
- **paid time**: a carer-day from leaving base to getting home (travel + contact + waiting);
- **travel per contact hour**: travel minutes divided by contact hours, the headline figure of a
  travel study;
- **lateness**: minutes a visit starts after the latest start its window allows (planned time
  plus tolerance); **delay**: minutes after the planned time, for visits that have one;
- **impossible gap**: two consecutive visits of a carer where the time between the end of one
  and the planned start of the next is shorter than the travel between them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from carerun.asis import planned_start
from carerun.matrix import TravelMatrix
from carerun.model import DAY_NAMES, Plan, Roster, day_name, format_time

TRAVEL_COLUMNS = [
    "carer_id",
    "provider",
    "day",
    "visits",
    "travel_min",
    "distance_km",
    "contact_min",
    "waiting_min",
    "paid_min",
    "travel_per_contact_hour",
    "travel_share_of_paid_time",
]
_SUMS = ["visits", "travel_min", "distance_km", "contact_min", "waiting_min", "paid_min"]

GAP_COLUMNS = [
    "carer_id",
    "provider",
    "day",
    "from_visit",
    "from_client",
    "to_visit",
    "to_client",
    "from_end",
    "to_start",
    "gap_min",
    "travel_min",
    "shortfall_min",
]


def travel_table(roster: Roster, plan: Plan) -> pd.DataFrame:
    """Travel, contact and paid time of every carer-day of `plan`.

    Returns
    -------
    pandas.DataFrame
        One row per carer per day worked, in carer then day order, with the columns
        ``carer_id``, ``provider`` (the carer's), ``day`` (``Mon`` … ``Sun``), ``visits``,
        ``travel_min``, ``distance_km``, ``contact_min``, ``waiting_min``, ``paid_min`` (leaving
        base to getting home), ``travel_per_contact_hour`` and ``travel_share_of_paid_time``.
    """
    rows = []
    for (cid, day), run in plan.routes().items():
        carer = roster.carer(cid)
        travel = sum(a.travel_before for a in run) + plan.travel_home.get((cid, day), 0)
        metres = sum(a.distance_before for a in run) + plan.distance_home.get((cid, day), 0.0)
        contact = sum(roster.visit(a.visit_id).duration for a in run)
        last_end = max(a.start + roster.visit(a.visit_id).duration for a in run)
        left_base = run[0].start - run[0].travel_before
        paid = last_end + plan.travel_home.get((cid, day), 0) - left_base
        rows.append(
            {
                "carer_id": cid,
                "provider": carer.provider,
                "day": day,
                "visits": len(run),
                "travel_min": travel / 60,
                "distance_km": metres / 1000,
                "contact_min": contact / 60,
                # Paid time less travel and contact: idle time between visits.
                "waiting_min": max(paid - travel - contact, 0) / 60,
                "paid_min": paid / 60,
            }
        )
    table = pd.DataFrame(rows, columns=TRAVEL_COLUMNS[:-2])
    table = table.sort_values(["carer_id", "day"], kind="stable").reset_index(drop=True)
    table["day"] = [day_name(int(d)) for d in table["day"]]
    return _with_ratios(table)


def working_seconds(roster: Roster, plan: Plan, matrix: TravelMatrix) -> dict[tuple[str, int], int]:
    """Working seconds of each carer-day of `plan`, keyed ``(carer_id, day)``: for each shift
    worked, from leaving base for its first visit to getting back after its last, as the
    weekly and daily maximum working times count it (the gap between split shifts is not
    work)."""
    out: dict[tuple[str, int], int] = {}
    for (cid, day), run in plan.routes().items():
        carer = roster.carer(cid)
        by_shift: dict[int, list[int]] = {}
        shifts = carer.shifts_on(day)
        for n, a in enumerate(run):
            k = next((i for i, s in enumerate(shifts) if s.start <= a.start <= s.end), 0)
            by_shift.setdefault(k, []).append(n)
        for idx in by_shift.values():
            first, last = run[idx[0]], run[idx[-1]]
            visit = roster.visit(last.visit_id)
            home = matrix.time(carer.mode, visit.location, carer.base)
            begin = first.start - first.travel_before
            out[cid, day] = out.get((cid, day), 0) + last.start + visit.duration + home - begin
    return out


def travel_by_carer(table: pd.DataFrame) -> pd.DataFrame:
    """Per carer over the week, from a :func:`travel_table`; ``days`` counts days worked."""
    out = table.groupby(["carer_id", "provider"], sort=True).agg(
        days=("day", "nunique"), **{c: (c, "sum") for c in _SUMS}
    )
    return _with_ratios(out.reset_index())


def travel_by_provider(table: pd.DataFrame, roster: Roster) -> pd.DataFrame:
    """Per provider, from a :func:`travel_table`, with the provider's ``kind`` and ``carers``
    (distinct carers used) and ``carer_days``; every provider of the roster has a row."""
    grouped = table.groupby("provider", sort=True).agg(
        carers=("carer_id", "nunique"),
        carer_days=("carer_id", "size"),
        **{c: (c, "sum") for c in _SUMS},
    )
    names = [p.provider for p in roster.providers]
    out = grouped.reindex(sorted(set(names) | set(grouped.index)), fill_value=0)
    out.index.name = "provider"
    out = out.reset_index()
    kinds = {p.provider: p.kind.value for p in roster.providers}
    out.insert(1, "kind", [kinds.get(p, "") for p in out["provider"]])
    return _with_ratios(out)


def travel_by_day(table: pd.DataFrame) -> pd.DataFrame:
    """Per day of the week, from a :func:`travel_table`, Monday first."""
    out = table.groupby("day", sort=False).agg(
        carers=("carer_id", "nunique"), **{c: (c, "sum") for c in _SUMS}
    )
    out = out.reset_index()
    out = out.iloc[np.argsort([DAY_NAMES.index(d) for d in out["day"]], kind="stable")]
    return _with_ratios(out.reset_index(drop=True))


def _with_ratios(table: pd.DataFrame) -> pd.DataFrame:
    table = table.copy()
    contact_h = table["contact_min"].astype(float) / 60
    paid = table["paid_min"].astype(float)
    travel = table["travel_min"].astype(float)
    table["travel_per_contact_hour"] = travel.div(contact_h.where(contact_h > 0))
    table["travel_share_of_paid_time"] = travel.div(paid.where(paid > 0))
    return table


def lateness_table(roster: Roster, plan: Plan) -> pd.DataFrame:
    """Per assigned visit: its start in `plan` (the later carer's, for a double-handed visit),
    ``late_min`` past the latest start its window allows, and ``delay_min`` past its planned
    time (zero when it has none)."""
    starts: dict[str, int] = {}
    for a in plan.assignments:
        starts[a.visit_id] = max(starts.get(a.visit_id, a.start), a.start)
    rows = []
    for vid, start in starts.items():
        v = roster.visit(vid)
        delay = 0 if v.planned_start is None else max(start - v.planned_start, 0)
        rows.append(
            {
                "visit_id": vid,
                "day": day_name(v.day),
                "start": start,
                "late_min": max(start - v.window.end, 0) / 60,
                "delay_min": delay / 60,
            }
        )
    return pd.DataFrame(rows, columns=["visit_id", "day", "start", "late_min", "delay_min"])


def plan_kpis(roster: Roster, plan: Plan) -> dict[str, Any]:
    """The headline figures of `plan`, JSON-ready.

    Keys: ``label``, ``travel_min``, ``distance_km``, ``contact_hours``, ``paid_hours``,
    ``travel_per_contact_hour`` (travel minutes per contact hour), ``travel_share_of_paid_time``
    (0–1), ``visits_assigned``, ``visits_unassigned``, ``carers_used``, ``carer_days``,
    ``late_visits``, ``lateness_min_total``, ``lateness_min_max``, ``delayed_visits``,
    ``delay_min_total``, ``delay_min_max``. A ratio with nothing to divide by is ``None``.
    """
    table = travel_table(roster, plan)
    late = lateness_table(roster, plan)
    travel = float(table["travel_min"].sum())
    contact_h = float(table["contact_min"].sum()) / 60
    paid = float(table["paid_min"].sum())
    return {
        "label": plan.label,
        "travel_min": round(travel, 2),
        "distance_km": round(float(table["distance_km"].sum()), 3),
        "contact_hours": round(contact_h, 3),
        "paid_hours": round(paid / 60, 3),
        "travel_per_contact_hour": _ratio(travel, contact_h),
        "travel_share_of_paid_time": _ratio(travel, paid, digits=4),
        "visits_assigned": int(late.shape[0]),
        "visits_unassigned": len(plan.unassigned),
        "carers_used": int(table["carer_id"].nunique()),
        "carer_days": int(table.shape[0]),
        "late_visits": int((late["late_min"] > 0).sum()),
        "lateness_min_total": round(float(late["late_min"].sum()), 2),
        "lateness_min_max": round(float(late["late_min"].max()) if len(late) else 0.0, 2),
        "delayed_visits": int((late["delay_min"] > 0).sum()),
        "delay_min_total": round(float(late["delay_min"].sum()), 2),
        "delay_min_max": round(float(late["delay_min"].max()) if len(late) else 0.0, 2),
    }


def _ratio(a: float, b: float, *, digits: int = 2) -> float | None:
    return round(a / b, digits) if b > 0 else None


def compare_kpis(before: dict[str, Any], after: dict[str, Any]) -> dict[str, float | None]:
    """``after - before`` for every numeric KPI the two share (``None`` where either is)."""
    out: dict[str, float | None] = {}
    for key, b in before.items():
        a = after.get(key)
        if isinstance(b, bool) or isinstance(a, bool) or isinstance(b, str):
            continue
        if key in after:
            out[key] = None if a is None or b is None else round(float(a) - float(b), 4)
    return out


def impossible_gaps(
    roster: Roster, plan: Plan, matrix: TravelMatrix, *, planned: bool = True
) -> pd.DataFrame:
    """Consecutive visits of a carer where the gap is shorter than the travel between them.

    Parameters
    ----------
    roster, plan
        The week and who does what in which order.
    matrix
        Travel times, for each carer's mode.
    planned
        Measure the gap on the roster's planned times (each visit's planned start, else its
        window's start: what the carer is asked to do, the usual question of an as-is study);
        ``False`` uses the plan's own starts.

    Returns
    -------
    pandas.DataFrame
        One row per impossible pair: ``carer_id``, ``provider``, ``day``, ``from_visit``,
        ``from_client``, ``to_visit``, ``to_client``, ``from_end`` and ``to_start`` (HH:MM),
        ``gap_min``, ``travel_min`` and ``shortfall_min`` (travel less gap).
    """
    rows = []
    for (cid, day), run in plan.routes().items():
        carer = roster.carer(cid)
        visits = [roster.visit(a.visit_id) for a in run]
        begins = [planned_start(v) for v in visits] if planned else [a.start for a in run]
        if planned:
            order = sorted(range(len(run)), key=lambda i: (begins[i], visits[i].visit_id))
            visits, begins = [visits[i] for i in order], [begins[i] for i in order]
        for i in range(len(visits) - 1):
            a, b = visits[i], visits[i + 1]
            end = begins[i] + a.duration
            gap = begins[i + 1] - end
            travel = matrix.time(carer.mode, a.location, b.location)
            if gap < travel:
                rows.append(
                    {
                        "carer_id": cid,
                        "provider": carer.provider,
                        "day": day_name(day),
                        "from_visit": a.visit_id,
                        "from_client": a.client_id,
                        "to_visit": b.visit_id,
                        "to_client": b.client_id,
                        "from_end": format_time(end),
                        "to_start": format_time(begins[i + 1]),
                        "gap_min": gap / 60,
                        "travel_min": travel / 60,
                        "shortfall_min": (travel - gap) / 60,
                    }
                )
    return pd.DataFrame(rows, columns=GAP_COLUMNS)


def format_provider_table(by_provider: pd.DataFrame, kpis: dict[str, Any]) -> str:
    """A short fixed-width table for the terminal: per provider and in total, carers, carer
    visits, travel hours, travel minutes per contact hour and share of paid time travelling."""
    head = (
        f"{'provider':<16} {'kind':<9} {'carers':>6} {'visits':>7} {'travel h':>9}"
        f" {'min/contact h':>13} {'% paid travel':>13}"
    )
    rule = "-" * len(head)
    lines = [head, rule]
    for r in by_provider.to_dict("records"):
        lines.append(
            _table_line(
                str(r["provider"]),
                str(r["kind"]),
                r["carers"],
                r["visits"],
                r["travel_min"],
                r["travel_per_contact_hour"],
                r["travel_share_of_paid_time"],
            )
        )
    lines.append(rule)
    lines.append(
        _table_line(
            "total",
            "",
            kpis["carers_used"],
            by_provider["visits"].sum(),
            kpis["travel_min"],
            kpis["travel_per_contact_hour"],
            kpis["travel_share_of_paid_time"],
        )
    )
    return "\n".join(lines)


def _table_line(
    name: str, kind: str, carers: Any, visits: Any, travel_min: Any, per_hour: Any, share: Any
) -> str:
    share_pct = None if _missing(share) else 100 * float(share)
    return (
        f"{name[:16]:<16} {kind:<9} {int(carers):>6} {int(visits):>7}"
        f" {float(travel_min) / 60:>9.1f} {_fmt(per_hour):>13} {_fmt(share_pct):>13}"
    )


def _missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _fmt(x: Any) -> str:
    return "-" if _missing(x) else f"{float(x):.1f}"
