"""The meeting map: one self-contained HTML file of the coverage overlays that works offline.

Leaflet (BSD-2-Clause, vendored in ``carerun/data/js/leaflet`` with its licence) and its
stylesheet are inlined, with the stylesheet's images as data URIs; there is no tile server. The
road network drawn from the graph is the base layer. Each overlay has a toggle, the legend
explains every colour, and hovering or clicking a shape shows its figures. Coordinates are
WGS84 rounded to 5 decimals (about 1 m) and roads are simplified, which keeps a county (Rutland)
well under 10 MB.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from carerun._errors import InputError
from carerun._io import atomic_write
from carerun.geo import LAYER_ORDER, WGS84, GraphIndex, NetworkLike, projected_crs
from carerun.model import Mode, Roster, day_name
from carerun.plot import (
    DEMAND_COLOURS,
    DUPLICATE_COLOUR,
    MINUTE_COLOURS,
    OVERLAP_MIXED,
    OVERLAP_SAME,
    UNMET_COLOUR,
    class_breaks,
    layer_providers,
    provider_styles,
)

if TYPE_CHECKING:
    import geopandas as gpd

DECIMALS = 5
LAYER_LABELS = {
    "demand": "Demand (contact hours per cell)",
    "provider_areas": "Provider areas",
    "overlap": "Overlaps between providers",
    "duplicates": "Duplicate multi-provider events",
    "isochrones": "Reach from team bases",
    "unmet_need": "Unmet need (unassigned visits)",
    "routes": "Carer routes",
}
SHOWN_AT_START = ("provider_areas", "overlap", "duplicates", "unmet_need")
# Simplification tolerance in metres per layer: shapes stay true at street scale.
SIMPLIFY_M = {"isochrones": 20.0, "routes": 10.0, "roads": 5.0}
MAJOR_ROADS = {"motorway", "trunk", "primary", "motorway_link", "trunk_link", "primary_link"}
MINOR_ROADS = {"secondary", "tertiary", "secondary_link", "tertiary_link"}


def coverage_figures(
    layers: Mapping[str, gpd.GeoDataFrame], roster: Roster | None = None
) -> dict[str, str]:
    """The figures that matter in a coordination meeting, as label → text, in reading order."""
    out: dict[str, str] = {}
    if roster is not None:
        if roster.week_start is not None:
            out["Week of"] = roster.week_start.isoformat()
        hours = sum(v.duration * v.carers_required for v in roster.visits) / 3600
        clients = len(roster.client_ids)
        out["Contact"] = (
            f"{hours:,.0f} carer-hours, {len(roster.visits):,} visits, {clients} clients"
        )
    overlap = layers.get("overlap")
    if overlap is not None:
        mixed = overlap[overlap["in_house_external"].astype(bool)] if not overlap.empty else overlap
        out["Hours in overlaps"] = (
            f"{overlap['hours'].sum():,.0f} h in {int(overlap['cells'].sum())} cells"
            if not overlap.empty
            else "none"
        )
        if not mixed.empty:
            out["In-house/external overlap"] = f"{mixed['hours'].sum():,.0f} h"
    dups = layers.get("duplicates")
    if dups is not None:
        out["Duplicate events"] = f"{int(dups['events'].sum()) if not dups.empty else 0:,}"
    unmet = layers.get("unmet_need")
    if unmet is not None and not unmet.empty:
        out["Unmet need"] = f"{int(unmet['visits'].sum())} visits, {unmet['hours'].sum():,.1f} h"
    demand = layers.get("demand")
    if demand is not None and demand.attrs.get("suppressed_cells"):
        hidden = float(demand.attrs["suppressed_hours"])
        total = hidden + float(demand["hours"].sum())
        size = demand.attrs.get("cell_m")
        out["Hidden for privacy"] = (
            f"{hidden:,.0f} h in {demand.attrs['suppressed_cells']}"
            f" cells with fewer than {demand.attrs.get('min_clients', 3)} clients"
            f" ({hidden / total if total else 0:.0%} of hours"
            + (f"; cells {size:g} m across)" if size else ")")
        )
    return out


def write_map(
    layers: Mapping[str, gpd.GeoDataFrame],
    path: str | Path,
    *,
    network: NetworkLike | Mapping[Mode, Any] | None = None,
    title: str = "Care coverage",
    figures: Mapping[str, Any] | None = None,
    routes_day: int | None = None,
) -> Path:
    """Write the overlays as one offline HTML map (atomically) and return its path.

    Parameters
    ----------
    layers
        Overlays from :func:`carerun.geo.coverage_layers`; any subset, in any projected CRS.
    path
        The ``.html`` file to write.
    network
        Road graphs; the drive graph (else the first) is drawn as the base layer.
    title
        Heading of the title block.
    figures
        Label → value pairs shown under the title (see :func:`coverage_figures`).
    routes_day
        The day (0 = Mon) whose carer routes are drawn; default the first day with routes. A
        week of routes is tens of megabytes and unreadable on one map; the GeoPackage keeps
        them all.
    """
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        msg = f"`path` must end in .html, not {path.name!r}"
        raise InputError(msg)
    unknown = set(layers) - set(LAYER_ORDER)
    if unknown:
        msg = f"unknown layers {sorted(unknown)}; expected some of {', '.join(LAYER_ORDER)}"
        raise InputError(msg)
    providers = layer_providers(layers)
    styles = provider_styles(providers)
    labels = dict(LAYER_LABELS)
    data: dict[str, Any] = {"layers": {}, "labels": labels, "shown": SHOWN_AT_START}
    bounds: list[np.ndarray] = []
    for name in LAYER_ORDER:
        gdf = layers.get(name)
        if gdf is None:
            continue
        if gdf.crs is None:
            msg = f"layer {name!r} has no CRS"
            raise InputError(msg)
        if name == "routes" and not gdf.empty:
            day = int(gdf["day"].min()) if routes_day is None else routes_day
            gdf = gdf[gdf["day"] == day]
            labels[name] = f"{LAYER_LABELS[name]}, {day_name(day)}"
        data["layers"][name] = _geojson(gdf, SIMPLIFY_M.get(name, 0.0))
        if not gdf.empty and name not in ("routes", "isochrones"):  # frame where care happens
            bounds.append(gdf.to_crs(WGS84).total_bounds)
    if network is not None:
        roads = _roads(network)
        if roads is not None:
            data["roads"] = roads
            if not bounds:  # frame the overlays; the roads only when there is nothing else
                bounds.append(np.array(roads["bounds"]))
    if not bounds:
        msg = "nothing to draw: every layer is empty and there is no road network"
        raise InputError(msg)
    b = np.array(bounds)
    data["bounds"] = [
        [round(float(b[:, 1].min()), DECIMALS), round(float(b[:, 0].min()), DECIMALS)],
        [round(float(b[:, 3].max()), DECIMALS), round(float(b[:, 2].max()), DECIMALS)],
    ]
    data["styles"] = {
        "providers": {p: {"colour": s["colour"], "dash": s["svg_dash"]} for p, s in styles.items()},
        "demand": {"colours": list(DEMAND_COLOURS), "breaks": _demand_breaks(layers)},
        "minutes": {str(k): v for k, v in MINUTE_COLOURS.items()},
        "overlap": {"mixed": OVERLAP_MIXED, "same": OVERLAP_SAME},
        "unmet": UNMET_COLOUR,
        "duplicate": DUPLICATE_COLOUR,
    }
    page = _page(title, figures or {}, data)
    with atomic_write(path, encoding="utf-8") as fh:
        fh.write(page)
    return path


def _demand_breaks(layers: Mapping[str, gpd.GeoDataFrame]) -> list[float]:
    demand = layers.get("demand")
    if demand is None or demand.empty:
        return []
    return class_breaks(demand["hours"].to_numpy(), len(DEMAND_COLOURS))


def _round(geoms: Any) -> Any:
    return shapely.transform(geoms, lambda c: np.round(c, DECIMALS))


def _geojson(gdf: gpd.GeoDataFrame, simplify_m: float) -> dict[str, Any]:
    """A layer as a GeoJSON dict in WGS84, simplified and with rounded numbers."""
    out = gdf.copy()
    if simplify_m and not out.empty:
        if not out.crs.is_projected:
            out = out.to_crs(projected_crs(*_centre(out)))
        out["geometry"] = out.geometry.simplify(simplify_m)
    out = out.to_crs(WGS84)
    out["geometry"] = _round(out.geometry.to_numpy())
    for col in out.columns:
        if col != "geometry" and out[col].dtype.kind == "f":
            out[col] = out[col].round(2)
    out.attrs = {}
    return json.loads(out.to_json(drop_id=True, na="null"))


def _centre(gdf: gpd.GeoDataFrame) -> tuple[float, float]:
    w, s, e, n = gdf.to_crs(WGS84).total_bounds
    return ((s + n) / 2, (w + e) / 2)


def _road_class(highway: Any) -> str:
    values = highway if isinstance(highway, list) else [highway]
    if any(v in MAJOR_ROADS for v in values):
        return "major"
    if any(v in MINOR_ROADS for v in values):
        return "minor"
    return "local"


def _roads(network: NetworkLike | Mapping[Mode, Any]) -> dict[str, Any] | None:
    """The drive graph's roads, one direction each, as multi-lines per road class in WGS84."""
    graphs = network.graphs if hasattr(network, "graphs") else network
    if not graphs:
        return None
    graph = graphs.get(Mode.DRIVE) or next(iter(graphs.values()))
    if graph.number_of_nodes() == 0:
        return None
    xs = [d["x"] for _, d in graph.nodes(data=True)]
    ys = [d["y"] for _, d in graph.nodes(data=True)]
    crs = projected_crs(ys, xs)
    index = GraphIndex(graph, crs)
    highway: dict[tuple[Any, Any], Any] = {}
    for u, v, d in graph.edges(data=True):
        highway.setdefault((u, v), d.get("highway"))
    classes: dict[str, list[Any]] = {"major": [], "minor": [], "local": []}
    seen: set[tuple[int, int]] = set()
    for row, (a, b) in enumerate(index.edges):
        key = (int(min(a, b)), int(max(a, b)))
        if key in seen:
            continue
        seen.add(key)
        hw = highway.get((index.nodes[a], index.nodes[b]))
        classes[_road_class(hw)].append(index.lines[row])
    import geopandas as gpd

    features = []
    for cls, lines in classes.items():
        if not lines:
            continue
        merged = shapely.line_merge(shapely.multilinestrings(lines))
        simple = shapely.simplify(merged, SIMPLIFY_M["roads"])
        wgs = gpd.GeoSeries([simple], crs=crs).to_crs(WGS84).to_numpy()
        geom = _round(wgs)[0]
        features.append(
            {
                "type": "Feature",
                "properties": {"class": cls},
                "geometry": shapely.geometry.mapping(geom),
            }
        )
    bounds = [round(float(v), DECIMALS) for v in (min(xs), min(ys), max(xs), max(ys))]
    return {"type": "FeatureCollection", "features": features, "bounds": bounds}


