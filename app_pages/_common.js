// Helpers shared by every cnnviz component (the stepper, the network overview, the
// snapshot timeline). app_pages/_component.py puts this file before each component's own
// module, so these names are in scope there; a component never redefines them.

const clamp = (v, lo, hi) => Math.min(Math.max(v, lo), hi);

// A number as cnnviz.conv.format_number writes it: 3 not 3.0, at most 3 decimals; a value
// that would round to 0 keeps 2 significant digits (4.2e-5), so it never reads as zero.
function fmt(v) {
  if (v === null || v === undefined) return "";
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  if (Math.abs(v) < 0.0005) return v.toExponential(1);
  return v.toFixed(3).replace(/0+$/, "").replace(/\.$/, "");
}

const esc = (s) =>
  String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

function hexToRgb(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

// Linear interpolation between the stops of a plotly-style colour scale (t in 0..1).
function colourAt(stops, t) {
  t = clamp(Number.isFinite(t) ? t : 0.5, 0, 1);
  for (let i = 1; i < stops.length; i++) {
    if (t <= stops[i][0]) {
      const [t0, c0] = stops[i - 1];
      const [t1, c1] = stops[i];
      const f = t1 > t0 ? (t - t0) / (t1 - t0) : 0;
      const a = hexToRgb(c0);
      const b = hexToRgb(c1);
      return a.map((v, k) => Math.round(v + (b[k] - v) * f));
    }
  }
  return hexToRgb(stops[stops.length - 1][1]);
}

// A position kept in this browser tab (sessionStorage), never on the server: it survives a
// change of page and a reload and costs no rerun. Storage may be disabled: then nothing is
// remembered and `recall` answers the fallback.
function remember(storeKey, value) {
  try {
    window.sessionStorage.setItem(storeKey, String(value));
  } catch (e) {
    /* storage disabled: the position is simply not remembered */
  }
}

function recall(storeKey, fallback) {
  try {
    const saved = window.sessionStorage.getItem(storeKey);
    return saved === null ? fallback : Number(saved) || 0;
  } catch (e) {
    return fallback;
  }
}
