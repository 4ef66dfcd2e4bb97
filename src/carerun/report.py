"""The before/after report: one self-contained ``report.html`` for a meeting screen.

Five parts, each computed by the modules that own the figures and only laid out here:

1. **Headline** — the KPIs of the as-is and of the plan side by side with the change
   (:func:`carerun.metrics.plan_kpis`, :mod:`carerun.duplicates`, :mod:`carerun.continuity`);
2. **Charts** — travel per provider, demand against capacity by time band
   (:func:`carerun.alerts.capacity_table`) and how many different carers clients see;
3. **Exceptions** — :func:`carerun.alerts.exceptions_frame`, a summary line per kind and the
   most severe rows;
4. **Duplicate multi-provider events** — counts by provider pair and by day and the events
   with most travel to save (no client ids or addresses);
5. **Ethical Care Charter and NICE QS123** — :func:`carerun.charter.charter_checks`.

The file needs nothing from the network: styles are inline, charts are inline SVG, there is no
script. Every text from the roster is HTML-escaped. :func:`report_summary` gives the headline
figures as plain JSON types, so ``summary.json`` and the report carry the same numbers.
With no plan (``carerun analyse``) the report shows the as-is alone.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from carerun import __version__
from carerun._io import atomic_write
from carerun.alerts import (
    DEFAULT_BANDS,
    KINDS,
    capacity_table,
    exceptions_frame,
    exceptions_summary,
)
from carerun.charter import CharterReport, charter_checks
from carerun.continuity import continuity_summary, continuity_table
from carerun.duplicates import DuplicateEvent, duplicate_counts, find_duplicates
from carerun.matrix import TravelMatrix
from carerun.metrics import compare_kpis, impossible_gaps, plan_kpis, travel_by_provider
from carerun.metrics import travel_table as metrics_travel_table
from carerun.model import DAY_NAMES, Plan, Roster, day_name, format_time

# Okabe–Ito colours (safe for colour-blind readers), yellow darkened to read on white.
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#8C6D1F",
    "#6B6B6B",
)
TOP_ROWS = 8

SUMMARY_KEYS = (
    "travel_min",
    "travel_per_contact_hour",
    "distance_km",
    "duplicate_events",
    "mean_carers_per_client",
    "share_regular",
    "visits_unassigned",
    "lateness_min_total",
    "late_visits",
    "visits_assigned",
    "contact_hours",
    "carers_used",
)


def provider_colours(providers: Iterable[str]) -> dict[str, str]:
    """A fixed colour per provider id: ids sorted, then :data:`PALETTE` in turn (cycling)."""
    return {p: PALETTE[i % len(PALETTE)] for i, p in enumerate(sorted(set(providers)))}


# --- the figures ------------------------------------------------------------------------------


class _Side:
    """Everything the report shows about one plan (as-is or optimised), computed on demand."""

    def __init__(
        self, roster: Roster, plan: Plan, *, is_asis: bool, matrix: TravelMatrix | None
    ) -> None:
        self.roster = roster
        self.plan = plan
        self.is_asis = is_asis
        self.matrix = matrix

    @cached_property
    def events(self) -> list[DuplicateEvent]:
        return find_duplicates(self.roster, self.plan)

    @cached_property
    def continuity(self) -> dict[str, Any]:
        return continuity_summary(continuity_table(self.roster, self.plan))

    @cached_property
    def kpis(self) -> dict[str, Any]:
        k = plan_kpis(self.roster, self.plan)
        out = {key: k[key] for key in SUMMARY_KEYS if key in k}
        out["duplicate_events"] = len(self.events)
        out["mean_carers_per_client"] = self.continuity["mean_carers"]
        out["share_regular"] = self.continuity["share_regular"]
        if self.matrix is not None:
            # The as-is is played out, so its own starts never clash: measure what the roster
            # asks of the carers; a plan is measured on its own starts.
            gaps = impossible_gaps(self.roster, self.plan, self.matrix, planned=self.is_asis)
            out["impossible_gaps"] = int(gaps.shape[0])
        return {"label": self.plan.label, **{key: out[key] for key in _ordered(out)}}

    @cached_property
    def travel_by_provider(self) -> pd.DataFrame:
        return travel_by_provider(metrics_travel_table(self.roster, self.plan), self.roster)

    @cached_property
    def capacity(self) -> pd.DataFrame:
        table = capacity_table(self.roster, self.plan)
        return table[(table["provider"] == "all") & (table["area"] == "")].reset_index(drop=True)

    @cached_property
    def exceptions(self) -> pd.DataFrame:
        return exceptions_frame(self.roster, self.plan, planned_gaps=self.is_asis)

    @cached_property
    def charter(self) -> CharterReport:
        return charter_checks(self.roster, self.plan, planned_gaps=self.is_asis)


def _ordered(kpis: Mapping[str, Any]) -> list[str]:
    extra = [k for k in kpis if k not in SUMMARY_KEYS]
    return [k for k in SUMMARY_KEYS if k in kpis] + extra


def _sides(
    roster: Roster, asis: Plan, plan: Plan | None, matrix: TravelMatrix | None
) -> tuple[_Side, _Side | None]:
    before = _Side(roster, asis, is_asis=True, matrix=matrix)
    after = None if plan is None else _Side(roster, plan, is_asis=False, matrix=matrix)
    return before, after


def _summary(roster: Roster, before: _Side, after: _Side | None) -> dict[str, Any]:
    return {
        "roster": roster.name,
        "week_start": None if roster.week_start is None else roster.week_start.isoformat(),
        "asis": before.kpis,
        "plan": None if after is None else after.kpis,
        "change": None if after is None else compare_kpis(before.kpis, after.kpis),
    }


def report_summary(
    roster: Roster, asis: Plan, plan: Plan | None, *, matrix: TravelMatrix | None = None
) -> dict[str, Any]:
    """The headline figures of the report, as plain JSON types (for ``summary.json``).

    Returns
    -------
    dict
        ``roster``, ``week_start`` (ISO date or ``None``), ``asis`` and ``plan`` (``None``
        without a plan), each with ``label``, ``travel_min``, ``travel_per_contact_hour``
        (travel minutes per contact hour), ``distance_km``, ``duplicate_events``,
        ``mean_carers_per_client``, ``share_regular`` (0–1, carer-visits by regular carers),
        ``visits_unassigned``, ``lateness_min_total``, ``late_visits``, ``visits_assigned``,
        ``contact_hours``, ``carers_used`` and, given a `matrix`, ``impossible_gaps``; and
        ``change`` (plan minus as-is, ``None`` without a plan).
    """
    return _summary(roster, *_sides(roster, asis, plan, matrix))


def _figures(
    roster: Roster, before: _Side, after: _Side | None, extra: Mapping[str, Any]
) -> dict[str, Any]:
    sides = {"asis": before} if after is None else {"asis": before, "plan": after}
    out: dict[str, Any] = {"summary": _summary(roster, before, after)}
    out["travel_by_provider"] = {
        name: {
            str(r["provider"]): round(float(r["travel_min"]), 1)
            for r in s.travel_by_provider.to_dict("records")
        }
        for name, s in sides.items()
    }
    shown = after or before
    out["capacity"] = [
        {
            "day": r["day"],
            "band": r["band"],
            "demand_min": float(r["demand_min"]),
            "capacity_min": float(r["capacity_min"]),
            "ratio": _json_num(r["ratio"]),
        }
        for r in shown.capacity.to_dict("records")
    ]
    out["continuity_histogram"] = {n: s.continuity["histogram"] for n, s in sides.items()}
    out["exceptions"] = {n: exceptions_summary(s.exceptions, s.plan) for n, s in sides.items()}
    out["duplicates"] = {
        n: {
            "events": len(s.events),
            "visits": sum(len(e.visit_ids) for e in s.events),
            "travel_saved_min": round(sum(e.travel_saved for e in s.events) / 60, 1),
            "by_provider_pair": [
                {
                    "providers": [r["provider_a"], r["provider_b"]],
                    "events": int(r["events"]),
                    "visits": int(r["visits"]),
                }
                for r in duplicate_counts(s.events)["provider_pair"].to_dict("records")
            ],
            "by_day": {d: sum(e.day == i for e in s.events) for i, d in enumerate(DAY_NAMES)},
        }
        for n, s in sides.items()
    }
    out["charter"] = {n: s.charter.to_dict() for n, s in sides.items()}
    out["extra"] = dict(extra)
    return out


def _json_num(x: Any) -> float | None:
    return None if x is None or not math.isfinite(float(x)) else round(float(x), 4)


def report_figures(
    roster: Roster,
    asis: Plan,
    plan: Plan | None,
    *,
    matrix: TravelMatrix | None = None,
    extra_kpis: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Every figure the report draws, as plain JSON types.

    Returns
    -------
    dict
        ``summary`` (:func:`report_summary`), ``travel_by_provider`` (travel minutes per
        provider, per side), ``capacity`` (demand and capacity minutes per day and band, all
        providers pooled, of the plan or else the as-is), ``continuity_histogram`` (clients
        by number of different carers, per side), ``exceptions`` (counts by kind and
        severity, per side), ``duplicates`` (events, visits, travel saved, by provider pair and
        by day, per side), ``charter`` (:meth:`~carerun.charter.CharterReport.to_dict` per side)
        and ``extra`` (`extra_kpis` as given). Sides are ``asis`` and, with a plan, ``plan``.
    """
    return _figures(roster, *_sides(roster, asis, plan, matrix), extra_kpis or {})


