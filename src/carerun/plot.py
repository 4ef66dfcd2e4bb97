"""Static figures of the coverage overlays: PNG maps for reports and printed meeting packs.

Each figure draws the road network underneath, one overlay on top, a legend, a scale bar in
kilometres and a north arrow. Providers differ by hatching and line style as well as by colour,
so a figure stays readable when printed in black and white. Colours come from a fixed
colour-blind-safe palette (Okabe & Ito) given out in provider-id order, so the same providers
get the same colours on every run, here and in ``map.html``.

matplotlib is imported inside the functions, with the non-interactive Agg backend.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from carerun._errors import InputError
from carerun._io import atomic_path

if TYPE_CHECKING:
    import geopandas as gpd
    from matplotlib.axes import Axes

    from carerun.geo import NetworkLike

# Okabe & Ito (2008), without yellow (too faint on white paper) and black (kept for text).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#999933")
HATCHES = ("///", "\\\\\\", "...", "xxx", "|||", "---", "ooo")
DASHES = ("solid", "dashed", "dotted", "dashdot", (0, (8, 2, 2, 2)), (0, (1, 3)), (0, (6, 6)))
SVG_DASHES = ("", "8 4", "2 4", "10 4 2 4", "12 3 2 3 2 3", "1 5", "6 6")
DEMAND_COLOURS = ("#ffffcc", "#fed976", "#fd8d3c", "#e31a1c", "#800026")
MINUTE_COLOURS = {5: "#1a9850", 10: "#91cf60", 15: "#fdae61", 20: "#d73027"}
OVERLAP_MIXED = "#d7191c"
OVERLAP_SAME = "#7b3294"
UNMET_COLOUR = "#404040"
DUPLICATE_COLOUR = "#000000"
ROAD_COLOUR = "#9a9a9a"
FIGURE_LAYERS = ("demand", "provider_areas", "overlap", "duplicates", "isochrones", "unmet_need")


def provider_styles(providers: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Colour, hatch and dash pattern per provider, given out in sorted-id order.

    The same set of providers always gets the same styles; beyond seven providers the styles
    repeat.
    """
    out: dict[str, dict[str, Any]] = {}
    for i, p in enumerate(sorted(set(providers))):
        k = i % len(PALETTE)
        out[p] = {
            "colour": PALETTE[k],
            "hatch": HATCHES[k],
            "dash": DASHES[k],
            "svg_dash": SVG_DASHES[k],
        }
    return out


def layer_providers(layers: Mapping[str, gpd.GeoDataFrame]) -> list[str]:
    """Every provider id named in the overlay layers, sorted."""
    found: set[str] = set()
    for gdf in layers.values():
        for col in ("provider",):
            if col in gdf.columns:
                found.update(str(p) for p in gdf[col] if p)
        if "providers" in gdf.columns:
            found.update(p for ps in gdf["providers"] for p in str(ps).split(";") if p)
        found.update(c.removeprefix("hours_") for c in gdf.columns if c.startswith("hours_"))
    found.discard("unallocated")
    return sorted(found)


def class_breaks(values: Sequence[float] | np.ndarray, k: int = 5) -> list[float]:
    """Upper bounds of `k` quantile classes of `values` (fewer when values repeat)."""
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        return []
    qs = np.quantile(arr, np.linspace(0, 1, k + 1)[1:])
    return sorted({round(float(q), 2) for q in qs})


def _road_lines(network: NetworkLike | Mapping[Any, Any], crs: Any) -> Any:
    """Road centre lines of the network's drive graph (else its first) in `crs`."""
    from carerun.geo import GraphIndex
    from carerun.model import Mode

    graphs = network.graphs if hasattr(network, "graphs") else network
    if not graphs:
        return None
    graph = graphs.get(Mode.DRIVE) or next(iter(graphs.values()))
    return GraphIndex(graph, crs).lines


def _scale_bar(ax: Axes) -> None:
    """A bar of a round number of km in the lower left, about a fifth of the width."""
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    width = x1 - x0
    target = width / 5
    steps = [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100]
    km = max([s for s in steps if s * 1000 <= target] or [steps[0]])
    bar = km * 1000
    bx, by = x0 + width * 0.04, y0 + (y1 - y0) * 0.04
    h = (y1 - y0) * 0.008
    ax.add_patch(_rect(bx, by, bar / 2, h, "black"))
    ax.add_patch(_rect(bx + bar / 2, by, bar / 2, h, "white"))
    label = f"{km:g} km"
    ax.text(bx + bar / 2, by + 2.5 * h, label, ha="center", va="bottom", fontsize=8)


