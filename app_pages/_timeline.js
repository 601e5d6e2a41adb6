// The snapshot timeline (Streamlit components v2). It receives every snapshot of a run once
// (cnnviz.snapshots.view_data) and replays them itself: the slider, Previous / Next / Play
// and the arrow keys redraw the canvases and move the marker on the loss curve without
// waiting for the server. It does no arithmetic on the numbers: pictures arrive as colour
// levels (0..254 over limits that come with them, 255 = not a number), every number it
// prints (steps, probabilities, counts, norms) arrives as a number, and every colour scale
// comes from cnnviz.plots.style.palette(). The position never goes to the server: the tab
// keeps it (sessionStorage, per key).

const STORE = "cnnviz-timeline:";
const NAN_RGB = [173, 181, 189]; // a value that is not a number: grey (style.MUTED)
const PLAY_MS = 700;

// ------------------------------------------------------------------------------ helpers
// (clamp, fmt, esc, hexToRgb, colourAt, remember, recall: _common.js)

// 256 colours of a plotly-style scale: level 0..254 across the scale, 255 = NaN.
function lut(stops) {
  const out = new Uint8ClampedArray(256 * 3);
  for (let level = 0; level < 255; level++) out.set(colourAt(stops, level / 254), level * 3);
  out.set(NAN_RGB, 255 * 3);
  return out;
}

function decode(b64) {
  const raw = atob(b64);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

// A number as a label: 3 significant digits, exponent for the very small or large.
function num(v) {
  if (v === null || v === undefined) return "NaN or ∞";
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a < 1e-3 || a >= 1e5) return v.toExponential(2);
  return String(Number(v.toPrecision(3)));
}

const pct = (p) => (p === null || p === undefined ? "n/a" : `${(100 * p).toFixed(1)} %`);

// Paint a (rows × cols) grid of levels, scaled up `px` times, at (x, y) of a 2-D context.
function paint(ctx, levels, offset, rows, cols, colours, x, y, px) {
  const img = ctx.createImageData(cols, rows);
  for (let i = 0; i < rows * cols; i++) {
    const c = levels[offset + i] * 3;
    img.data[4 * i] = colours[c];
    img.data[4 * i + 1] = colours[c + 1];
    img.data[4 * i + 2] = colours[c + 2];
    img.data[4 * i + 3] = 255;
  }
  const tmp = document.createElement("canvas");
  tmp.width = cols;
  tmp.height = rows;
  tmp.getContext("2d").putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(tmp, x, y, cols * px, rows * px);
}

function canvas(w, h, cls) {
  const c = document.createElement("canvas");
  c.width = w;
  c.height = h;
  c.className = cls || "";
  return c;
}

function figure(title, body, cls) {
  const f = document.createElement("figure");
  f.className = `tl-fig ${cls || ""}`;
  const cap = document.createElement("figcaption");
  cap.innerHTML = title;
  f.appendChild(cap);
  if (body) f.appendChild(body);
  return f;
}

// A hash of a canvas's pixels (what the browser test compares between two snapshots).
function pixelHash(c) {
  const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let h = 2166136261;
  for (let i = 0; i < d.length; i += 3) h = Math.imul(h ^ d[i], 16777619) >>> 0;
  return h.toString(16);
}

// ------------------------------------------------------------------------------ the view
class View {
  constructor(data) {
    this.d = data;
    const p = data.palette;
    this.div = lut(p.diverging);
    this.seq = lut(p.sequential);
    this.gray = lut(p.gray);
    this.accent = p.accent;
    this.muted = p.muted;
    this.ink = p.ink;
    this.kernels = data.kernels ? data.kernels.levels.map(decode) : null;
    this.maps = data.maps.map((m) => m.levels.map(decode));
    this.cam = data.cam ? data.cam.levels.map(decode) : null;
    this.probe = decode(data.probe.levels);
  }

