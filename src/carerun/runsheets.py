"""Run sheets: each carer's day as they will work it, in a workbook and a printable page.

:func:`runsheet_days` lays every carer-day of a plan out once (times, client reference, address,
what to do, the travel between, the partner on a double-handed visit);
:func:`write_runsheets_xlsx` writes them as one sheet per carer with a block per day, and
:func:`write_runsheets_html` as one self-contained HTML file that prints one page per carer per
day. Both write atomically; every text cell of the workbook goes through
:func:`~carerun._io.safe_cell` and every text of the page is HTML-escaped, since client names and
notes come from other people's spreadsheets.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from carerun._io import atomic_path, atomic_write, safe_cell
from carerun.model import Plan, Roster, day_name, format_time


@dataclass(frozen=True, slots=True)
class RunsheetRow:
    """One visit on a carer's run sheet."""

    start: str
    end: str
    visit_id: str
    client_id: str
    address: str
    postcode: str
    duration_min: int
    tasks: str
    skills: str
    partner: str
    travel_before_min: float
    distance_before_km: float


@dataclass(frozen=True, slots=True)
class RunsheetDay:
    """A carer's day: heading facts, the visits in order and the journey home."""

    carer_id: str
    provider: str
    day: str
    date: str
    mode: str
    rows: tuple[RunsheetRow, ...]
    travel_home_min: float
    distance_home_km: float

    @property
    def title(self) -> str:
        when = f"{self.day} {self.date}".strip()
        return f"{self.carer_id} ({self.provider}) — {when}"


HEADINGS = (
    "Start",
    "End",
    "Visit",
    "Client",
    "Address",
    "Postcode",
    "Minutes",
    "What to do",
    "Skills",
    "With",
    "Travel before (min)",
    "Distance before (km)",
)


def runsheet_days(roster: Roster, plan: Plan) -> list[RunsheetDay]:
    """Every carer-day of `plan`, carer then day order, visits in the order they are done."""
    carers_of: dict[str, list[str]] = {}
    for a in plan.assignments:
        carers_of.setdefault(a.visit_id, []).append(a.carer_id)
    days = []
    for (cid, day), run in plan.routes().items():
        carer = roster.carer(cid)
        rows = []
        for a in run:
            v = roster.visit(a.visit_id)
            rows.append(
                RunsheetRow(
                    start=format_time(a.start),
                    end=format_time(a.start + v.duration),
                    visit_id=v.visit_id,
                    client_id=v.client_id,
                    address=v.location.address,
                    postcode=v.location.postcode,
                    duration_min=round(v.duration / 60),
                    tasks=v.tasks,
                    skills="; ".join(sorted(v.skills)),
                    partner="; ".join(sorted(c for c in carers_of[v.visit_id] if c != cid)),
                    travel_before_min=round(a.travel_before / 60, 1),
                    distance_before_km=round(a.distance_before / 1000, 2),
                )
            )
        date = roster.date_of(day)
        days.append(
            RunsheetDay(
                carer_id=cid,
                provider=carer.provider,
                day=day_name(day),
                date="" if date is None else date.isoformat(),
                mode=carer.mode.value,
                rows=tuple(rows),
                travel_home_min=round(plan.travel_home.get((cid, day), 0) / 60, 1),
                distance_home_km=round(plan.distance_home.get((cid, day), 0.0) / 1000, 2),
            )
        )
    return days


def _what_to_do(tasks: str, skills: str) -> str:
    """Tasks then the skills the visit needs, each once: a carer reads it at the door."""
    items = [x.strip() for text in (tasks, skills) for x in text.split(";") if x.strip()]
    return "; ".join(dict.fromkeys(items))


def _row_values(r: RunsheetRow) -> tuple[Any, ...]:
    return (
        r.start,
        r.end,
        r.visit_id,
        r.client_id,
        r.address,
        r.postcode,
        r.duration_min,
        r.tasks,
        r.skills,
        r.partner,
        r.travel_before_min,
        r.distance_before_km,
    )


# Workbook -------------------------------------------------------------------------------

_BAD_TITLE = re.compile(r"[\[\]:*?/\\]")


def _sheet_title(carer_id: str, taken: set[str]) -> str:
    """A valid, unique worksheet name (31 characters, none of ``[]:*?/\\``, no edge quote)."""
    base = _BAD_TITLE.sub("_", carer_id).strip("'")[:31] or "carer"
    title, n = base, 1
    while title.lower() in taken:
        n += 1
        title = f"{base[: 31 - len(str(n)) - 1]}~{n}"
    taken.add(title.lower())
    return title


