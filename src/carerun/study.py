"""Travel-time studies: run what-if scenarios on one roster and compare their headline KPIs.

A study file (TOML) names a roster, a road network and a list of scenarios::

    [study]
    name = "Rutland what-ifs"
    roster = "week/"                 # relative to the study file
    osm = "rutland-latest.osm.pbf"   # a file, "default", or a place name
    run = "plan"                     # default for scenarios: "asis" or "plan"
    time_limit = 10                  # seconds per day sub-problem
    seed = 1

    [[scenario]]
    name = "as it stands"
    run = "asis"

    [[scenario]]
    name = "pooled patches"
    pool_providers = true

    [[scenario]]
    name = "Oakham carers walk"
    change_mode = { team = "Oakham", mode = "walk" }

Every scenario is one task. The road network's travel matrix is computed once, for every point
any scenario needs, and shared with the workers once (see :mod:`carerun.parallel`).
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from carerun._errors import InputError
from carerun._io import atomic_write
from carerun.matrix import TravelMatrix
from carerun.model import Roster
from carerun.parallel import Progress, run_tasks
from carerun.scenarios import Scenario, scenario_from_dict, scenario_modes, scenario_points

STUDY_KEYS = {"name", "roster", "osm", "run", "time_limit", "seed", "mapping", "postcodes"}


@dataclass(frozen=True)
class Study:
    """A roster source, a network source and the scenarios to run on them."""

    name: str
    roster: Path
    osm: str
    scenarios: tuple[Scenario, ...]
    time_limit: float = 10.0
    seed: int = 1
    mapping: Path | None = None
    postcodes: Path | None = None


@dataclass(frozen=True)
class ScenarioResult:
    """What one scenario produced: its KPIs, and the plan itself for writing out."""

    name: str
    run: str
    kpis: Mapping[str, float]
    roster: Roster = field(repr=False)
    plan: Any = field(repr=False)


def read_study(path: str | Path) -> Study:
    """Read a study file; paths inside it are relative to the file."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        msg = f"study file {path} does not exist"
        raise InputError(msg) from None
    except tomllib.TOMLDecodeError as exc:
        msg = f"{path}: not valid TOML: {exc}"
        raise InputError(msg) from None
    head = data.get("study")
    if not isinstance(head, dict):
        msg = f"{path}: needs a [study] table with `roster` and `osm`"
        raise InputError(msg)
    unknown = sorted(set(head) - STUDY_KEYS)
    if unknown:
        msg = f"{path}: unknown key(s) in [study]: {', '.join(unknown)}"
        raise InputError(msg)
    for key in ("roster", "osm"):
        if key not in head:
            msg = f"{path}: [study] needs `{key}`"
            raise InputError(msg)
    tables = data.get("scenario", [])
    if not tables:
        msg = f"{path}: no [[scenario]] tables; add at least one"
        raise InputError(msg)
    run = head.get("run", "plan")
    scenarios = tuple(
        scenario_from_dict(t, default_run=run, where=f"{path} scenario {i + 1}")
        for i, t in enumerate(tables)
    )
    names = [s.name for s in scenarios]
    if len(set(names)) != len(names):
        msg = f"{path}: scenario names must be distinct"
        raise InputError(msg)
    base = path.parent
    osm = str(head["osm"])
    if (base / osm).exists():
        osm = str(base / osm)
    return Study(
        name=str(head.get("name", path.stem)),
        roster=base / str(head["roster"]),
        osm=osm,
        scenarios=scenarios,
        time_limit=float(head.get("time_limit", 10.0)),
        seed=int(head.get("seed", 1)),
        mapping=base / head["mapping"] if "mapping" in head else None,
        postcodes=base / head["postcodes"] if "postcodes" in head else None,
    )


def study_matrix(roster: Roster, scenarios: Sequence[Scenario], network: Any) -> TravelMatrix:
    """One travel matrix covering every scenario's doors and bases."""
    from carerun.matrix import travel_matrix

    return travel_matrix(
        network, scenario_points(roster, scenarios), modes=scenario_modes(roster, scenarios)
    )


def run_scenario(
    scenario: Scenario,
    *,
    roster: Roster,
    matrix: TravelMatrix,
    time_limit: float,
    seed: int,
) -> ScenarioResult:
    """Apply a scenario's changes and analyse or plan the result (one study task)."""
    from carerun.asis import asis_plan
    from carerun.solve import SolveParams, plan_week

    changed = scenario.apply(roster)
    if scenario.run == "asis":
        plan = asis_plan(changed, matrix)
    else:
        params = SolveParams(
            time_limit=float(scenario.settings.get("time_limit", time_limit)),
            seed=int(scenario.settings.get("seed", seed)),
            respect_providers=not scenario.pool_providers,
        )
        plan = plan_week(changed, matrix, params)
    return ScenarioResult(scenario.name, scenario.run, headline_kpis(changed, plan), changed, plan)