  // --- the static frame, built once per data; show(k) fills it for snapshot k
  build(root) {
    const d = this.d;
    const top = root.querySelector(".tl-top");
    top.innerHTML = "";
    if (d.curve && !d.live) {
      this.curveSvg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
      this.curveSvg.setAttribute("class", "tl-curve");
      top.appendChild(figure("Training loss (log scale) · <b>|</b> this snapshot", this.curveSvg, "tl-curve-fig"));
      this.drawCurve();
    }
    if (d.kernels) {
      const k = d.kernels;
      const cols = Math.min(k.cout, 8);
      const rows = Math.ceil(k.cout / cols);
      const px = clamp(Math.floor(40 / Math.max(k.kh, k.kw)), 2, 14);
      const gap = 3;
      this.kSize = { cols, rows, px, gap };
      this.kCanvas = canvas(cols * (k.kw * px + gap), rows * (k.kh * px + gap), "tl-kernels");
      const mean = k.cin > 1 ? `, mean over its ${k.cin} input channels` : "";
      const scope = d.live ? "this snapshot's scale" : "one scale for the whole run";
      top.appendChild(
        figure(`${esc(k.layer)}: ${k.cout} kernels ${k.kh}×${k.kw}${mean} <span class="tl-sub">(±${num(k.limit)}: ${scope})</span>`, this.kCanvas, "tl-kernels-fig"),
      );
    }
    const side = 120;
    const pr = d.probe;
    this.probePx = Math.max(1, Math.floor(side / Math.max(pr.h, pr.w)));
    this.probeCanvas = canvas(pr.w * this.probePx, pr.h * this.probePx, "tl-probe");
    top.appendChild(figure(`Probe ${pr.h}×${pr.w} <span class="tl-sub">(a validation image of ${esc(d.classes[d.label] ?? d.label)})</span>`, this.probeCanvas));
    if (d.cam) {
      this.camPx = Math.max(1, Math.floor(side / Math.max(d.cam.h, d.cam.w)));
      this.camCanvas = canvas(d.cam.w * this.camPx, d.cam.h * this.camPx, "tl-cam");
      this.camFig = figure("Grad-CAM", this.camCanvas);
      top.appendChild(this.camFig);
    }
    this.probs = document.createElement("div");
    this.probs.className = "tl-probs";
    top.appendChild(figure("Class probabilities of the probe", this.probs, "tl-probs-fig"));

    const maps = root.querySelector(".tl-maps");
    maps.innerHTML = "";
    this.mapCanvases = d.maps.map((m) => {
      const px = clamp(Math.floor(56 / Math.max(m.h, m.w)), 1, 8);
      const row = document.createElement("div");
      row.className = "tl-map-row";
      const cs = [];
      for (let c = 0; c < m.c; c++) {
        const cv = canvas(m.w * px, m.h * px, "tl-map");
        cs.push(cv);
        row.appendChild(cv);
      }
      const scale = (m.signed ? `±${num(m.limit)}` : `0 to ${num(m.limit)}`) + (d.live ? "" : ", one scale for the whole run");
      maps.appendChild(figure(`${esc(m.layer)} · first ${m.c} maps, ${m.h}×${m.w} <span class="tl-sub">(${scale})</span>`, row, "tl-map-fig"));
      return { canvases: cs, px, spec: m };
    });

    const hists = root.querySelector(".tl-hists");
    hists.innerHTML = "";
    const w = d.weights;
    const table = document.createElement("table");
    table.className = "tl-hist-table";
    const gradHead = d.grads ? `<th>gradient: signed decades ${esc(d.grads.edges[0])} … 0 … ${esc(d.grads.edges[d.grads.edges.length - 1])}</th><th>gradient norm</th>` : "";
    table.innerHTML = `<thead><tr><th>layer</th><th>weights (fixed bins from step 0)</th>${gradHead}</tr></thead><tbody></tbody>`;
    const body = table.querySelector("tbody");
    this.histRows = w.layers.map((name, l) => {
      const tr = document.createElement("tr");
      const wc = canvas(w.counts[0][l].length * 6, 34, "tl-hist");
      wc.style.maxWidth = `${wc.width}px`;
      const edges = w.edges[l];
      tr.innerHTML = `<td class="tl-layer">${esc(name)}<div class="tl-sub">${w.sizes[l].toLocaleString("en-US")} weights</div></td>`;
      const td = document.createElement("td");
      td.appendChild(wc);
      const range = document.createElement("div");
      range.className = "tl-sub tl-range";
      range.textContent = `${num(edges[0])} … ${num(edges[edges.length - 1])}`;
      td.appendChild(range);
      tr.appendChild(td);
      let gc = null;
      let norm = null;
      if (d.grads) {
        const gtd = document.createElement("td");
        gc = canvas(d.grads.counts[0][l].length * 6, 34, "tl-hist");
        gc.style.maxWidth = `${gc.width}px`;
        gtd.appendChild(gc);
        tr.appendChild(gtd);
        norm = document.createElement("td");
        norm.className = "tl-norm";
        tr.appendChild(norm);
      }
      body.appendChild(tr);
      return { wc, gc, norm };
    });
    const what = d.grads
      ? `Gradients of the mean training loss on ${d.grads.images} fixed training images. Bars: how many weights fall in each bin (height on a log scale); grey: NaN.`
      : esc(d.grad_reason || "Gradients were not recorded.");
    hists.appendChild(figure(`Weights and gradients per layer <span class="tl-sub">${what}</span>`, table, "tl-hist-fig"));
    if (!d.cam && d.cam_reason) {
      const note = document.createElement("div");
      note.className = "tl-sub";
      note.textContent = d.cam_reason;
      top.appendChild(note);
    }
  }

