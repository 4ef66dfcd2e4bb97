"""Continuity of care: how many different carers each client sees, and how often their own.

Definitions:

- A **carer-visit** is one carer doing one visit in the plan; a double-handed visit done by two
  carers is two carer-visits. Unassigned visits have none and are counted apart.
- A client's **regular carers** for a visit are the visit's ``preferred_carers`` when it names
  any; otherwise the client's *k* most frequent carers over the week in the plan, *k* being the
  most carers any of the client's visits needs (1, or 2 when double-handed), ties going to the
  carer id. So a client seen by seven carers once each has one regular carer and a share of 1/7,
  not seven regulars and a share of 1.
- **Share by regular carers**: carer-visits done by a regular carer over all the client's
  carer-visits.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pandas as pd

from carerun.duplicates import check_plan_ids
from carerun.model import Plan, Roster

TABLE_COLUMNS = [
    "client_id",
    "area",
    "visits",
    "unassigned",
    "carer_visits",
    "carers",
    "regular_carers",
    "by_regular",
    "share_regular",
    "carer_ids",
]


def continuity_table(roster: Roster, plan: Plan) -> pd.DataFrame:
    """One row per client of the roster: carers seen in the week and share by regular carers.

    Columns: ``client_id``, ``area`` (of the client's first visit), ``visits`` (assigned),
    ``unassigned``, ``carer_visits``, ``carers`` (different carers), ``regular_carers``
    (``;``-joined, the most-frequent rule; visits with ``preferred_carers`` use those instead),
    ``by_regular`` (carer-visits by a regular carer), ``share_regular`` (NaN when the client
    has no assigned visit) and ``carer_ids`` (``;``-joined). Clients worst served first:
    most carers, then lowest share.
    """
    check_plan_ids(roster, plan)
    carers_of: dict[str, list[str]] = {}
    for a in plan.assignments:
        carers_of.setdefault(a.visit_id, []).append(a.carer_id)
    rows = []
    for client in roster.client_ids:
        visits = roster.visits_of_client(client)
        done = [v for v in visits if v.visit_id in carers_of]
        seen = Counter(c for v in done for c in carers_of[v.visit_id])
        k = max((v.carers_required for v in visits), default=1)
        frequent = [c for c, _ in sorted(seen.items(), key=lambda kv: (-kv[1], kv[0]))[:k]]
        by_regular = 0
        for v in done:
            regular = set(v.preferred_carers) or set(frequent)
            by_regular += sum(c in regular for c in carers_of[v.visit_id])
        carer_visits = sum(seen.values())
        rows.append(
            {
                "client_id": client,
                "area": visits[0].area,
                "visits": len(done),
                "unassigned": len(visits) - len(done),
                "carer_visits": carer_visits,
                "carers": len(seen),
                "regular_carers": ";".join(sorted(frequent)),
                "by_regular": by_regular,
                "share_regular": by_regular / carer_visits if carer_visits else float("nan"),
                "carer_ids": ";".join(sorted(seen)),
            }
        )
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    return table.sort_values(
        ["carers", "share_regular", "client_id"], ascending=[False, True, True], na_position="last"
    ).reset_index(drop=True)


def worst_served(table: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    """The `n` clients with most different carers, then lowest share by regular carers."""
    served = table[table["carer_visits"] > 0]
    return served.sort_values(
        ["carers", "share_regular", "client_id"], ascending=[False, True, True]
    ).head(n)


def continuity_summary(table: pd.DataFrame, *, worst: int = 10) -> dict[str, Any]:
    """Figures for ``summary.json`` from :func:`continuity_table` (plain JSON types).

    ``share_regular`` is over all carer-visits (busy clients weigh more);
    ``mean_share_regular`` is the mean of the clients' shares. ``histogram`` maps a number of
    different carers to how many clients saw that many (clients with no assigned visit left out).
    """
    served = table[table["carer_visits"] > 0]
    total = int(served["carer_visits"].sum())
    histogram = served["carers"].value_counts().sort_index()
    return {
        "clients": len(table),
        "clients_served": len(served),
        "mean_carers": _num(served["carers"].mean()),
        "median_carers": _num(served["carers"].median()),
        "max_carers": int(served["carers"].max()) if len(served) else 0,
        "share_regular": _num(served["by_regular"].sum() / total) if total else None,
        "mean_share_regular": _num(served["share_regular"].mean()),
        "histogram": {str(k): int(v) for k, v in histogram.items()},
        "worst_served": worst_served(table, worst)["client_id"].tolist(),
    }


def _num(value: float) -> float | None:
    return None if pd.isna(value) else round(float(value), 4)
