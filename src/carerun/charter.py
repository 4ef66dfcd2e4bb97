"""UNISON Ethical Care Charter and NICE QS123 checks on a roster and a plan.

- **Short visits** (Charter stage 1: no 15-minute visits for personal care): visits of 15
  minutes or less. One counts as *personal care* unless every skill and every ``;``/``,``
  separated task names only a medication prompt or a check (words: medication, meds, medicine,
  prompt, check, welfare, safety); a visit that says nothing of what it is for counts as
  personal care, since nothing shows it is not.
- **Visits of 30 minutes or more** (NICE QS123 statement 4: home care visits of at least
  30 minutes): their share of all the roster's visits. Durations come from the roster, so this
  is the same for every plan of it.
- **Back-to-back visits without enough travel time** (Charter stage 1: carers are not rushed
  between visits): consecutive visits of one carer whose gap is less than the travel the plan
  gives to the next one (:func:`carerun.alerts.gap_shortfalls`).
- **Travel time to be paid** (Charter stage 1): travel minutes per carer in the week, the trip
  home included, with its cost where the carer's ``cost_per_hour`` or the provider's
  ``hourly_rate`` is known.
- **Continuity** (Charter stage 2: the same carer where possible): different carers per client
  and share of visits by regular carers (:mod:`carerun.continuity`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from carerun.alerts import gap_shortfalls
from carerun.continuity import continuity_summary, continuity_table
from carerun.duplicates import check_plan_ids
from carerun.model import Plan, Roster, Visit, day_name, format_time

SHORT_VISIT_MIN = 15
LONG_VISIT_MIN = 30
NON_PERSONAL_WORDS = ("medication", "meds", "medicine", "prompt", "check", "welfare", "safety")

SHORT_COLUMNS = ["visit_id", "client_id", "day", "start", "duration_min", "personal_care", "tasks"]
TRAVEL_COLUMNS = [
    "carer_id",
    "provider",
    "days",
    "visits",
    "contact_min",
    "travel_min",
    "travel_cost",
]


def is_personal_care(visit: Visit) -> bool:
    """Whether `visit` may involve personal care: anything beyond medication prompts and checks."""
    items = [s for s in visit.skills if s.strip()]
    items += [t for t in re.split(r"[;,]", visit.tasks) if t.strip()]
    if not items:
        return True
    return not all(any(word in item.lower() for word in NON_PERSONAL_WORDS) for item in items)


@dataclass(frozen=True)
class CharterReport:
    """The Charter and QS123 figures for one plan of one roster, with their small tables."""

    visits: int
    short_visits: int
    short_personal_care: int
    visits_30_plus: int
    share_30_plus: float
    back_to_back_short: int
    carers: int
    travel_min_total: float
    travel_min_per_carer: float
    travel_cost_total: float | None
    continuity: dict[str, Any]
    short_table: pd.DataFrame = field(repr=False)
    gap_table: pd.DataFrame = field(repr=False)
    travel_table: pd.DataFrame = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The figures as plain JSON types (for ``summary.json``); tables left out."""
        return {
            "visits": self.visits,
            "short_visits_15_min_or_less": self.short_visits,
            "short_visits_personal_care": self.short_personal_care,
            "visits_30_min_or_more": self.visits_30_plus,
            "share_30_min_or_more": round(self.share_30_plus, 4),
            "back_to_back_without_travel_time": self.back_to_back_short,
            "carers": self.carers,
            "travel_min_total": round(self.travel_min_total, 1),
            "travel_min_per_carer_week": round(self.travel_min_per_carer, 1),
            "travel_cost_total": (
                None if self.travel_cost_total is None else round(self.travel_cost_total, 2)
            ),
            "continuity": self.continuity,
        }


def _short_table(roster: Roster, plan: Plan) -> pd.DataFrame:
    starts = {a.visit_id: a.start for a in plan.assignments}
    rows = [
        {
            "visit_id": v.visit_id,
            "client_id": v.client_id,
            "day": day_name(v.day),
            "start": format_time(
                starts.get(
                    v.visit_id, v.planned_start if v.planned_start is not None else v.window.start
                )
            ),
            "duration_min": round(v.duration / 60, 1),
            "personal_care": is_personal_care(v),
            "tasks": v.tasks or ";".join(sorted(v.skills)),
        }
        for v in roster.visits
        if v.duration <= SHORT_VISIT_MIN * 60
    ]
    return pd.DataFrame(rows, columns=SHORT_COLUMNS)


def _travel_table(roster: Roster, plan: Plan) -> pd.DataFrame:
    rows = []
    routes = plan.routes()
    for c in roster.carers:
        runs = {day: run for (cid, day), run in routes.items() if cid == c.carer_id}
        if not runs:
            continue
        travel = sum(a.travel_before for run in runs.values() for a in run)
        travel += sum(plan.travel_home.get((c.carer_id, d), 0) for d in runs)
        contact = sum(roster.visit(a.visit_id).duration for run in runs.values() for a in run)
        rate = c.cost_per_hour
        if rate is None:
            rate = roster.provider(c.provider).hourly_rate
        rows.append(
            {
                "carer_id": c.carer_id,
                "provider": c.provider,
                "days": len(runs),
                "visits": sum(len(run) for run in runs.values()),
                "contact_min": round(contact / 60, 1),
                "travel_min": round(travel / 60, 1),
                "travel_cost": float("nan") if rate is None else round(travel / 3600 * rate, 2),
            }
        )
    return pd.DataFrame(rows, columns=TRAVEL_COLUMNS)


def charter_checks(roster: Roster, plan: Plan, *, planned_gaps: bool = False) -> CharterReport:
    """Check `plan` of `roster` against the Ethical Care Charter and NICE QS123.

    See the module docstring for what each figure means. Visits and their durations are the
    roster's; travel, gaps and continuity are the plan's (as-is or optimised). Pass
    `planned_gaps` for an as-is plan, to measure back-to-back gaps on the times the roster asks
    for rather than the played-out ones (:func:`carerun.alerts.gap_shortfalls`).
    """
    check_plan_ids(roster, plan)
    short = _short_table(roster, plan)
    gaps = gap_shortfalls(roster, plan, planned=planned_gaps)
    travel = _travel_table(roster, plan)
    n = len(roster.visits)
    long_ = sum(v.duration >= LONG_VISIT_MIN * 60 for v in roster.visits)
    costs = travel["travel_cost"].dropna()
    return CharterReport(
        visits=n,
        short_visits=len(short),
        short_personal_care=int(short["personal_care"].sum()),
        visits_30_plus=long_,
        share_30_plus=long_ / n if n else 0.0,
        back_to_back_short=len(gaps),
        carers=len(travel),
        travel_min_total=plan.travel_seconds / 60,
        travel_min_per_carer=plan.travel_seconds / 60 / len(travel) if len(travel) else 0.0,
        travel_cost_total=float(costs.sum()) if len(costs) else None,
        continuity=continuity_summary(continuity_table(roster, plan)),
        short_table=short,
        gap_table=gaps,
        travel_table=travel,
    )