  drawCurve() {
    const d = this.d;
    const svg = this.curveSvg;
    const W = 300;
    const H = 130;
    const pad = { l: 38, r: 8, t: 8, b: 22 };
    svg.setAttribute("width", W);
    svg.setAttribute("height", H);
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    const pts = d.curve.x.map((x, i) => [x, d.curve.loss[i]]).filter(([x, y]) => x !== null && y !== null && y > 0);
    const xmax = Math.max(1e-9, ...d.x, ...pts.map((p) => p[0]));
    const ys = pts.map((p) => Math.log10(p[1]));
    const ylo = ys.length ? Math.min(...ys) : 0;
    const yhi = ys.length ? Math.max(...ys) : 1;
    const span = yhi > ylo ? yhi - ylo : 1;
    this.sx = (x) => pad.l + (x / xmax) * (W - pad.l - pad.r);
    const sy = (y) => pad.t + (1 - (y - ylo) / span) * (H - pad.t - pad.b);
    const line = pts.map((p, i) => `${this.sx(p[0]).toFixed(1)},${sy(ys[i]).toFixed(1)}`).join(" ");
    const ink = this.ink;
    svg.innerHTML =
      `<line x1="${pad.l}" y1="${H - pad.b}" x2="${W - pad.r}" y2="${H - pad.b}" stroke="${ink}" stroke-width="1"/>` +
      `<line x1="${pad.l}" y1="${pad.t}" x2="${pad.l}" y2="${H - pad.b}" stroke="${ink}" stroke-width="1"/>` +
      `<polyline points="${line}" fill="none" stroke="${this.muted}" stroke-width="1.5"/>` +
      `<text x="${pad.l - 4}" y="${pad.t + 8}" text-anchor="end" font-size="10" fill="${ink}">${num(10 ** yhi)}</text>` +
      `<text x="${pad.l - 4}" y="${H - pad.b}" text-anchor="end" font-size="10" fill="${ink}">${num(10 ** ylo)}</text>` +
      `<text x="${pad.l}" y="${H - 6}" font-size="10" fill="${ink}">0</text>` +
      `<text x="${W - pad.r}" y="${H - 6}" text-anchor="end" font-size="10" fill="${ink}">epoch ${num(xmax)}</text>` +
      `<line class="tl-marker" x1="0" y1="${pad.t}" x2="0" y2="${H - pad.b}" stroke="${this.accent}" stroke-width="2"/>`;
    this.marker = svg.querySelector(".tl-marker");
  }

