"""The coordination outputs that `analyse`, `plan` and the demo write beside their tables.

``duplicates.csv`` and ``exceptions.csv`` (for the plan when there is one, else the roster as
it stands), ``report.html`` (before/after), and, given a road network, the meeting map
``map.html``, ``coverage.gpkg`` and PNG figures. The report's figures are returned so that
``summary.json`` carries the same numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from carerun.alerts import exceptions_frame, write_exceptions_csv
from carerun.duplicates import find_duplicates, write_duplicates_csv
from carerun.matrix import TravelMatrix
from carerun.model import Plan, Roster
from carerun.report import report_figures, write_report


def write_coordination(
    roster: Roster,
    asis: Plan,
    plan: Plan | None,
    out_dir: str | Path,
    *,
    matrix: TravelMatrix,
    network: Any = None,
    extra_kpis: Mapping[str, Any] | None = None,
    title: str | None = None,
) -> tuple[dict[str, Any], list[Path]]:
    """Write the duplicates, exceptions, report and (with `network`) map outputs.

    Returns
    -------
    tuple
        The report's figures (JSON-ready, for ``summary.json``) and the paths written.
    """
    out = Path(out_dir)
    shown = plan if plan is not None else asis
    events = find_duplicates(roster, shown)
    paths = [
        write_duplicates_csv(events, out / "duplicates.csv"),
        write_exceptions_csv(
            exceptions_frame(roster, shown, planned_gaps=plan is None), out / "exceptions.csv"
        ),
        write_report(
            roster,
            asis,
            plan,
            out / "report.html",
            title=title,
            matrix=matrix,
            extra_kpis=extra_kpis,
        ),
    ]
    if network is not None:
        paths += write_meeting_map(
            roster,
            shown,
            out,
            network=network,
            events=events,
            label="plan" if plan is not None else "as it stands",
        )[1]
    figures = report_figures(roster, asis, plan, matrix=matrix, extra_kpis=extra_kpis)
    return figures, paths


def write_meeting_map(
    roster: Roster,
    plan: Plan,
    out_dir: str | Path,
    *,
    network: Any,
    events: Any = None,
    label: str = "as it stands",
    cell_m: float = 500.0,
    min_clients: int = 3,
    title: str | None = None,
) -> tuple[dict[str, Any], list[Path]]:
    """``map.html``, ``coverage.gpkg`` and ``figures/*.png`` for one plan.

    Returns the map's title-block figures and the paths written.
    """
    from carerun.geo import coverage_layers, write_coverage
    from carerun.maps import coverage_figures, write_map
    from carerun.plot import plot_all

    out = Path(out_dir)
    layers = coverage_layers(
        roster,
        plan=plan,
        network=network,
        duplicates=find_duplicates(roster, plan) if events is None else events,
        cell_m=cell_m,
        min_clients=min_clients,
    )
    gpkg = write_coverage(layers, out / "coverage.gpkg")
    heading = title or f"Coverage: {roster.name or 'roster'} ({label})"
    figures = coverage_figures(layers, roster)
    page = write_map(layers, out / "map.html", network=network, title=heading, figures=figures)
    pngs = plot_all(layers, out / "figures", network=network).values()
    return dict(figures), [gpkg, page, *pngs]