def _xl(value: Any) -> Any:
    """A cell value openpyxl accepts and a spreadsheet will not run."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
    return safe_cell(value)


def write_runsheets_xlsx(roster: Roster, plan: Plan, path: str | Path) -> Path:
    """Write one worksheet per carer, a block per day worked; returns `path`.

    Each block is a title line, the column headings, one row per visit and the journey home.
    The file replaces `path` only once it is complete.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Font

    path = Path(path)
    wb = Workbook()
    wb.remove(wb.active)  # type: ignore[arg-type]
    taken: set[str] = set()
    sheets: dict[str, Any] = {}
    bold = Font(bold=True)
    for d in runsheet_days(roster, plan):
        if d.carer_id not in sheets:
            ws = wb.create_sheet(_sheet_title(d.carer_id, taken))
            ws.append([_xl(f"Run sheet: {d.carer_id} ({d.provider}, {d.mode})")])
            ws.cell(row=1, column=1).font = bold
            for col, width in zip(
                "ABCDEFGHIJKL", (7, 7, 12, 14, 32, 10, 8, 30, 16, 14, 10, 10), strict=True
            ):
                ws.column_dimensions[col].width = width
            sheets[d.carer_id] = ws
        ws = sheets[d.carer_id]
        ws.append([])
        ws.append([_xl(d.title)])
        ws.cell(row=ws.max_row, column=1).font = bold
        ws.append(list(HEADINGS))
        for cell in ws[ws.max_row]:
            cell.font = bold
        for r in d.rows:
            ws.append([_xl(x) for x in _row_values(r)])
        ws.append(
            [
                _xl("back to base"),
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                d.travel_home_min,
                d.distance_home_km,
            ]
        )
    if not sheets:
        wb.create_sheet("no visits").append(["This plan assigns no visits."])
    with atomic_path(path) as tmp:
        wb.save(tmp)
    return path


# Printable page -------------------------------------------------------------------------

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Arial, sans-serif; margin: 1.5em; }
.sheet { page-break-after: always; break-after: page; margin-bottom: 3em; }
.sheet:last-child { page-break-after: auto; break-after: auto; }
h1 { font-size: 1.3em; margin: 0 0 .2em; }
.meta { color: #444; margin: 0 0 .8em; }
table { border-collapse: collapse; width: 100%; font-size: .9em; }
th, td { border: 1px solid #999; padding: .3em .4em; text-align: left; vertical-align: top; }
th { background: #eee; }
tr.travel td { border: none; color: #555; font-style: italic; padding: .15em .4em; }
td.num { text-align: right; }
@media print { body { margin: 0; } .sheet { margin: 0; } }
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _sheet_html(d: RunsheetDay) -> str:
    parts = [
        '<section class="sheet">',
        f"<h1>{_e(d.title)}</h1>",
        f'<p class="meta">{len(d.rows)} visits · travels by {_e(d.mode)}</p>',
        "<table><thead><tr><th>Start</th><th>End</th><th>Client</th><th>Address</th>"
        "<th>Min</th><th>What to do</th><th>With</th></tr></thead><tbody>",
    ]
    for r in d.rows:
        parts.append(
            f'<tr class="travel"><td colspan="7">travel {r.travel_before_min:g} min'
            f" ({r.distance_before_km:g} km)</td></tr>"
        )
        todo = _what_to_do(r.tasks, r.skills)
        address = ", ".join(x for x in (r.address, r.postcode) if x)
        parts.append(
            f"<tr><td>{_e(r.start)}</td><td>{_e(r.end)}</td>"
            f"<td>{_e(r.client_id)}<br><small>{_e(r.visit_id)}</small></td>"
            f'<td>{_e(address)}</td><td class="num">{r.duration_min}</td>'
            f"<td>{_e(todo)}</td><td>{_e(r.partner)}</td></tr>"
        )
    parts.append(
        f'<tr class="travel"><td colspan="7">back to base: travel {d.travel_home_min:g} min'
        f" ({d.distance_home_km:g} km)</td></tr>"
    )
    parts.append("</tbody></table></section>")
    return "\n".join(parts)


def runsheets_html(roster: Roster, plan: Plan) -> str:
    """The printable run sheets as one self-contained HTML document (no external files)."""
    days = runsheet_days(roster, plan)
    title = f"Run sheets — {roster.name or 'roster'} — {plan.label}"
    body = "\n".join(_sheet_html(d) for d in days) or "<p>This plan assigns no visits.</p>"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def write_runsheets_html(roster: Roster, plan: Plan, path: str | Path) -> Path:
    """Write :func:`runsheets_html` to `path` atomically; returns `path`."""
    path = Path(path)
    text = runsheets_html(roster, plan)
    with atomic_write(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    return path