# --- formatting -------------------------------------------------------------------------------


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _hours_minutes(minutes: float) -> str:
    total = round(abs(minutes))
    sign = "−" if minutes < 0 and total else ""
    h, m = divmod(total, 60)
    return f"{sign}{h:,} h {m:02d} min" if h else f"{sign}{m} min"


def _fmt_int(x: float) -> str:
    return f"{round(x):,}".replace("-", "−")


def _fmt_1(x: float) -> str:
    return f"{x:,.1f}".replace("-", "−")


def _fmt_pct(x: float) -> str:
    return f"{100 * x:.0f}%".replace("-", "−")


@dataclass(frozen=True)
class _Kpi:
    key: str
    label: str
    fmt: Callable[[float], str]
    lower_is_better: bool = True
    note: str = ""


HEADLINE = (
    _Kpi("travel_min", "Travel time", _hours_minutes, note="base to visits, between, and home"),
    _Kpi("travel_per_contact_hour", "Travel per contact hour", lambda x: f"{x:.1f} min"),
    _Kpi("distance_km", "Distance travelled", lambda x: f"{x:,.1f} km"),
    _Kpi(
        "duplicate_events",
        "Duplicate multi-provider events",
        _fmt_int,
        note="carers of different providers at one place at one time",
    ),
    _Kpi("mean_carers_per_client", "Different carers per client", lambda x: f"{x:.2f}"),
    _Kpi("share_regular", "Visits by regular carers", _fmt_pct, lower_is_better=False),
    _Kpi("visits_unassigned", "Unassigned visits", _fmt_int),
    _Kpi(
        "lateness_min_total",
        "Lateness",
        _hours_minutes,
        note="minutes past the latest start each window allows",
    ),
    _Kpi("impossible_gaps", "Impossible back-to-back gaps", _fmt_int),
)
CARD_KEYS = (
    "travel_min",
    "travel_per_contact_hour",
    "duplicate_events",
    "mean_carers_per_client",
    "visits_unassigned",
)


def _value(kpi: _Kpi, x: Any) -> str:
    return "—" if _missing(x) else kpi.fmt(float(x))


def _change(kpi: _Kpi, before: Any, after: Any) -> tuple[str, str]:
    """The change as text and its CSS class (``better``, ``worse`` or ``same``)."""
    if _missing(before) or _missing(after):
        return "—", "same"
    diff = float(after) - float(before)
    if abs(diff) < 1e-9:
        return "no change", "same"
    better = (diff < 0) == kpi.lower_is_better
    arrow = "▼" if diff < 0 else "▲"
    word = "better" if better else "worse"
    # A share changes by points; a percentage change of a share would read ambiguously.
    if kpi.key == "share_regular":
        return f'{arrow} {abs(100 * diff):.0f} points <span class="word">{word}</span>', word
    pct = f" ({abs(diff) / abs(float(before)):.0%})" if float(before) else ""
    size = kpi.fmt(abs(diff))
    return f'{arrow} {size}{pct} <span class="word">{word}</span>', word


# --- SVG charts --------------------------------------------------------------------------------