def headline_kpis(roster: Roster, plan: Any) -> dict[str, float]:
    """The figures a study compares, for one roster and its plan (as the report shows them)."""
    from carerun.report import report_summary

    side = report_summary(roster, plan, None)["asis"]
    keys = (
        "travel_min",
        "distance_km",
        "contact_hours",
        "travel_per_contact_hour",
        "duplicate_events",
        "mean_carers_per_client",
        "share_regular",
        "visits_unassigned",
        "lateness_min_total",
    )
    out = {k: float(side[k]) if side[k] is not None else float("nan") for k in keys}
    out["carers"] = float(len(roster.carers))
    return out


def run_study(
    study: Study,
    *,
    roster: Roster | None = None,
    network: Any = None,
    workers: int = 1,
    scheduler: str | None = None,
    progress: Progress | None = None,
) -> list[ScenarioResult]:
    """Run every scenario of `study`, locally or on Dask; results in the study's order."""
    from carerun.network import load_network
    from carerun.roster import read_roster

    if roster is None:
        roster = read_roster(study.roster, mapping=study.mapping, postcodes=study.postcodes)
    if network is None:
        network = load_network(study.osm)
    matrix = study_matrix(roster, study.scenarios, network)
    return run_tasks(
        run_scenario,
        study.scenarios,
        shared={
            "roster": roster,
            "matrix": matrix,
            "time_limit": study.time_limit,
            "seed": study.seed,
        },
        workers=workers,
        scheduler=scheduler,
        labels=[s.name for s in study.scenarios],
        progress=progress,
    )


def results_table(results: Sequence[ScenarioResult]) -> pd.DataFrame:
    """One row per scenario, the headline KPIs side by side, and the change against the first."""
    rows = [{"scenario": r.name, "run": r.run, **r.kpis} for r in results]
    table = pd.DataFrame(rows)
    if len(table) and "travel_per_contact_hour" in table:
        first = float(table["travel_per_contact_hour"].iloc[0])
        change = (
            (table["travel_per_contact_hour"] / first - 1.0) * 100
            if first
            else 0.0 * table["travel_per_contact_hour"]
        )
        table["travel_per_contact_hour_change_pct"] = change.round(1)
    return table


def write_study(
    results: Sequence[ScenarioResult], out_dir: str | Path, *, title: str
) -> list[Path]:
    """Write the comparison table (CSV, JSON, HTML, chart) and each scenario's plan folder."""
    from carerun.outputs import write_plan_folder

    out = Path(out_dir)
    table = results_table(results)
    written: list[Path] = []
    csv_path = out / "scenarios.csv"
    with atomic_write(csv_path, newline="", encoding="utf-8") as fh:
        table.to_csv(fh, index=False)
    written.append(csv_path)
    json_path = out / "scenarios.json"
    with atomic_write(json_path, encoding="utf-8") as fh:
        json.dump({"study": title, "scenarios": table.to_dict(orient="records")}, fh, indent=2)
    written.append(json_path)
    chart = out / "scenarios.png"
    _plot_chart(table, chart, title=title)
    written.append(chart)
    html_path = out / "scenarios.html"
    with atomic_write(html_path, encoding="utf-8") as fh:
        fh.write(_study_html(table, title, chart))
    written.append(html_path)
    for r in results:
        folder = out / "scenarios" / _slug(r.name)
        written += write_plan_folder(r.roster, r.plan, folder)
    return written


def _plot_chart(table: pd.DataFrame, path: Path, *, title: str) -> None:
    """Travel per contact hour per scenario, as bars a planning officer reads at a glance."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from carerun._io import atomic_path

    fig, ax = plt.subplots(figsize=(8, 0.5 * len(table) + 1.5))
    bars = ax.barh(
        table["scenario"],
        table["travel_per_contact_hour"],
        color="#4c72b0",
        edgecolor="black",
        hatch="//",
    )
    ax.bar_label(bars, fmt="%.1f", padding=3)
    ax.invert_yaxis()
    ax.set_xlabel("travel minutes per contact hour")
    ax.set_title(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)


def _slug(name: str) -> str:
    keep = "".join(ch if ch.isalnum() else "-" for ch in name.lower())
    return "-".join(p for p in keep.split("-") if p) or "scenario"


def _study_html(table: pd.DataFrame, title: str, chart: Path) -> str:
    import base64
    import html

    img = base64.b64encode(chart.read_bytes()).decode("ascii")
    body = table.to_html(index=False, border=0, classes="kpis", float_format=lambda x: f"{x:,.2f}")
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>"
        "body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
        "table.kpis{border-collapse:collapse}table.kpis td,table.kpis th"
        "{padding:.3em .8em;border-bottom:1px solid #ccc;text-align:right}"
        "table.kpis td:first-child,table.kpis th:first-child{text-align:left}"
        "</style></head><body>"
        f"<section id='study'><h2>{html.escape(title)}: scenarios side by side</h2>{body}"
        f"<p><img alt='travel per contact hour by scenario' src='data:image/png;base64,{img}'>"
        "</p></section></body></html>"
    )
