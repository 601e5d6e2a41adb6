"""The one visual language: colour helpers, and a walk over the figures every page builds.

The walk opens each page of the app (``streamlit_app.PAGES``) in AppTest, in its default
state and in the other modes an arithmetic page has, collects every plotly figure the
page renders and checks each heatmap: signed values on ``style.DIVERGING`` with
symmetric limits and a colour bar, magnitudes on ``style.SEQUENTIAL`` from 0 with a
colour bar, images on ``style.GRAY`` 0..1 (or as RGB) with no tick labels.
"""

from __future__ import annotations

import base64
import gc
import json
from collections.abc import Callable

import numpy as np
import plotly.graph_objects as go
import pytest

from cnnviz.plots import style

# ----------------------------------------------------------------------------- helpers


def test_symmetric_limits_put_zero_at_the_centre():
    assert style.symmetric_limits([-2.0, 0.5, 1.0]) == (-2.0, 2.0)
    assert style.symmetric_limits([0.1, 3.0]) == (-3.0, 3.0)  # positive only: still symmetric
    assert style.symmetric_limits([-0.25]) == (-0.25, 0.25)
    assert style.symmetric_limits([0.0, np.nan, np.inf]) == (-1.0, 1.0)  # nothing finite > 0
    assert style.symmetric_limits(np.array([])) == (-1.0, 1.0)
    assert style.magnitude_limits([0.2, 0.5, np.nan]) == (0.0, 0.5)
    assert style.magnitude_limits([0.0]) == (0.0, 1.0)


def test_scales_are_one_family():
    assert style.DIVERGING[0][0] == 0.0 and style.DIVERGING[-1][0] == 1.0
    assert dict(style.DIVERGING)[0.5] == "#ffffff"  # 0 is white
    assert style.SEQUENTIAL[0] == [0.0, "#ffffff"]
    # The sequential scale is the diverging scale's positive half: "more" is the same red.
    assert [c for _, c in style.SEQUENTIAL[1:]] == [c for v, c in style.DIVERGING if v > 0.5]
    assert style.GRAY == [[0.0, "#000000"], [1.0, "#ffffff"]]
    pal = style.palette()
    assert pal["diverging"] == style.DIVERGING and pal["sequential"] == style.SEQUENTIAL
    assert pal["channels"] == style.CHANNELS and pal["accent"] == style.ACCENT
    json.dumps(pal)


def test_value_scale_and_shared_or_per_map_limits():
    stops, limits = style.value_scale(np.array([[0, 3], [1, 2]]))
    assert stops is style.SEQUENTIAL and limits == (0.0, 3.0)
    stops, limits = style.value_scale([1, -4])
    assert stops is style.DIVERGING and limits == (-4.0, 4.0)
    maps = [np.array([[1.0, -2.0]]), np.array([[0.5, 0.25]]), np.zeros((1, 2))]
    assert style.map_limits(maps) == [(-2.0, 2.0)] * 3  # one scale: compare strengths
    assert style.map_limits(maps, shared=False) == [(-2.0, 2.0), (-0.5, 0.5), (-1.0, 1.0)]
    assert style.map_limits([np.array([3.0]), np.array([1.0])], signed=False) == [(0.0, 3.0)] * 2
    assert style.map_limits([np.array([3.0]), np.array([1.0])], False, False)[1] == (0.0, 1.0)
    assert "One colour scale" in style.scale_note(True)
    assert "own colour scale" in style.scale_note(False)


def test_heatmap_helpers():
    z = np.array([[1.0, -3.0]])
    trace = style.signed_heatmap(z)
    assert (trace.zmin, trace.zmax) == (-3.0, 3.0) and trace.showscale
    with pytest.raises(ValueError, match="symmetric"):
        style.signed_heatmap(z, limits=(-1, 3))
    trace = style.magnitude_heatmap(np.abs(z))
    assert (trace.zmin, trace.zmax) == (0.0, 3.0) and list(map(list, trace.colorscale)) == [
        list(s) for s in style.SEQUENTIAL
    ]
    img = style.image_trace(np.array([[0, 255]], np.uint8))
    np.testing.assert_array_equal(img.z, [[0.0, 1.0]])  # as stored: not inverted
    assert isinstance(style.image_trace(np.zeros((2, 2, 3))), go.Image)


# ----------------------------------------------------------------------------- the walk
def _z(z) -> np.ndarray:
    """A trace's z from plotly JSON (typed-array form or nested lists with nulls)."""
    if isinstance(z, dict):
        shape = [int(v) for v in str(z["shape"]).split(",")]
        return np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"]).reshape(shape)
    return np.array([[np.nan if v is None else v for v in row] for row in np.atleast_2d(z)], float)