def _svg_open(width: float, height: float, label: str) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}"'
        f' role="img" aria-label="{_e(label)}">'
        f"<title>{_e(label)}</title>"
    )


def _hatch(pattern_id: str, colour: str) -> str:
    return (
        f'<pattern id="{pattern_id}" width="6" height="6" patternUnits="userSpaceOnUse"'
        f' patternTransform="rotate(45)"><rect width="6" height="6" fill="#fff"/>'
        f'<rect width="2.5" height="6" fill="{colour}"/></pattern>'
    )


def _nice_max(x: float) -> float:
    if x <= 0:
        return 1.0
    step = 10 ** math.floor(math.log10(x))
    for m in (1, 2, 2.5, 5, 10):
        if x <= m * step:
            return m * step
    return 10 * step


def _divisions(top: float) -> int:
    """Grid lines to divide an axis of `top` (from :func:`_nice_max`) into round steps."""
    mantissa = top / 10 ** math.floor(math.log10(top))
    return 4 if round(mantissa, 6) in (2.0, 4.0, 8.0) else 5


def _provider_travel_chart(
    before: _Side, after: _Side | None, colours: Mapping[str, str], uid: str
) -> str:
    """Horizontal bars of travel hours per provider: as-is hatched, plan solid."""
    sides = [before] if after is None else [before, after]
    values = [
        {
            str(r["provider"]): float(r["travel_min"]) / 60
            for r in s.travel_by_provider.to_dict("records")
        }
        for s in sides
    ]
    providers = sorted(set().union(*values))
    bar, gap, left, right, top = 18, 14, 110, 110, 30
    group = bar * len(sides) + gap
    width = 540
    height = top + group * max(len(providers), 1) + 10
    top_value = _nice_max(max((v for d in values for v in d.values()), default=0.0))
    scale = (width - left - right) / top_value
    out = [_svg_open(width, height, "Travel hours per provider"), "<defs>"]
    out += [_hatch(f"{uid}-h{i}", colours.get(p, "#888")) for i, p in enumerate(providers)]
    out.append("</defs>")
    n = _divisions(top_value)
    for t in range(n + 1):
        x = left + (width - left - right) * t / n
        out.append(
            f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{height - 8}" class="grid"/>'
        )
        out.append(
            f'<text x="{x:.1f}" y="{top - 12}" text-anchor="middle" class="axis">'
            f"{_e(_tick(top_value * t / n))} h</text>"
        )
    for i, p in enumerate(providers):
        y0 = top + i * group
        out.append(
            f'<text x="{left - 10}" y="{y0 + bar * len(sides) / 2 + 4:.1f}" text-anchor="end"'
            f' class="label">{_e(_clip(p, 22))}</text>'
        )
        for j, (side, vals) in enumerate(zip(sides, values, strict=True)):
            v = vals.get(p, 0.0)
            y = y0 + j * bar
            hatched = side.is_asis and after is not None
            fill = f"url(#{uid}-h{i})" if hatched else colours.get(p, "#888")
            out.append(
                f'<rect x="{left}" y="{y + 1}" width="{max(v * scale, 1):.1f}" height="{bar - 3}"'
                f' fill="{fill}" stroke="{colours.get(p, "#888")}" stroke-width="1">'
                f"<title>{_e(p)} {_e(side.plan.label)}: {_e(_fmt_1(v))} h</title></rect>"
            )
            tag = "as-is" if side.is_asis else "plan"
            out.append(
                f'<text x="{left + v * scale + 6:.1f}" y="{y + bar - 5}" class="value">'
                f'{_e(_fmt_1(v))} h <tspan class="muted">{tag}</tspan></text>'
            )
    out.append("</svg>")
    return "".join(out)


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _capacity_chart(side: _Side) -> str:
    """Small multiples: rows are time bands, columns days; each cell a capacity bar (light)
    with the demand bar over it; short cells are marked ▲ and red."""
    cap = side.capacity
    days = [d for d in DAY_NAMES if d in set(cap["day"])]
    bands = [b[0] for b in DEFAULT_BANDS if b[0] in set(cap["band"])]
    bands += sorted(set(cap["band"]) - set(bands))
    if not days or not bands:
        return '<p class="muted">No visits or shifts fall in the time bands.</p>'
    cell = {(r["day"], r["band"]): r for r in cap.to_dict("records")}
    # Scaled to the largest cell (no axis: each cell is read by its percentage).
    top_value = max(max(float(r["demand_min"]), float(r["capacity_min"])) for r in cell.values())
    top_value = max(top_value / 60, 1 / 60)
    left, top, cw, ch, pad = 90, 28, 140, 96, 10
    width = left + cw * len(days) + 10
    height = top + ch * len(bands) + 8
    out = [_svg_open(width, height, "Demand against capacity by day and time band")]
    for i, d in enumerate(days):
        out.append(
            f'<text x="{left + cw * i + cw / 2:.1f}" y="{top - 10}" text-anchor="middle"'
            f' class="label">{_e(d)}</text>'
        )
    for j, b in enumerate(bands):
        y0 = top + ch * j
        out.append(
            f'<text x="{left - 10}" y="{y0 + ch / 2 + 4:.1f}" text-anchor="end"'
            f' class="label">{_e(b)}</text>'
        )
        for i, d in enumerate(days):
            x0 = left + cw * i
            r = cell.get((d, b))
            out.append(
                f'<rect x="{x0 + 2}" y="{y0 + 2}" width="{cw - 4}" height="{ch - 4}" class="cell"/>'
            )
            if r is None:
                continue
            demand, capacity = float(r["demand_min"]) / 60, float(r["capacity_min"]) / 60
            ratio = float(r["ratio"])
            short = demand > capacity
            near = not short and math.isfinite(ratio) and ratio > 0.9
            base = y0 + ch - pad - 14
            span = ch - 2 * pad - 16
            hc, hd = capacity / top_value * span, demand / top_value * span
            mid = x0 + cw / 2
            out.append(
                f'<rect x="{mid - 31:.1f}" y="{base - hc:.1f}" width="30" height="{hc:.1f}"'
                f' class="capacity"><title>capacity {_e(_fmt_1(capacity))} h</title></rect>'
            )
            cls = "demand short" if short else "demand near" if near else "demand"
            out.append(
                f'<rect x="{mid + 1:.1f}" y="{base - hd:.1f}" width="30" height="{hd:.1f}"'
                f' class="{cls}"><title>demand {_e(_fmt_1(demand))} h</title></rect>'
            )
            pct = "no capacity" if not math.isfinite(ratio) else f"{ratio:.0%}"
            mark = "▲ " if short else "◆ " if near else ""
            out.append(
                f'<text x="{x0 + cw / 2:.1f}" y="{y0 + ch - pad + 2}" text-anchor="middle"'
                f' class="{"value strong bad" if short else "value"}">{mark}{_e(pct)}</text>'
            )
    out.append("</svg>")
    return "".join(out)