  bars(c, counts, nan, total, colour) {
    const ctx = c.getContext("2d");
    ctx.clearRect(0, 0, c.width, c.height);
    const bw = c.width / counts.length;
    const top = Math.log10(1 + Math.max(1, total));
    counts.forEach((n, i) => {
      if (!n) return;
      const h = Math.max(1, (Math.log10(1 + n) / top) * (c.height - 2));
      ctx.fillStyle = colour;
      ctx.fillRect(i * bw + 0.5, c.height - h, bw - 1, h);
    });
    if (nan) {
      ctx.fillStyle = this.muted;
      ctx.fillRect(0, 0, c.width, 3);
    }
    ctx.strokeStyle = this.ink;
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(c.width / 2, 0);
    ctx.lineTo(c.width / 2, c.height);
    ctx.globalAlpha = 0.35;
    ctx.stroke();
    ctx.globalAlpha = 1;
  }

  show(root, k) {
    const d = this.d;
    if (this.kCanvas) {
      const spec = d.kernels;
      const { cols, px, gap } = this.kSize;
      const ctx = this.kCanvas.getContext("2d");
      ctx.clearRect(0, 0, this.kCanvas.width, this.kCanvas.height);
      const per = spec.kh * spec.kw;
      for (let o = 0; o < spec.cout; o++) {
        const x = (o % cols) * (spec.kw * px + gap);
        const y = Math.floor(o / cols) * (spec.kh * px + gap);
        paint(ctx, this.kernels[k], o * per, spec.kh, spec.kw, this.div, x, y, px);
      }
      this.kCanvas.dataset.hash = pixelHash(this.kCanvas);
    }
    const pr = d.probe;
    const pctx = this.probeCanvas.getContext("2d");
    if (pr.c === 3) {
      const img = pctx.createImageData(pr.w, pr.h);
      for (let i = 0; i < pr.h * pr.w; i++) {
        for (let ch = 0; ch < 3; ch++) img.data[4 * i + ch] = Math.round((this.probe[3 * i + ch] / 254) * 255);
        img.data[4 * i + 3] = 255;
      }
      const tmp = canvas(pr.w, pr.h);
      tmp.getContext("2d").putImageData(img, 0, 0);
      pctx.imageSmoothingEnabled = false;
      pctx.drawImage(tmp, 0, 0, pr.w * this.probePx, pr.h * this.probePx);
    } else {
      paint(pctx, this.probe, 0, pr.h, pr.w, this.gray, 0, 0, this.probePx);
    }
    const probs = d.probs[k];
    const finite = probs.every((p) => p !== null);
    const said = finite ? probs.indexOf(Math.max(...probs)) : -1;
    if (this.camCanvas) {
      const c = d.cam;
      const ctx = this.camCanvas.getContext("2d");
      // the probe in grey under the map, the map on the sequential scale, half opaque
      ctx.globalAlpha = 1;
      ctx.drawImage(this.probeCanvas, 0, 0, this.camCanvas.width, this.camCanvas.height);
      ctx.globalAlpha = 0.6;
      paint(ctx, this.cam[k], 0, c.h, c.w, this.seq, 0, 0, this.camPx);
      ctx.globalAlpha = 1;
      const name = said >= 0 ? d.classes[said] ?? said : "?";
      this.camFig.querySelector("figcaption").innerHTML = `Grad-CAM for “${esc(name)}” <span class="tl-sub">(its own 0–1 scale)</span>`;
    }
    this.probs.innerHTML = probs
      .map((p, i) => {
        const w = p === null ? 0 : clamp(100 * p, 0, 100);
        const cls = `${i === said ? "tl-said" : ""} ${i === d.label ? "tl-true" : ""}`;
        return `<div class="tl-prob ${cls}"><span class="tl-class">${esc(d.classes[i] ?? i)}</span><span class="tl-bar"><span style="width:${w.toFixed(1)}%"></span></span><span class="tl-p">${pct(p)}</span></div>`;
      })
      .join("");
    this.mapCanvases.forEach(({ canvases, px, spec }, l) => {
      const per = spec.h * spec.w;
      const colours = spec.signed ? this.div : this.seq;
      canvases.forEach((cv, c) => paint(cv.getContext("2d"), this.maps[l][k], c * per, spec.h, spec.w, colours, 0, 0, px));
    });
    const w = d.weights;
    this.histRows.forEach(({ wc, gc, norm }, l) => {
      this.bars(wc, w.counts[k][l], w.nan[k][l], w.sizes[l], this.ink);
      if (gc) {
        this.bars(gc, d.grads.counts[k][l], d.grads.nan[k][l], w.sizes[l], this.accent);
        const g = d.grads.norms[k][l];
        const zero = d.grads.counts[k][l].reduce((a, b) => a + b, 0) === d.grads.counts[k][l][(d.grads.counts[k][l].length - 1) / 2];
        const flag = g === null ? " · NaN or ∞" : g === 0 ? " · all zero" : zero ? " · all below 1e-9" : "";
        norm.textContent = `${num(g)}${flag}`;
        norm.classList.toggle("tl-bad", g === null || g === 0);
      }
    });
    if (this.marker) {
      const x = this.sx(d.x[k]).toFixed(1);
      this.marker.setAttribute("x1", x);
      this.marker.setAttribute("x2", x);
    }
    const where = `step ${d.steps[k].toLocaleString("en-US")} · epoch ${num(d.x[k])}`;
    root.querySelector(".tl-label").textContent = d.live ? `Latest snapshot: ${where}` : `Snapshot ${k + 1} of ${d.n}: ${where}`;
    root.dataset.snapshot = String(k);
    root.dataset.step = String(d.steps[k]);
  }
}