def _rect(x: float, y: float, w: float, h: float, colour: str) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle((x, y), w, h, facecolor=colour, edgecolor="black", linewidth=0.8, zorder=10)


def _north_arrow(ax: Axes) -> None:
    ax.annotate(
        "N",
        xy=(0.95, 0.95),
        xytext=(0.95, 0.85),
        xycoords="axes fraction",
        ha="center",
        va="center",
        fontsize=12,
        fontweight="bold",
        arrowprops={"facecolor": "black", "width": 4, "headwidth": 12, "headlength": 10},
        zorder=10,
    )


def plot_coverage(
    layers: Mapping[str, gpd.GeoDataFrame],
    path: str | Path,
    *,
    network: NetworkLike | Mapping[Any, Any] | None = None,
    layer: str = "demand",
    provider: str | None = None,
    title: str | None = None,
    dpi: int = 150,
) -> Path:
    """Draw one overlay over the roads as a PNG map, written atomically to `path`.

    Parameters
    ----------
    layers
        Overlays from :func:`carerun.geo.coverage_layers` (all in one projected CRS).
    path
        The PNG to write.
    network
        Road graphs to draw underneath (the drive graph when there is one).
    layer
        Which overlay: ``demand``, ``provider_areas``, ``overlap``, ``duplicates``,
        ``isochrones`` or ``unmet_need``. Provider areas are outlined under the others for
        context.
    provider
        Draw only this provider's rows (``isochrones``, ``provider_areas``): with many teams,
        one figure per provider stays readable.
    title
        Defaults to a plain description of the layer.
    dpi
        Resolution of the PNG (the figure is 9 × 9 inches).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

    if layer not in FIGURE_LAYERS:
        msg = f"`layer` must be one of {', '.join(FIGURE_LAYERS)}, not {layer!r}"
        raise InputError(msg)
    if layer not in layers:
        msg = f"there is no {layer!r} layer to draw (have: {', '.join(layers)})"
        raise InputError(msg)
    gdf = layers[layer]
    if provider is not None:
        if "provider" not in gdf.columns:
            msg = f"layer {layer!r} has no `provider` column to choose {provider!r} from"
            raise InputError(msg)
        gdf = gdf[gdf["provider"] == provider]
    bounds = _bounds([g for g in layers.values() if not g.empty])
    if bounds is None:
        msg = "nothing to draw: every layer is empty"
        raise InputError(msg)
    styles = provider_styles(layer_providers(layers))
    fig, ax = plt.subplots(figsize=(9, 9))
    try:
        handles: list[Any] = []
        if network is not None:
            lines = _road_lines(network, gdf.crs)
            if lines is not None and len(lines):
                segs = [shapely.get_coordinates(g) for g in lines]
                ax.add_collection(
                    LineCollection(segs, colors=ROAD_COLOUR, linewidths=0.4, zorder=1)
                )
                handles.append(Line2D([], [], color=ROAD_COLOUR, lw=0.8, label="Roads"))
        areas = layers.get("provider_areas")
        if layer != "provider_areas" and areas is not None and not areas.empty:
            for _, row in areas.iterrows():
                st = styles[row["provider"]]
                _series(row.geometry, gdf.crs).plot(
                    ax=ax,
                    facecolor="none",
                    edgecolor=st["colour"],
                    linestyle=st["dash"],
                    linewidth=1.2,
                    zorder=3,
                )
                handles.append(
                    Line2D(
                        [],
                        [],
                        color=st["colour"],
                        ls=st["dash"],
                        lw=1.5,
                        label=f"{row['provider']} area",
                    )
                )
        handles += _DRAW[layer](ax, gdf, styles)
        pad = max(bounds[2] - bounds[0], bounds[3] - bounds[1]) * 0.05 + 300
        ax.set_xlim(bounds[0] - pad, bounds[2] + pad)
        ax.set_ylim(bounds[1] - pad, bounds[3] + pad)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel("")
        ax.set_ylabel("")
        _scale_bar(ax)
        _north_arrow(ax)
        default = _TITLES[layer] + (f": {provider}" if provider else "")
        ax.set_title(title or default, fontsize=13)
        if gdf.empty:
            ax.text(
                0.5,
                0.5,
                "nothing to show",
                transform=ax.transAxes,
                ha="center",
                fontsize=12,
                color="#555555",
            )
        if handles:
            ax.legend(handles=handles, loc="upper left", fontsize=8, framealpha=0.92)
        crs_name = gdf.crs.name if gdf.crs is not None else ""
        ax.annotate(
            f"Roads © OpenStreetMap contributors (ODbL). Grid: {crs_name}.",
            xy=(1.0, -0.01),
            xycoords="axes fraction",
            ha="right",
            va="top",
            fontsize=7,
        )
        out = Path(path)
        with atomic_path(out) as tmp:
            fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png")
    finally:
        plt.close(fig)
    return out


def plot_all(
    layers: Mapping[str, gpd.GeoDataFrame],
    folder: str | Path,
    *,
    network: NetworkLike | Mapping[Any, Any] | None = None,
    dpi: int = 150,
) -> dict[str, Path]:
    """One PNG per overlay present (``<layer>.png`` in `folder`), keyed by file stem.

    Isochrones get one figure per provider (``isochrones_<provider>.png``): every team's reach
    on one map is unreadable.
    """
    folder = Path(folder)
    out: dict[str, Path] = {}
    for name in FIGURE_LAYERS:
        if name not in layers:
            continue
        if name == "isochrones" and not layers[name].empty:
            for p in sorted(layers[name]["provider"].unique()):
                stem = f"isochrones_{_file_safe(p)}"
                out[stem] = plot_coverage(
                    layers,
                    folder / f"{stem}.png",
                    network=network,
                    layer=name,
                    provider=p,
                    dpi=dpi,
                )
        else:
            out[name] = plot_coverage(
                layers, folder / f"{name}.png", network=network, layer=name, dpi=dpi
            )
    return out


def _file_safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in text) or "_"


def _series(geom: Any, crs: Any) -> gpd.GeoSeries:
    import geopandas as gpd

    return gpd.GeoSeries([geom], crs=crs)


def _bounds(frames: Sequence[gpd.GeoDataFrame]) -> tuple[float, float, float, float] | None:
    if not frames:
        return None
    b = np.array([f.total_bounds for f in frames])
    return (float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max()))


def _patch(
    label: str,
    face: str,
    *,
    hatch: str = "",
    edge: str = "black",
    alpha: float = 1.0,
    ls: Any = "solid",
) -> Any:
    from matplotlib.patches import Patch

    return Patch(
        facecolor=face, edgecolor=edge, hatch=hatch, alpha=alpha, linestyle=ls, label=label
    )


def _draw_demand(ax: Axes, gdf: gpd.GeoDataFrame, styles: Mapping[str, Any]) -> list[Any]:
    if gdf.empty:
        return []
    breaks = class_breaks(gdf["hours"].to_numpy())
    cls = np.searchsorted(breaks, gdf["hours"].to_numpy().round(2), side="left")
    colours = DEMAND_COLOURS[-len(breaks) :]
    gdf.plot(
        ax=ax,
        color=[colours[min(c, len(colours) - 1)] for c in cls],
        edgecolor="#333333",
        linewidth=0.3,
        zorder=2,
    )
    lows = [0.0, *breaks[:-1]]
    return [
        _patch(f"{lo:g}–{hi:g} h", colours[i])
        for i, (lo, hi) in enumerate(zip(lows, breaks, strict=True))
    ]


def _draw_areas(ax: Axes, gdf: gpd.GeoDataFrame, styles: Mapping[str, Any]) -> list[Any]:
    handles = []
    for _, row in gdf.iterrows():
        st = styles[row["provider"]]
        series = _series(row.geometry, gdf.crs)
        series.plot(ax=ax, facecolor=st["colour"], alpha=0.18, edgecolor="none", zorder=2)
        series.plot(
            ax=ax,
            facecolor="none",
            edgecolor=st["colour"],
            hatch=st["hatch"],
            linestyle=st["dash"],
            linewidth=1.4,
            zorder=3,
        )
        label = f"{row['provider']} ({row['kind']}), {row['hours']:.0f} h"
        handles.append(_patch(label, "white", hatch=st["hatch"], edge=st["colour"], ls=st["dash"]))
    return handles


def _draw_overlap(ax: Axes, gdf: gpd.GeoDataFrame, styles: Mapping[str, Any]) -> list[Any]:
    handles = []
    for mixed, colour, hatch, label in (
        (True, OVERLAP_MIXED, "xxx", "in-house and external overlap"),
        (False, OVERLAP_SAME, "///", "external providers overlap"),
    ):
        part = gdf[gdf["in_house_external"].astype(bool) == mixed] if not gdf.empty else gdf
        if part.empty:
            continue
        part.plot(ax=ax, facecolor=colour, alpha=0.35, edgecolor="none", zorder=4)
        part.plot(ax=ax, facecolor="none", edgecolor=colour, hatch=hatch, linewidth=1.2, zorder=5)
        hours = part["hours"].sum()
        handles.append(_patch(f"{label} ({hours:.0f} h)", "white", hatch=hatch, edge=colour))
    return handles


def _draw_duplicates(ax: Axes, gdf: gpd.GeoDataFrame, styles: Mapping[str, Any]) -> list[Any]:
    from matplotlib.lines import Line2D

    if gdf.empty:
        return []
    sizes = 30 + 40 * np.sqrt(gdf["events"].to_numpy(dtype=float))
    ax.scatter(
        gdf.geometry.x,
        gdf.geometry.y,
        s=sizes,
        c=DUPLICATE_COLOUR,
        marker="o",
        edgecolors="white",
        linewidths=1.0,
        zorder=6,
    )
    total = int(gdf["events"].sum())
    return [
        Line2D(
            [],
            [],
            marker="o",
            ls="none",
            color=DUPLICATE_COLOUR,
            markeredgecolor="white",
            markersize=8,
            label=f"duplicate events ({total}; size = count)",
        )
    ]


def _draw_isochrones(ax: Axes, gdf: gpd.GeoDataFrame, styles: Mapping[str, Any]) -> list[Any]:
    from matplotlib.lines import Line2D

    handles: list[Any] = []
    if gdf.empty:
        return handles
    gdf = gdf.dissolve(by=["provider", "minutes"], as_index=False)
    minutes = sorted(gdf["minutes"].unique(), reverse=True)
    hatches = ["", "...", "///", "xxx"]
    for i, m in enumerate(minutes):
        part = gdf[gdf["minutes"] == m]
        colour = MINUTE_COLOURS.get(int(m), "#888888")
        part.plot(ax=ax, facecolor=colour, alpha=0.3, edgecolor="none", zorder=2 + i * 0.01)
        handles.append(_patch(f"within {m:g} min", colour, hatch=hatches[i % 4], alpha=0.6))
        part.plot(
            ax=ax,
            facecolor="none",
            edgecolor="#555555",
            hatch=hatches[i % 4],
            linewidth=0.0,
            zorder=2 + i * 0.01,
        )
    for provider in sorted(gdf["provider"].unique()):
        st = styles[provider]
        outer = gdf[(gdf["provider"] == provider) & (gdf["minutes"] == minutes[0])]
        outer.boundary.plot(
            ax=ax, color=st["colour"], linestyle=st["dash"], linewidth=1.0, zorder=4
        )
        handles.append(
            Line2D(
                [],
                [],
                color=st["colour"],
                ls=st["dash"],
                label=f"{provider}: {minutes[0]:g}-min edge",
            )
        )
    return handles


def _draw_unmet(ax: Axes, gdf: gpd.GeoDataFrame, styles: Mapping[str, Any]) -> list[Any]:
    if gdf.empty:
        return []
    gdf.plot(
        ax=ax,
        facecolor=UNMET_COLOUR,
        alpha=0.5,
        edgecolor="black",
        hatch="..",
        linewidth=0.8,
        zorder=5,
    )
    return [
        _patch(
            f"unassigned visits ({gdf['visits'].sum()} in {len(gdf)} cells)",
            UNMET_COLOUR,
            hatch="..",
            alpha=0.5,
        )
    ]


_DRAW = {
    "demand": _draw_demand,
    "provider_areas": _draw_areas,
    "overlap": _draw_overlap,
    "duplicates": _draw_duplicates,
    "isochrones": _draw_isochrones,
    "unmet_need": _draw_unmet,
}

_TITLES = {
    "demand": "Contact hours per cell",
    "provider_areas": "Areas each provider serves",
    "overlap": "Where providers overlap",
    "duplicates": "Duplicate multi-provider events",
    "isochrones": "Reach from team bases (minutes)",
    "unmet_need": "Visits nobody does",
}