@dataclass(frozen=True)
class _Series:
    name: str
    values: Sequence[float]
    colour: str
    hatched: bool = False


def _column_chart(
    categories: Sequence[str], series: Sequence[_Series], *, label: str, x_title: str, uid: str
) -> str:
    """Vertical grouped bars with the value over each bar."""
    left, top, bottom, width, height = 44, 16, 44, 540, 230
    biggest = max((v for s in series for v in s.values), default=0.0)
    top_value = _nice_max(biggest)
    integers = all(float(v).is_integer() for s in series for v in s.values)
    if integers:
        top_value = max(4.0, math.ceil(biggest / 4) * 4)  # counts: whole-number ticks
    plot_w, plot_h = width - left - 10, height - top - bottom
    group = plot_w / max(len(categories), 1)
    bar = min(28.0, (group - 10) / max(len(series), 1))
    out = [_svg_open(width, height, label), "<defs>"]
    out += [_hatch(f"{uid}-h{k}", s.colour) for k, s in enumerate(series) if s.hatched]
    out.append("</defs>")
    n = 4 if integers else _divisions(top_value)
    for t in range(n + 1):
        y = top + plot_h * (1 - t / n)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - 10}" y2="{y:.1f}" class="grid"/>')
        out.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="axis">'
            f"{_e(_tick(top_value * t / n))}</text>"
        )
    for i, c in enumerate(categories):
        gx = left + group * i + (group - bar * len(series)) / 2
        for k, s in enumerate(series):
            v = s.values[i]
            h = v / top_value * plot_h
            x = gx + k * bar
            fill = f"url(#{uid}-h{k})" if s.hatched else s.colour
            out.append(
                f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar - 2:.1f}"'
                f' height="{h:.1f}" fill="{fill}" stroke="{s.colour}">'
                f"<title>{_e(s.name)}, {_e(c)}: {_e(_tick(v))}</title></rect>"
            )
            if v:
                out.append(
                    f'<text x="{x + (bar - 2) / 2:.1f}" y="{top + plot_h - h - 4:.1f}"'
                    f' text-anchor="middle" class="value small">{_e(_tick(v))}</text>'
                )
        out.append(
            f'<text x="{left + group * (i + 0.5):.1f}" y="{top + plot_h + 16}"'
            f' text-anchor="middle" class="label">{_e(c)}</text>'
        )
    out.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" text-anchor="middle"'
        f' class="axis">{_e(x_title)}</text>'
    )
    out.append("</svg>")
    return "".join(out)


def _tick(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.1f}"


def _legend(items: Sequence[tuple[str, str, bool]]) -> str:
    out = ['<div class="legend">']
    for name, colour, hatched in items:
        style = (
            f"background: repeating-linear-gradient(45deg, {colour} 0 2px, #fff 2px 5px);"
            f" border: 1px solid {colour}"
            if hatched
            else f"background: {colour}"
        )
        out.append(f'<span><i class="swatch" style="{style}"></i>{_e(name)}</span>')
    out.append("</div>")
    return "".join(out)


# --- HTML parts ---------------------------------------------------------------------------------


_NUM = ' class="num"'


def _table(
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    numeric: Iterable[int] = (),
    cls: str = "",
    row_ids: Sequence[str] | None = None,
) -> str:
    """An HTML table; cells are given as HTML (escape text before)."""
    right = set(numeric)
    head = "".join(f"<th{_NUM if i in right else ''}>{_e(h)}</th>" for i, h in enumerate(headers))
    rows = list(rows)
    ids = [f' id="{_e(i)}"' for i in row_ids] if row_ids is not None else [""] * len(rows)
    body = "".join(
        f"<tr{row_id}>"
        + "".join(f"<td{_NUM if i in right else ''}>{c}</td>" for i, c in enumerate(r))
        + "</tr>"
        for row_id, r in zip(ids, rows, strict=True)
    )
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _chip(provider: str, colours: Mapping[str, str]) -> str:
    colour = colours.get(provider, "#888")
    return f'<span class="chip"><i style="background:{colour}"></i>{_e(provider)}</span>'


_SEVERITY = {"high": ("▲", "High"), "medium": ("◆", "Medium"), "low": ("○", "Low")}


def _severity(level: str) -> str:
    icon, word = _SEVERITY.get(level, ("·", level))
    return f'<span class="sev sev-{_e(level)}">{icon} {_e(word)}</span>'


def _date(day: dt.date) -> str:
    # Not ``%-d``: that strftime flag is glibc's, and Windows has none.
    return f"{day:%A} {day.day} {day:%B %Y}"


def _title_block(roster: Roster, title: str, before: _Side, after: _Side | None) -> str:
    now = dt.datetime.now()
    week = f"Week of {_date(roster.week_start)}" if roster.week_start else "Week not dated"
    days = ", ".join(day_name(d) for d in roster.days) or "no visits"
    compare = (
        f"{_e(before.plan.label)} compared with {_e(after.plan.label)}"
        if after is not None
        else f"{_e(before.plan.label)} only (no plan)"
    )
    n_clients, n_carers = len(roster.client_ids), len(roster.carers)
    return (
        '<header class="title">'
        '<div class="brand">carerun · care visits report</div>'
        f"<h1>{_e(title)}</h1>"
        '<dl class="meta">'
        f"<div><dt>Roster</dt><dd>{_e(roster.name or '(unnamed)')}</dd></div>"
        f'<div><dt>Week</dt><dd>{_e(week)} <span class="muted">({_e(days)})</span></dd></div>'
        f"<div><dt>Comparing</dt><dd>{compare}</dd></div>"
        f"<div><dt>Size</dt><dd>{len(roster.visits):,} visits · {n_clients:,} clients ·"
        f" {n_carers:,} carers · {len(roster.providers):,} providers</dd></div>"
        f"<div><dt>Generated</dt><dd>{_date(now)}, {now:%H:%M}"
        f" · carerun {_e(__version__)}</dd></div>"
        "</dl></header>"
    )