// ------------------------------------------------------------------------------ controller
export default function (component) {
  const { parentElement, data } = component;
  const root = parentElement.querySelector(".tl-root");
  if (!root || !data || !data.n) return;
  let st = root.__tl;
  if (!st) {
    st = root.__tl = { id: null, k: 0, timer: null, key: data.key || "" };
    bind(root, st);
  }
  if (st.id !== data.id) {
    st.id = data.id;
    st.view = new View(data);
    st.view.build(root);
    const fresh = st.n === undefined;
    st.n = data.n;
    st.k = data.live ? data.n - 1 : clamp(fresh ? recall(STORE + st.key, data.n - 1) : st.k, 0, st.n - 1);
    stop(root, st);
    root.classList.toggle("tl-live", !!data.live);
    const slider = root.querySelector(".tl-slider");
    slider.max = String(st.n);
    slider.disabled = st.n < 2;
  }
  show(root, st);
}

function show(root, st) {
  const k = st.k;
  st.view.show(root, k);
  root.querySelector(".tl-slider").value = String(k + 1);
  root.querySelector(".tl-prev").disabled = k === 0;
  root.querySelector(".tl-next").disabled = k === st.n - 1;
}

function go(root, st, k) {
  k = clamp(k, 0, st.n - 1);
  if (k === st.k) return;
  st.k = k;
  show(root, st);
  remember(STORE + st.key, k);
}

function stop(root, st) {
  if (st.timer) clearInterval(st.timer);
  st.timer = null;
  root.querySelector(".tl-play").textContent = "Play";
}

function play(root, st) {
  if (st.k >= st.n - 1) go(root, st, 0);
  root.querySelector(".tl-play").textContent = "Pause";
  st.timer = setInterval(() => {
    if (st.k >= st.n - 1) stop(root, st);
    else go(root, st, st.k + 1);
  }, PLAY_MS);
}

function bind(root, st) {
  root.querySelector(".tl-prev").addEventListener("click", () => go(root, st, st.k - 1));
  root.querySelector(".tl-next").addEventListener("click", () => go(root, st, st.k + 1));
  root.querySelector(".tl-play").addEventListener("click", () => (st.timer ? stop(root, st) : play(root, st)));
  root.querySelector(".tl-slider").addEventListener("input", (e) => go(root, st, Number(e.target.value) - 1));
  root.addEventListener("keydown", (e) => {
    if (e.target.classList && e.target.classList.contains("tl-slider")) return;
    const moves = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 };
    if (e.key in moves) go(root, st, st.k + moves[e.key]);
    else if (e.key === "Home") go(root, st, 0);
    else if (e.key === "End") go(root, st, st.n - 1);
    else return;
    e.preventDefault();
  });
}