def _colour(c) -> str:
    """``#rrggbb``; an ``rgba(...)`` colour (style.magnitude_overlay) reads as its RGB."""
    c = str(c).lower().replace(" ", "")
    if c.startswith("rgba("):
        r, g, b = (int(v) for v in c[5:-1].split(",")[:3])
        return f"#{r:02x}{g:02x}{b:02x}"
    return c


def _scale(colorscale) -> list | str:
    if isinstance(colorscale, str):
        return colorscale
    return [[float(v), _colour(c)] for v, c in colorscale]


NAMES = {
    "DIVERGING": _scale(style.DIVERGING),
    "SEQUENTIAL": _scale(style.SEQUENTIAL),
    "GRAY": _scale(style.GRAY),
}


def _axis(layout: dict, ref: str, kind: str) -> dict:
    return layout.get(f"{kind}axis{ref[1:]}", {})


def figure_problems(fig: dict) -> list[str]:
    """What in one figure breaks the visual language (empty when it speaks it)."""
    problems = []
    layout = fig.get("layout", {})
    title = (layout.get("title") or {}).get("text") or ""
    heatmaps = [t for t in fig.get("data", []) if t.get("type") == "heatmap"]
    bars = {  # (scale, zmin, zmax) that some trace shows a colour bar for
        (str(_scale(t.get("colorscale", ""))), t.get("zmin"), t.get("zmax"))
        for t in heatmaps
        if t.get("showscale", True)
    }
    for i, trace in enumerate(fig.get("data", [])):
        where = f"{title or 'figure'} trace {i}"
        kind = trace.get("type")
        image = kind == "image"
        if kind == "heatmap":
            scale = _scale(trace.get("colorscale", ""))
            name = next((n for n, s in NAMES.items() if s == scale), scale)
            z = _z(trace["z"])
            lo, hi = trace.get("zmin"), trace.get("zmax")
            key = (str(scale), lo, hi)
            if name == "GRAY":
                image = True
                if (lo, hi) != (0, 1):
                    problems.append(f"{where}: an image must map 0..1, got zmin/zmax {lo}/{hi}")
            elif name == "DIVERGING":
                if lo is None or hi is None or not np.isclose(lo, -hi):
                    problems.append(f"{where}: signed values need symmetric limits ({lo}, {hi})")
                if key not in bars:
                    problems.append(f"{where}: signed values need a colour bar")
            elif name == "SEQUENTIAL":
                if lo != 0:
                    problems.append(f"{where}: magnitudes start at 0, got zmin {lo}")
                if np.nanmin(z, initial=0) < 0:
                    problems.append(f"{where}: negative values on the sequential scale")
                if key not in bars:
                    problems.append(f"{where}: magnitudes need a colour bar")
            else:
                problems.append(f"{where}: colour scale {str(scale)[:40]} is not from style.py")
            if name != "DIVERGING" and np.nanmin(z, initial=0) < 0:
                problems.append(f"{where}: negative values not on the diverging scale")
        if image:
            for kind_ in ("x", "y"):
                axis = _axis(layout, trace.get(f"{kind_}axis", kind_), kind_)
                if axis.get("showticklabels", True):
                    problems.append(f"{where}: image panel with {kind_} tick labels")
            refs = (trace.get("xaxis", "x"), trace.get("yaxis", "y"))
            frames = [  # style.FRAME around the picture (number grids with x/y draw cells)
                s
                for s in layout.get("shapes", [])
                if (s.get("xref"), s.get("yref")) == refs and s.get("line") == style.FRAME
            ]
            if "x" not in trace and "y" not in trace and not frames:
                problems.append(f"{where}: image panel without the style.FRAME frame")
    return problems


def _conv_modes(at) -> list:
    at.segmented_control(key="conv_mode").set_value("Image").run()
    figures = _figures(at)
    at.selectbox(key="conv_kernel").set_value("sobel x").run()
    figures += _figures(at)
    at.segmented_control(key="conv_mode").set_value("RGB").run()
    return figures + _figures(at)


def _pool_modes(at) -> list:
    at.radio(key="pool_mode").set_value("sum").run()
    at.slider(key="pool_size").set_value(4).run()
    return _figures(at)


# Extra states worth walking, beyond each page's default one.
EXTRA: dict[str, Callable] = {
    "app_pages/convolution.py": _conv_modes,
    "app_pages/pooling.py": _pool_modes,
}


def _figures(at) -> list[dict]:
    assert not at.exception, [e.value for e in at.exception]
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def _pages() -> list:
    from streamlit_app import PAGES

    return [pytest.param(path, id=title) for _, path, title, _ in PAGES]


@pytest.fixture(scope="module")
def _frozen_gc():
    gc.freeze()
    yield
    gc.unfreeze()