def _headline(before: _Side, after: _Side | None, extra: Mapping[str, Any]) -> str:
    b, a = before.kpis, None if after is None else after.kpis
    kpis = [k for k in HEADLINE if k.key in b]
    cards = []
    for k in kpis:
        if k.key not in CARD_KEYS:
            continue
        if a is None:
            main, sub = _value(k, b.get(k.key)), ""
        else:
            text, cls = _change(k, b.get(k.key), a.get(k.key))
            main = _value(k, a.get(k.key))
            sub = (
                f'<div class="was">as-is {_e(_value(k, b.get(k.key)))}</div>'
                f'<div class="delta {cls}">{text}</div>'
            )
        cards.append(
            f'<div class="card" id="card-{k.key}"><div class="card-label">{_e(k.label)}</div>'
            f'<div class="card-value">{_e(main)}</div>{sub}</div>'
        )
    headers = ["Measure", before.plan.label]
    if after is not None:
        headers += [after.plan.label, "Change"]
    rows = []
    for k in kpis:
        label = _e(k.label) + (f'<div class="note">{_e(k.note)}</div>' if k.note else "")
        row = [label, f'<span class="v">{_e(_value(k, b.get(k.key)))}</span>']
        if a is not None:
            text, cls = _change(k, b.get(k.key), a.get(k.key))
            row += [
                f'<span class="v">{_e(_value(k, a.get(k.key)))}</span>',
                f'<span class="delta {cls}">{text}</span>',
            ]
        rows.append(row)
    table = _table(
        headers,
        rows,
        numeric=range(1, len(headers)),
        cls="kpis" if a is not None else "kpis single",
        row_ids=[f"kpi-{k.key}" for k in kpis],
    )
    details = ""
    if extra:
        items = "".join(
            f"<div><dt>{_e(key)}</dt><dd>{_e(value)}</dd></div>" for key, value in extra.items()
        )
        details = f'<h3>Run details</h3><dl class="details">{items}</dl>'
    return (
        '<section id="headline"><h2><span class="num">1</span> Headline figures</h2>'
        f'<div class="cards">{"".join(cards)}</div>{table}{details}</section>'
    )


def _charts(before: _Side, after: _Side | None, colours: Mapping[str, str]) -> str:
    sides = [before] if after is None else [before, after]
    shown = after or before
    legend = _legend(
        [("as-is (hatched)", "#555", True), ("plan (solid)", "#555", False)]
        if after is not None
        else [(before.plan.label, "#555", False)]
    )
    travel = (
        "<figure><figcaption>Travel time per provider"
        '<span class="muted"> — hours in the week, base to base</span></figcaption>'
        f"{legend}{_provider_travel_chart(before, after, colours, 'tp')}</figure>"
    )
    capacity = (
        '<figure class="wide"><figcaption>'
        "Demand against capacity by time band"
        f'<span class="muted"> — {_e(shown.plan.label)}, all providers pooled;'
        " capacity is shift time less travel</span></figcaption>"
        + _legend(
            [
                ("capacity", "#c9d3dd", False),
                ("demand", "#2b4c6f", False),
                ("▲ short (demand over capacity)", "#c0392b", False),
                ("◆ over 90% used", "#d68910", False),
            ]
        )
        + _capacity_chart(shown)
        + "</figure>"
    )
    hists = [s.continuity["histogram"] for s in sides]
    most = max((int(k) for h in hists for k in h), default=1)
    cats = [str(n) for n in range(1, most + 1)]
    series = [
        _Series(
            s.plan.label,
            [float(h.get(c, 0)) for c in cats],
            "#7f8c8d" if s.is_asis and after is not None else "#2b6cb0",
            hatched=s.is_asis and after is not None,
        )
        for s, h in zip(sides, hists, strict=True)
    ]
    continuity = (
        "<figure><figcaption>Continuity of care"
        '<span class="muted"> — clients by how many different carers they see in the week'
        "</span></figcaption>"
        + _legend([(s.name, s.colour, s.hatched) for s in series])
        + _column_chart(
            cats,
            series,
            label="Clients by number of different carers",
            x_title="different carers in the week",
            uid="cc",
        )
        + "</figure>"
    )
    return (
        '<section id="charts"><h2><span class="num">2</span> At a glance</h2>'
        f'<div class="two">{travel}{continuity}</div>{capacity}</section>'
    )


_GROUPS = (
    ("Capacity", ("capacity_short", "capacity_near_short")),
    (
        "Carers over their limits or rushed",
        ("over_daily_limit", "over_weekly_limit", "impossible_gap"),
    ),
    ("Spare capacity that could be released", ("spare_capacity",)),
    ("Unassigned visits", ("unassigned",)),
)
_KIND_TEXT = {
    "capacity_short": ("time band short", "time bands short"),
    "capacity_near_short": ("band nearly short", "bands nearly short"),
    "over_daily_limit": ("carer-day over the daily limit", "carer-days over the daily limit"),
    "over_weekly_limit": ("carer over the weekly limit", "carers over the weekly limit"),
    "impossible_gap": ("impossible gap between visits", "impossible gaps between visits"),
    "spare_capacity": ("carer-band with spare time", "carer-bands with spare time"),
    "unassigned": ("visit unassigned", "visits unassigned"),
}


def _count_text(kind: str, n: int) -> str:
    one, many = _KIND_TEXT[kind]
    return f"{n:,} {one if n == 1 else many}"


