"""Static PNG figures: written atomically, not blank, one per layer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib import image as mpimg

from carerun._errors import InputError
from carerun.geo import coverage_layers
from carerun.model import Mode
from carerun.plot import PALETTE, class_breaks, plot_all, plot_coverage, provider_styles
from test_geo import bank_graph, two_provider_case


def test_provider_styles_are_stable_and_distinct() -> None:
    a = provider_styles(["zeta", "alpha", "mid"])
    b = provider_styles(["mid", "zeta", "alpha", "alpha"])
    assert a == b
    assert a["alpha"]["colour"] == PALETTE[0]
    assert len({s["hatch"] for s in a.values()}) == 3  # tells them apart in black and white
    assert len({str(s["dash"]) for s in a.values()}) == 3


def test_class_breaks() -> None:
    assert class_breaks([]) == []
    assert class_breaks([1, 1, 1]) == [1.0]
    assert class_breaks(np.arange(1, 11), 5) == [2.8, 4.6, 6.4, 8.2, 10.0]


def test_demand_figure_is_written_and_not_blank(tmp_path: Path) -> None:
    layers = coverage_layers(two_provider_case().roster)
    path = plot_coverage(layers, tmp_path / "demand.png", layer="demand", dpi=60)
    pixels = mpimg.imread(path)[..., :3]
    colours = np.unique((pixels * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 20
    assert (pixels < 0.9).any(axis=-1).mean() > 0.02  # more than a white page


def test_every_figure_with_roads(tmp_path: Path) -> None:
    case = two_provider_case()
    layers = coverage_layers(case.roster, network={Mode.DRIVE: bank_graph()}, duplicates=[])
    out = plot_all(layers, tmp_path, network={Mode.DRIVE: bank_graph()}, dpi=40)
    assert set(out) == {
        "demand",
        "provider_areas",
        "overlap",
        "duplicates",
        "isochrones_EXT",
        "isochrones_IH",
        "unmet_need",
    }
    for path in out.values():
        assert path.stat().st_size > 5_000
    assert not list(tmp_path.glob(".*"))


def test_plot_refuses_unknown_layers(tmp_path: Path) -> None:
    layers = coverage_layers(two_provider_case().roster)
    with pytest.raises(InputError, match="layer"):
        plot_coverage(layers, tmp_path / "x.png", layer="routes")
    with pytest.raises(InputError, match="no 'isochrones'"):
        plot_coverage(layers, tmp_path / "x.png", layer="isochrones")