def _asset(*parts: str) -> bytes:
    return resources.files("carerun").joinpath("data", "js", "leaflet", *parts).read_bytes()


def _leaflet_css() -> str:
    css = _asset("leaflet.css").decode("utf-8")

    def inline(match: re.Match[str]) -> str:
        data = base64.b64encode(_asset("images", match.group(1))).decode("ascii")
        return f"url(data:image/png;base64,{data})"

    return re.sub(r"url\(images/([\w.-]+\.png)\)", inline, css)


def _leaflet_js() -> str:
    js = _asset("leaflet.js").decode("utf-8")
    # No source map ships with the page: drop the pointer so no browser goes looking for it.
    return re.sub(r"//# sourceMappingURL=\S+\s*$", "", js)


def _script_json(data: Any) -> str:
    """JSON safe to place inside a <script> element."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _page(title: str, figures: Mapping[str, Any], data: Mapping[str, Any]) -> str:
    facts = "".join(
        f"<div class='fig'><span>{html.escape(str(k))}</span><b>{html.escape(str(v))}</b></div>"
        for k, v in figures.items()
    )
    return _TEMPLATE.format(
        title=html.escape(title),
        facts=facts,
        leaflet_css=_leaflet_css(),
        leaflet_js=_leaflet_js(),
        data=_script_json(data),
        app=_APP_JS,
    )


_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{leaflet_css}</style>
<style>
html, body {{ margin: 0; height: 100%; font: 14px/1.35 system-ui, sans-serif; color: #222; }}
body {{ display: flex; flex-direction: column; }}
header {{ padding: 8px 14px; background: #1f2d3d; color: #fff; }}
header h1 {{ margin: 0 0 4px; font-size: 19px; }}
.figs {{ display: flex; flex-wrap: wrap; gap: 4px 18px; font-size: 13px; }}
.fig span {{ opacity: .8; margin-right: 6px; }}
#map {{ flex: 1; background: #f3f1ec; }}
.legend {{ background: #fff; padding: 8px 10px; border-radius: 4px; max-height: 60vh;
  overflow-y: auto; box-shadow: 0 1px 4px rgba(0,0,0,.3); font-size: 12px; }}
.legend h4 {{ margin: 6px 0 3px; font-size: 12px; }}
.legend .row {{ display: flex; align-items: center; gap: 6px; margin: 2px 0; }}
.sw {{ width: 22px; height: 12px; display: inline-block; border: 1px solid #333; }}
.tip table {{ border-collapse: collapse; }}
.tip td {{ padding: 0 6px 0 0; vertical-align: top; }}
.tip td:first-child {{ color: #555; }}
</style>
</head>
<body>
<header><h1>{title}</h1><div class="figs">{facts}</div></header>
<div id="map"></div>
<script>{leaflet_js}</script>
<script>const DATA = {data};</script>
<script>{app}</script>
</body>
</html>
"""