def _exceptions(before: _Side, after: _Side | None) -> str:
    shown = after or before
    frame = shown.exceptions
    out = [
        '<section id="exceptions"><h2><span class="num">3</span> Exceptions to act on</h2>',
        f'<p class="lead">For {_e(shown.plan.label)}: most severe first; the full list is in'
        " <code>exceptions.csv</code>.</p>",
    ]
    if after is not None:
        b = before.exceptions["kind"].value_counts()
        a = after.exceptions["kind"].value_counts()
        rows = [
            [_e(k.replace("_", " ")), _fmt_int(b.get(k, 0)), _fmt_int(a.get(k, 0))] for k in KINDS
        ]
        out.append(
            '<details class="counts"><summary>Counts by kind, as-is and plan</summary>'
            + _table(["Kind", before.plan.label, after.plan.label], rows, numeric=(1, 2))
            + "</details>"
        )
    for title, kinds in _GROUPS:
        part = frame[frame["kind"].isin(kinds)]
        worst = part["severity"].iloc[0] if len(part) else "none"
        counts = " · ".join(_count_text(k, int((part["kind"] == k).sum())) for k in kinds)
        badge = _severity(worst) if len(part) else '<span class="sev sev-ok">✔ None</span>'
        out.append(
            f'<div class="exgroup ex-{_e(worst)}"><h3>{badge} {_e(title)}</h3>'
            f'<p class="summary">{_e(counts)}</p>'
        )
        if kinds == ("unassigned",) and len(shown.plan.unassigned):
            reasons = pd.Series([u.reason.value for u in shown.plan.unassigned]).value_counts()
            out.append(
                _table(
                    ["Reason", "Visits"],
                    [[_e(r), _fmt_int(n)] for r, n in reasons.items()],
                    numeric=(1,),
                    cls="narrow",
                )
            )
        if len(part):
            if kinds == ("spare_capacity",):
                # Most spare time first within a severity: what could be released soonest.
                rank = part["severity"].map(_sev_rank)
                part = part.assign(_rank=rank).sort_values(
                    ["_rank", "value"], ascending=[True, False], kind="stable"
                )
            top = part.head(TOP_ROWS)
            rows = [
                [
                    _severity(str(r["severity"])),
                    _e(r["day"]),
                    _e(r["band"]),
                    _e(r["provider"] or r["area"]),
                    _e(r["message"]),
                ]
                for r in top.to_dict("records")
            ]
            out.append(_table(["Severity", "Day", "Band", "Provider", "What"], rows, cls="ex"))
            if len(part) > TOP_ROWS:
                out.append(f'<p class="more">… and {len(part) - TOP_ROWS:,} more.</p>')
        out.append("</div>")
    out.append("</section>")
    return "".join(out)


def _sev_rank(level: Any) -> int:
    return {"high": 0, "medium": 1, "low": 2}.get(str(level), 3)


def _duplicates(before: _Side, after: _Side | None, colours: Mapping[str, str]) -> str:
    sides = [before] if after is None else [before, after]
    out = [
        '<section id="duplicates"><h2><span class="num">4</span> Duplicate multi-provider events'
        "</h2>",
        '<p class="lead">Two or more visits at one place (same client, or doors within 50 m)'
        " at the same time or within 30 minutes, done by carers of different providers, where"
        " one provider's carers there could have done another's share (a double-handed visit"
        " that needs one carer of each is joint working, not duplication)."
        " Travel saved is what one provider doing them all would save.</p>",
    ]
    stats = []
    for s in sides:
        saved = sum(e.travel_saved for e in s.events) / 60
        stats.append(
            f'<div class="stat"><b>{len(s.events):,}</b>'
            f" {'event' if len(s.events) == 1 else 'events'} in {_e(s.plan.label)}"
            f" · {sum(len(e.visit_ids) for e in s.events):,} visits"
            f" · {_e(_hours_minutes(saved))} of travel to save</div>"
        )
    out.append(f'<div class="stats">{"".join(stats)}</div>')
    pairs: dict[tuple[str, str], list[int]] = {}
    for j, s in enumerate(sides):
        for e in s.events:
            for pair in e.provider_pairs:
                pairs.setdefault(pair, [0] * len(sides))[j] += 1
    if pairs:
        rows = [
            [
                f'{_chip(a, colours)} <span class="muted">with</span> {_chip(b, colours)}',
                *(_fmt_int(n) for n in counts),
            ]
            for (a, b), counts in sorted(pairs.items(), key=lambda kv: (-kv[1][0], kv[0]))
        ]
        pair_table = _table(
            ["Providers", *(s.plan.label for s in sides)], rows, numeric=range(1, len(sides) + 1)
        )
    else:
        pair_table = '<p class="muted">No events.</p>'
    series = [
        _Series(
            s.plan.label,
            [float(sum(e.day == d for e in s.events)) for d in range(7)],
            "#7f8c8d" if s.is_asis and after is not None else "#c0392b",
            hatched=s.is_asis and after is not None,
        )
        for s in sides
    ]
    by_day = _legend([(x.name, x.colour, x.hatched) for x in series]) + _column_chart(
        list(DAY_NAMES), series, label="Duplicate events by day", x_title="events by day", uid="dd"
    )
    out.append(
        '<div class="two"><figure><figcaption>By provider pair</figcaption>'
        f"{pair_table}</figure><figure><figcaption>By day</figcaption>{by_day}</figure></div>"
    )
    for s in sides:
        top = sorted(s.events, key=lambda e: (-e.travel_saved, e.day, e.start))[:TOP_ROWS]
        if not top:
            continue
        rows = [
            [
                _e(e.event_id),
                _e(day_name(e.day)),
                f"{_e(format_time(e.start))}–{_e(format_time(e.end))}",
                " ".join(_chip(p, colours) for p in e.providers),
                _fmt_int(len(e.visit_ids)),
                _e(_hours_minutes(e.travel_saved / 60)),
            ]
            for e in top
        ]
        out.append(
            f"<h3>Events in {_e(s.plan.label)}, most travel to save first</h3>"
            + _table(
                ["Event", "Day", "Time", "Providers", "Visits", "Travel saved"],
                rows,
                numeric=(4, 5),
            )
        )
        if len(s.events) > TOP_ROWS:
            out.append(f'<p class="more">… and {len(s.events) - TOP_ROWS:,} more.</p>')
    out.append("</section>")
    return "".join(out)