@pytest.mark.parametrize("page", _pages())
def test_every_page_speaks_the_visual_language(page, _frozen_gc):
    from streamlit.testing.v1 import AppTest

    from streamlit_app import __file__ as app

    at = AppTest.from_file(app, default_timeout=180)
    at.run()
    at.switch_page(page)
    at.run()
    figures = _figures(at)
    if page in EXTRA:
        figures += EXTRA[page](at)
    problems = [p for fig in figures for p in figure_problems(fig)]
    assert not problems, "\n".join(problems)


def test_the_walker_catches_what_it_should():
    bad = go.Figure(go.Heatmap(z=[[-1, 2]], colorscale="RdBu", zmid=0))
    assert "not from style.py" in " ".join(figure_problems(json.loads(bad.to_json())))
    lopsided = go.Figure(style.signed_heatmap(np.array([[-1.0, 2.0]]), showscale=False))
    text = " ".join(figure_problems(json.loads(lopsided.to_json())))
    assert "need a colour bar" in text
    img = go.Figure(style.image_trace(np.zeros((2, 2))))
    text = " ".join(figure_problems(json.loads(img.to_json())))
    assert "tick labels" in text and "without the style.FRAME frame" in text
    good = style.image_axes(go.Figure(style.image_trace(np.zeros((2, 2)))))
    assert figure_problems(json.loads(good.to_json())) == []
    signed_on_gray = go.Figure(go.Heatmap(z=[[-1, 1]], colorscale=style.GRAY, zmin=0, zmax=1))
    text = " ".join(figure_problems(json.loads(style.image_axes(signed_on_gray).to_json())))
    assert "negative values not on the diverging scale" in text
    # an overlay is the sequential scale with see-through colours: it is accepted as such
    overlay = go.Figure(style.magnitude_overlay(np.array([[0.0, 0.5], [1.0, 0.2]])))
    assert figure_problems(json.loads(style.image_axes(overlay).to_json())) == []
    other = go.Figure(go.Heatmap(z=[[0, 1]], colorscale=[[0, "rgba(0,0,0,0)"], [1, "red"]]))
    assert "not from style.py" in " ".join(figure_problems(json.loads(other.to_json())))


def test_every_image_panel_has_one_thin_frame_around_its_pixels():
    """A white picture, a map of zeros or a tiny pooled map still shows where it ends."""
    from cnnviz.plots import arithmetic, experiments, inside, training

    white, zeros = np.ones((30, 40)), np.zeros((5, 1))  # a white image, a zero column
    fig = inside.image_row([("White (40×30)", white), ("Zero column (1×5)", zeros)])
    edges = sorted((s.xref, s.x0, s.x1, s.y0, s.y1) for s in fig.layout.shapes)
    assert edges == [("x", -0.5, 39.5, -0.5, 29.5), ("x2", -0.5, 0.5, -0.5, 4.5)]
    assert all(s.line.color == style.FRAME["color"] for s in fig.layout.shapes)
    assert all(s.line.width == style.FRAME["width"] == 1 for s in fig.layout.shapes)
    # a display copy (100×50 drawn for a 400×200 original) is framed at the original's edges
    copy = inside.image_row(
        [("Original (400×200, shown at 100×50)", np.ones((50, 100)), (200, 400))]
    )
    (frame,) = copy.layout.shapes
    assert (frame.x0, frame.x1, frame.y0, frame.y1) == (-0.5, 399.5, -0.5, 199.5)
    assert (copy.data[0].dx, copy.data[0].x0) == (4.0, 1.5)  # hover in the original's pixels
    # a large RGB picture goes as a PNG (smaller JSON), still framed at its size
    rgb = inside.image_row([("Photo", np.ones((300, 400, 3)))])
    assert rgb.data[0].source.startswith("data:image/png;base64,") and rgb.data[0].z is None
    (frame,) = rgb.layout.shapes
    assert (frame.x1, frame.y1) == (399.5, 299.5)
    for built in (
        experiments.image_row({"a": white, "b": zeros}),
        training.image_grid(np.zeros((3, 4, 4, 1), np.uint8), ["0", "1", "2"], cols=3),
        arithmetic.image_pair_figure(white, zeros[:, :1] * np.ones((1, 3))),
    ):
        framed = {
            (s.xref, s.yref) for s in built.layout.shapes if s.line.color == style.FRAME["color"]
        }
        pictures = {(t.xaxis or "x", t.yaxis or "y") for t in built.data}
        assert framed == pictures
    # number grids (cells placed by x/y, with gaps) draw their own cells: no frame
    cells = go.Figure(go.Heatmap(z=[[1, 2]], x=[0, 1], y=[0]))
    assert style.image_axes(cells).layout.shapes == ()
