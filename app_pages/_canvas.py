"""A tiny drawing canvas (Streamlit custom components v2, inline HTML/JS, no build step).

``streamlit-drawable-canvas`` 0.13 does not import with our Streamlit, so this is a small
replacement: a square HTML canvas, mouse/touch/pen drawing, a Clear button. After each
stroke it sends the drawing to Python as a PNG data URL (``cnnviz.imaging.decode_data_url``
turns it into bytes).
"""

from __future__ import annotations

import streamlit as st

_HTML = """
<div class="cnnviz-canvas">
  <canvas width="280" height="280" aria-label="Drawing area: draw a digit"></canvas>
  <div><button type="button" class="clear">Clear</button>
  <span class="hint">Draw one digit, large and centred.</span></div>
</div>
"""

_CSS = """
.cnnviz-canvas canvas { border: 1px solid #adb5bd; border-radius: 6px; touch-action: none;
  cursor: crosshair; background: white; width: 280px; height: 280px; }
.cnnviz-canvas button { margin-top: 6px; padding: 4px 14px; border-radius: 6px;
  border: 1px solid #adb5bd; background: white; cursor: pointer; }
.cnnviz-canvas .hint { margin-left: 8px; color: #6c757d; font-size: 0.85rem; }
"""

# Black ink on a white page, like the bundled samples; the stroke is thick because the
# drawing is shrunk to 20 px for MNIST.
_JS = """
export default function (component) {
  const { parentElement, setStateValue, data } = component;
  const canvas = parentElement.querySelector("canvas");
  const clear = parentElement.querySelector("button.clear");
  const ctx = canvas.getContext("2d");
  const width = (data && data.stroke) || 18;
  const blank = () => { ctx.fillStyle = "white"; ctx.fillRect(0, 0, canvas.width, canvas.height); };
  if (!canvas.dataset.ready) { blank(); canvas.dataset.ready = "1"; }
  let drawing = false;
  const at = (e) => {
    const r = canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * canvas.width / r.width,
            (e.clientY - r.top) * canvas.height / r.height];
  };
  const down = (e) => {
    drawing = true; canvas.setPointerCapture(e.pointerId);
    const [x, y] = at(e);
    ctx.beginPath(); ctx.lineCap = "round"; ctx.lineJoin = "round";
    ctx.lineWidth = width; ctx.strokeStyle = "black";
    ctx.moveTo(x, y); ctx.lineTo(x + 0.01, y); ctx.stroke();
  };
  const move = (e) => {
    if (!drawing) return;
    const [x, y] = at(e); ctx.lineTo(x, y); ctx.stroke();
  };
  const up = () => {
    if (!drawing) return;
    drawing = false;
    setStateValue("png", canvas.toDataURL("image/png"));
  };
  canvas.onpointerdown = down; canvas.onpointermove = move;
  canvas.onpointerup = up; canvas.onpointerleave = up; canvas.onpointercancel = up;
  clear.onclick = () => { blank(); setStateValue("png", null); };
}
"""

_canvas = st.components.v2.component("cnnviz_canvas", html=_HTML, css=_CSS, js=_JS)


def draw_canvas(key: str, stroke: int = 18) -> str | None:
    """Show the canvas; return the drawing as a PNG data URL, or ``None`` before a stroke.

    Parameters
    ----------
    key : str
        Widget key (the drawing persists across reruns under it).
    stroke : int
        Pen width in canvas pixels (the canvas is 280×280).
    """
    result = _canvas(
        key=key, data={"stroke": stroke}, default={"png": None}, on_png_change=lambda: None
    )
    return getattr(result, "png", None)