def _charter(before: _Side, after: _Side | None) -> str:
    sides = [before] if after is None else [before, after]
    reps = [s.charter for s in sides]

    def status(ok: bool | None) -> str:
        if ok is None:
            return '<span class="sev sev-info">◇ Figure</span>'
        return (
            '<span class="sev sev-ok">✔ Met</span>'
            if ok
            else '<span class="sev sev-high">▲ Not met</span>'
        )

    def cost(r: CharterReport) -> str:
        return "—" if r.travel_cost_total is None else f"£{r.travel_cost_total:,.2f}"

    checks: list[tuple[str, str, Callable[[CharterReport], str], bool | None]] = [
        (
            "Personal-care visits of 15 minutes or less",
            "UNISON Ethical Care Charter, stage 1",
            lambda r: f"{r.short_personal_care:,} of {r.short_visits:,} short visits",
            reps[-1].short_personal_care == 0,
        ),
        (
            "Visits of 30 minutes or more",
            "NICE QS123, statement 4",
            lambda r: f"{r.visits_30_plus:,} of {r.visits:,} ({r.share_30_plus:.0%})",
            None,
        ),
        (
            "Back-to-back visits without enough travel time",
            "Ethical Care Charter, stage 1",
            lambda r: f"{r.back_to_back_short:,}",
            reps[-1].back_to_back_short == 0,
        ),
        (
            "Travel time to be paid, per carer per week",
            "Ethical Care Charter, stage 1",
            lambda r: _hours_minutes(r.travel_min_per_carer),
            None,
        ),
        ("Travel cost in the week", "Ethical Care Charter, stage 1", cost, None),
        (
            "Different carers per client (mean)",
            "Ethical Care Charter, stage 2",
            lambda r: _value(HEADLINE[4], r.continuity["mean_carers"]),
            None,
        ),
        (
            "Carer-visits by regular carers",
            "Ethical Care Charter, stage 2; NICE QS123",
            lambda r: _value(HEADLINE[5], r.continuity["share_regular"]),
            None,
        ),
    ]
    rows = [
        [f'{_e(name)}<div class="note">{_e(std)}</div>', *(_e(f(r)) for r in reps), status(ok)]
        for name, std, f, ok in checks
    ]
    out = [
        '<section id="charter"><h2><span class="num">5</span> Ethical Care Charter and'
        " NICE QS123</h2>",
        _table(
            ["Check", *(s.plan.label for s in sides), f"Status ({sides[-1].plan.label})"],
            rows,
            numeric=range(1, len(sides) + 1),
            cls="charter",
        ),
    ]
    last = reps[-1]
    gaps = last.gap_table.head(TOP_ROWS)
    if len(gaps):
        rows = [
            [
                _e(r["carer_id"]),
                _e(r["provider"]),
                _e(r["day"]),
                _e(r["prev_visit_id"]),
                _e(r["prev_end"]),
                _e(r["visit_id"]),
                _e(r["start"]),
                _e(_fmt_1(r["travel_min"])),
                _e(_fmt_1(r["short_min"])),
            ]
            for r in gaps.to_dict("records")
        ]
        out.append(
            f"<h3>Back-to-back visits without travel time in {_e(sides[-1].plan.label)}</h3>"
            + _table(
                [
                    "Carer",
                    "Provider",
                    "Day",
                    "From visit",
                    "Ends",
                    "To visit",
                    "Starts",
                    "Travel min",
                    "Short by min",
                ],
                rows,
                numeric=(7, 8),
            )
        )
        if len(last.gap_table) > TOP_ROWS:
            out.append(f'<p class="more">… and {len(last.gap_table) - TOP_ROWS:,} more.</p>')
    out.append("</section>")
    return "".join(out)