_APP_JS = r"""
(function () {
  "use strict";
  const S = DATA.styles;
  const esc = (v) => String(v).replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;",
    ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
  const fmt = (v) => typeof v === "number" ? (Number.isInteger(v) ? v.toLocaleString("en-GB")
    : v.toLocaleString("en-GB", {maximumFractionDigits: 2})) : (v === null ? "" : String(v));
  const label = (k) => k.replace(/^hours_/, "hours: ").replace(/_/g, " ");
  const table = (name, props) => "<div class='tip'><b>" + esc(DATA.labels[name]) +
    "</b><table>" + Object.entries(props).filter(([, v]) => v !== null && v !== "" && v !== 0)
    .map(([k, v]) => "<tr><td>" + esc(label(k)) + "</td><td>" + esc(fmt(v)) + "</td></tr>")
    .join("") + "</table></div>";
  const prov = (p) => S.providers[p] || {colour: "#555", dash: ""};
  const demandColour = (h) => {
    const b = S.demand.breaks, c = S.demand.colours.slice(-b.length);
    for (let i = 0; i < b.length; i++) if (h <= b[i] + 1e-9) return c[i];
    return c[c.length - 1];
  };
  const style = {
    demand: (f) => ({color: "#333", weight: 0.5, fillColor: demandColour(f.properties.hours),
      fillOpacity: 0.75}),
    provider_areas: (f) => ({color: prov(f.properties.provider).colour, weight: 2,
      dashArray: prov(f.properties.provider).dash, fillColor: prov(f.properties.provider).colour,
      fillOpacity: 0.12}),
    overlap: (f) => {
      const c = f.properties.in_house_external ? S.overlap.mixed : S.overlap.same;
      return {color: c, weight: 2.5, fillColor: c, fillOpacity: 0.4};
    },
    isochrones: (f) => ({color: prov(f.properties.provider).colour, weight: 1,
      dashArray: prov(f.properties.provider).dash,
      fillColor: S.minutes[String(Math.round(f.properties.minutes))] || "#888",
      fillOpacity: 0.12}),
    unmet_need: () => ({color: "#000", weight: 1.5, dashArray: "4 3", fillColor: S.unmet,
      fillOpacity: 0.5}),
    routes: (f) => ({color: prov(f.properties.provider).colour, weight: 2, opacity: 0.7,
      dashArray: prov(f.properties.provider).dash}),
  };
  const map = L.map("map", {zoomSnap: 0.25, preferCanvas: false});
  map.attributionControl.addAttribution("Roads &copy; OpenStreetMap contributors (ODbL)");
  map.createPane("roads").style.zIndex = 350;
  const overlays = {};
  const rendered = [];
  if (DATA.roads) {
    const w = {major: 2.6, minor: 1.6, local: 0.9}, c = {major: "#6b6b6b", minor: "#8c8c8c",
      local: "#b0b0b0"};
    const roads = L.geoJSON(DATA.roads, {pane: "roads", interactive: false,
      renderer: L.canvas({pane: "roads", padding: 0.5}),
      style: (f) => ({color: c[f.properties.class], weight: w[f.properties.class], opacity: 1})});
    roads.addTo(map);
    overlays["Roads (OpenStreetMap)"] = roads;
    rendered.push("roads");
  }
  for (const [name, fc] of Object.entries(DATA.layers)) {
    const opts = {style: style[name]};
    if (name === "duplicates") {
      opts.pointToLayer = (f, ll) => L.circleMarker(ll, {
        radius: 4 + 2 * Math.sqrt(f.properties.events),
        color: "#fff", weight: 1.5, fillColor: S.duplicate, fillOpacity: 0.85});
    }
    opts.onEachFeature = (f, layer) => {
      const t = table(name, f.properties);
      layer.bindTooltip(t, {sticky: true});
      layer.bindPopup(t);
    };
    const layer = L.geoJSON(fc, opts);
    const n = fc.features.length;
    overlays[DATA.labels[name] + " (" + n + ")"] = layer;
    if (DATA.shown.includes(name)) layer.addTo(map);
    rendered.push(name);
  }
  L.control.layers(null, overlays, {collapsed: false}).addTo(map);
  L.control.scale({imperial: false}).addTo(map);
  const legend = L.control({position: "bottomright"});
  legend.onAdd = function () {
    const d = L.DomUtil.create("div", "legend");
    const row = (sw, text) => "<div class='row'>" + sw + "<span>" + esc(text) + "</span></div>";
    const box = (fill, line, dash, op) => "<svg width='26' height='14'><rect x='1' y='1' " +
      "width='24' height='12' fill='" + fill + "' fill-opacity='" + (op ?? 0.5) + "' stroke='" +
      line + "' stroke-width='2' stroke-dasharray='" + (dash || "") + "'/></svg>";
    let h = "<h4>Providers</h4>";
    for (const [p, s] of Object.entries(S.providers)) {
      h += row(box(s.colour, s.colour, s.dash, 0.2), p);
    }
    if (DATA.layers.demand && S.demand.breaks.length) {
      h += "<h4>Contact hours per cell</h4>";
      const b = S.demand.breaks, c = S.demand.colours.slice(-b.length);
      b.forEach((v, i) => { h += row(box(c[i], "#333", "", 0.8), "≤ " + fmt(v) + " h"); });
    }
    if (DATA.layers.overlap) {
      h += "<h4>Overlaps</h4>" + row(box(S.overlap.mixed, S.overlap.mixed), "in-house + external") +
        row(box(S.overlap.same, S.overlap.same), "external only");
    }
    if (DATA.layers.duplicates) {
      h += "<h4>Duplicate events</h4>" + row("<svg width='26' height='14'>" +
        "<circle cx='13' cy='7' r='6' fill='" +
        S.duplicate + "'/></svg>", "per cell, size = count");
    }
    if (DATA.layers.isochrones) {
      h += "<h4>Reach from team bases</h4>";
      for (const [m, c] of Object.entries(S.minutes)) {
        h += row(box(c, "#555", "", 0.5), "≤ " + m + " min");
      }
    }
    if (DATA.layers.unmet_need) {
      h += "<h4>Unmet need</h4>" + row(box(S.unmet, "#000", "4 3"), "unassigned visits");
    }
    d.innerHTML = h;
    L.DomEvent.disableScrollPropagation(d);
    return d;
  };
  legend.addTo(map);
  map.fitBounds(DATA.bounds, {padding: [10, 10]});
  document.body.dataset.layers = rendered.join(" ");
  document.body.dataset.ready = "1";
})();
"""