_CSS = """
:root { --ink:#1d2733; --muted:#5d6b7a; --line:#dfe5ec; --bg:#f4f6f9; --card:#fff;
  --good:#1e7b46; --bad:#b42318; --warn:#9a6100; --accent:#1f4e79; }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { margin:0; background:var(--bg); color:var(--ink);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  "Liberation Sans", "DejaVu Sans", sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 0 24px 40px; }
header.title { background: var(--accent); color:#fff; padding: 22px 24px 18px; }
header.title > * { max-width: 1132px; margin-left:auto; margin-right:auto; }
.brand { font-size: 12px; letter-spacing: .08em; text-transform: uppercase; opacity:.8; }
h1 { font-size: 28px; margin: 4px auto 12px; font-weight: 650; }
dl.meta { display:flex; flex-wrap:wrap; gap: 4px 28px; margin: 0 auto; font-size: 14px; }
dl.meta dt { font-size: 11px; text-transform: uppercase; letter-spacing:.06em; opacity:.75; }
dl.meta dd { margin:0; }
header.title .muted { color: #d6e2ee; }
nav { max-width:1132px; margin: 14px auto 0; font-size: 13px; color: var(--muted); }
nav a { color: var(--accent); text-decoration:none; margin-right: 16px; }
section { background: var(--card); border:1px solid var(--line); border-radius: 10px;
  padding: 18px 22px 20px; margin-top: 18px; }
h2 { font-size: 20px; margin: 0 0 12px; display:flex; align-items:center; gap:10px; }
h2 .num { display:inline-flex; width:28px; height:28px; border-radius:50%;
  background:var(--accent); color:#fff; font-size:15px; align-items:center;
  justify-content:center; }
h3 { font-size: 16px; margin: 18px 0 6px; }
.lead { color: var(--muted); margin: 0 0 12px; }
.muted { color: var(--muted); }
.cards { display:grid; grid-template-columns: repeat(auto-fit, minmax(190px, 1fr)); gap:12px;
  margin-bottom: 16px; }
.card { border:1px solid var(--line); border-left: 5px solid var(--accent); border-radius:8px;
  padding: 10px 14px; background: #fbfcfe; }
.card-label { font-size: 13px; color: var(--muted); }
.card-value { font-size: 26px; font-weight: 700; line-height:1.2; margin: 2px 0;
  font-variant-numeric: tabular-nums; white-space: nowrap; }
.was { font-size: 13px; color: var(--muted); }
.delta { font-size: 13px; font-weight: 600; }
td .delta { white-space: nowrap; }
.delta.better { color: var(--good); } .delta.worse { color: var(--bad); }
.delta.same { color: var(--muted); font-weight: 400; }
.delta .word { font-weight: 400; font-size: 12px; }
table { border-collapse: collapse; width: 100%; font-size: 14px; margin: 6px 0; }
th { text-align:left; font-size: 12px; text-transform: uppercase; letter-spacing: .04em;
  color: var(--muted); border-bottom: 2px solid var(--line); padding: 6px 8px; }
td { border-bottom: 1px solid var(--line); padding: 6px 8px; vertical-align: top; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
th.num { text-align: right; }
table.kpis td .v { font-size: 16px; font-weight: 600; }
table.narrow { width: auto; min-width: 360px; }
table.kpis.single { max-width: 640px; }
.note { font-size: 12px; color: var(--muted); }
figure { margin: 10px 0 16px; }
figcaption { font-weight: 600; margin-bottom: 4px; }
.two { display:grid; grid-template-columns: 1fr 1fr; gap: 22px; align-items: start; }
@media (max-width: 900px) { .two { grid-template-columns: 1fr; } }
svg.chart { display:block; max-width: 100%; height:auto; font-family: inherit; }
figure.wide svg.chart { margin: 0 auto; }
svg .grid { stroke: #e7ecf1; stroke-width: 1; }
svg .axis { font-size: 11px; fill: var(--muted); }
svg .label { font-size: 13px; fill: var(--ink); }
svg .value { font-size: 12px; fill: var(--ink); }
svg .value.small { font-size: 11px; }
svg .strong { font-weight: 700; } svg .bad { fill: var(--bad); }
svg .muted { fill: var(--muted); }
svg .cell { fill: #fafbfc; stroke: #eef1f4; }
svg .capacity { fill: #c9d3dd; }
svg .demand { fill: #2b4c6f; } svg .demand.near { fill: #d68910; }
svg .demand.short { fill: #c0392b; }
.legend { display:flex; flex-wrap:wrap; gap: 4px 16px; font-size: 13px; color: var(--muted);
  margin: 2px 0 6px; }
.swatch { display:inline-block; width: 14px; height: 12px; margin-right: 6px;
  vertical-align: -1px; border-radius: 2px; }
.chip { white-space: nowrap; }
.chip i { display:inline-block; width: 10px; height: 10px; border-radius: 50%;
  margin-right: 5px; vertical-align: 0; border: 1px solid rgba(0,0,0,.25); }
.sev { display:inline-block; white-space:nowrap; font-size: 12px; font-weight: 700;
  padding: 1px 8px; border-radius: 10px; border: 1px solid currentColor; }
.sev-high { color: var(--bad); background: #fdecea; }
.sev-medium { color: var(--warn); background: #fdf3e1; }
.sev-low, .sev-info, .sev-none { color: var(--muted); background: #f1f3f5; }
.sev-ok { color: var(--good); background: #e8f5ee; }
.exgroup { border-left: 4px solid var(--line); padding: 2px 0 4px 14px; margin: 14px 0; }
.exgroup.ex-high { border-left-color: var(--bad); }
.exgroup.ex-medium { border-left-color: #d68910; }
.exgroup h3 { margin-top: 4px; display:flex; gap: 10px; align-items: center; }
.exgroup .summary { margin: 0 0 4px; color: var(--muted); }
table.ex td:nth-child(5) { width: 62%; }
.more { color: var(--muted); font-size: 13px; margin: 2px 0 0; }
.stats { display:flex; flex-wrap:wrap; gap: 8px 24px; margin-bottom: 8px; }
.stat b { font-size: 22px; }
details.counts { margin: 0 0 6px; font-size: 14px; }
details.counts summary { cursor: pointer; color: var(--accent); }
dl.details { display:grid; grid-template-columns: max-content 1fr; gap: 2px 16px; font-size:14px; }
dl.details div { display: contents; }
dl.details dt { color: var(--muted); } dl.details dd { margin:0; }
footer { color: var(--muted); font-size: 12px; margin-top: 18px; }
code { background: #eef1f5; padding: 0 4px; border-radius: 3px; }
@media print {
  body { background:#fff; font-size: 11pt; }
  header.title { background:#fff; color: var(--ink); border-bottom: 3px solid var(--ink);
    padding: 0 0 8px; }
  header.title .muted { color: var(--muted); }
  nav { display:none; }
  main { padding: 0; max-width: none; }
  section { border: none; border-radius: 0; padding: 0; margin-top: 14pt; break-inside: auto; }
  h2, h3, figure, .card, tr, .exgroup h3 { break-inside: avoid; break-after: avoid-page; }
  .cards { grid-template-columns: repeat(5, 1fr); }
  details.counts > * { display: block; }
  @page { margin: 14mm; }
}
"""


def _page(
    roster: Roster, title: str, before: _Side, after: _Side | None, extra: Mapping[str, Any]
) -> str:
    colours = provider_colours(p.provider for p in roster.providers)
    nav = (
        '<nav><a href="#headline">Headline</a><a href="#charts">At a glance</a>'
        '<a href="#exceptions">Exceptions</a><a href="#duplicates">Duplicates</a>'
        '<a href="#charter">Charter checks</a></nav>'
    )
    body = "".join(
        [
            _headline(before, after, extra),
            _charts(before, after, colours),
            _exceptions(before, after),
            _duplicates(before, after, colours),
            _charter(before, after),
        ]
    )
    footer = (
        "<footer>Travel is door to door over the road network; contact time counts each carer of"
        " a double-handed visit. The as-is is the roster's allocation played out on the same"
        " travel times (a carer who cannot make a visit on time starts it on arrival)."
        f" Made by carerun {_e(__version__)}.</footer>"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en-GB"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f"{_title_block(roster, title, before, after)}<main>{nav}{body}{footer}</main>"
        "</body></html>\n"
    )


def write_report(
    roster: Roster,
    asis: Plan,
    plan: Plan | None,
    path: str | Path,
    *,
    title: str | None = None,
    matrix: TravelMatrix | None = None,
    extra_kpis: Mapping[str, Any] | None = None,
) -> Path:
    """Write the before/after report, one self-contained HTML file that opens offline.

    Parameters
    ----------
    roster
        The week the plans are for.
    asis
        The roster as it stands (:func:`carerun.asis.asis_plan`).
    plan
        The optimised plan, or ``None`` for a report of the as-is alone (``carerun analyse``).
    path
        Where to write (usually ``report.html`` in the output folder); written atomically.
    title
        Heading of the report (default: a plain one naming the roster).
    matrix
        Travel times; when given, the headline also counts impossible back-to-back gaps.
    extra_kpis
        Facts to show under the headline, label → value (solver time, seed, …), as given.

    Returns
    -------
    pathlib.Path
        `path`.
    """
    before, after = _sides(roster, asis, plan, matrix)
    if title is None:
        what = "before and after" if plan is not None else "as it stands"
        title = f"Care visits {what}" + (f": {roster.name}" if roster.name else "")
    text = _page(roster, title, before, after, dict(extra_kpis or {}))
    path = Path(path)
    with atomic_write(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    return path
