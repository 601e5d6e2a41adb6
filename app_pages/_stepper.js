// The in-browser stepper (Streamlit components v2). It receives a whole trace once (from
// cnnviz.conv.conv_trace or cnnviz.pooling.pool_trace, wrapped by
// cnnviz.plots.arithmetic.stepper_data) and draws every step itself: Previous / Next /
// slider / Play and the arrow keys never wait for the server. It does no arithmetic: every
// number and every line of the worked sum comes from the trace, and every colour from
// cnnviz.plots.style.palette(). The step never goes to the server: the browser tab keeps
// it (sessionStorage, per stepper key), so it survives a change of mode or page and a
// reload, and no click, pause or page switch costs the server a rerun. (An earlier
// version reported the step when the pointer left the stepper; that fragment rerun raced
// a click on the sidebar and left the next page blank.)

const STORE = "cnnviz-stepper:";
const TEXT_MIN = 26; // cells smaller than this (px) show a longer number as colour + tooltip
const SPEEDS = [
  ["slow", 1500],
  ["normal", 800],
  ["fast", 300],
];

// ------------------------------------------------------------------------------ helpers
// (clamp, fmt, esc, hexToRgb, colourAt, remember, recall: _common.js)
const rgb = (c) => `rgb(${c[0]},${c[1]},${c[2]})`;
const inkFor = (c) => (0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2] > 150 ? "#212529" : "#ffffff");

// ------------------------------------------------------------------------------ drawing
// The panels are drawn once per trace; a step then redraws only the cells that change
// (the old and new kernel windows, the output cells between the old and new step) and a
// few outlines, so a step costs the same on a 20×20 grid as on a 4×4 one.
class Painter {
  constructor(data, width) {
    this.t = data.trace;
    this.pal = data.palette;
    this.scales = data.scales;
    this.cs = this.cellSize(width);
    this.k = null; // the step drawn now
  }

  // Fill colour of a value on the named grid's scale (channel name for RGB inputs).
  fill(grid, v, channel) {
    const s = this.scales[grid];
    const [lo, hi] = s.limits;
    const stops = s.scale === "channels" ? this.pal.channels[channel] : this.pal[s.scale];
    return colourAt(stops, hi > lo ? (v - lo) / (hi - lo) : 0.5);
  }

  // One cell's content, drawn at the origin of its <g> (which holds its position).
  cell(value, fillRgb, opts = {}) {
    const cs = this.cs;
    const fs = cs >= 40 ? 14 : cs >= 28 ? 12 : 10;
    const ink = opts.ink || (fillRgb ? inkFor(fillRgb) : "#868e96");
    const fill = fillRgb ? rgb(fillRgb) : opts.bg || "#ffffff";
    const dash = opts.dashed ? ' stroke-dasharray="4 3"' : "";
    const stroke = opts.stroke || "#ced4da";
    const mid = 'text-anchor="middle" dominant-baseline="middle"';
    let svg = `<rect x="1" y="1" width="${cs - 2}" height="${cs - 2}" fill="${fill}" stroke="${stroke}" stroke-width="1"${dash}/>`;
    if (cs < TEXT_MIN && String(value).length > 2) {
      // Too small to write in (a trained network's 14×14 map): the colour says it, the
      // pointer's tooltip and the worked lines below give the number.
      svg += `<title>${esc(opts.small !== undefined ? `${opts.small} = ${value}` : value)}</title>`;
    } else if (opts.small !== undefined && cs >= 44) {
      svg += `<text x="${cs / 2}" y="${cs * 0.34}" font-size="10" fill="${ink}" ${mid}>${esc(opts.small)}</text>`;
      svg += `<text x="${cs / 2}" y="${cs * 0.68}" font-size="${fs}" font-weight="700" fill="${ink}" ${mid}>${esc(value)}</text>`;
    } else {
      const weight = opts.bold ? ' font-weight="700"' : "";
      svg += `<text x="${cs / 2}" y="${cs / 2 + 1}" font-size="${fs}"${weight} fill="${ink}" ${mid}>${esc(value)}</text>`;
    }
    if (opts.hatch) {
      svg += `<rect x="1" y="1" width="${cs - 2}" height="${cs - 2}" fill="url(#cz-hatch)"/>`;
    }
    return svg;
  }

  outline(x, y, w, h, colour, width, dash) {
    const d = dash ? ` stroke-dasharray="${dash}"` : "";
    return `<rect x="${x + width / 2}" y="${y + width / 2}" width="${w - width}" height="${h - width}" fill="none" stroke="${colour}" stroke-width="${width}"${d}/>`;
  }

  panel(title, w, h, body, cls = "") {
    const label = esc(title.replace(/<[^>]+>/g, ""));
    return `<figure class="cz-panel ${cls}"><figcaption>${title}</figcaption><svg width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" aria-label="${label}">${body}</svg></figure>`;
  }

  geometry() {
    const t = this.t;
    const [h, w] = t.input_shape;
    const [[top, bottom], [left, right]] = t.pads;
    return { h, w, top, left, hp: h + top + bottom, wp: w + left + right };
  }

  // --- input panels: every cell is a <g data-cell="c:r,col">, plus an overlay group.
  windowOf(k) {
    const step = this.t.steps[k];
    const cells = new Map(); // "r,col" -> [a, b] position inside the window
    step.rows.forEach((r, a) => step.cols.forEach((col, b) => cells.set(`${r},${col}`, [a, b])));
    return cells;
  }

  inputCell(c, r, col, k, win) {
    const t = this.t;
    const { h, w } = this.geometry();
    const conv = t.kind === "conv";
    const pos = win && win.get(`${r},${col}`);
    if (r < 0 || r >= h || col < 0 || col >= w) {
      const pad = { dashed: true, bg: this.pal.pad_bg, stroke: this.pal.ink };
      if (pos && conv) {
        const [a, b] = pos;
        const p = t.steps[k].products[c][a][b];
        return this.cell(fmt(p), null, { ...pad, small: `0×${fmt(t.kernel[c][a][b])}` });
      }
      return this.cell(conv ? "0" : "", null, pad);
    }
    const v = t.input[c][r][col];
    if (pos && conv) {
      const [a, b] = pos;
      const p = t.steps[k].products[c][a][b];
      return this.cell(fmt(p), this.fill("products", p), { small: `${fmt(v)}×${fmt(t.kernel[c][a][b])}` });
    }
    const hatch = !t.reached.rows[r] || !t.reached.cols[col];
    return this.cell(fmt(v), this.fill("input", v, t.channels[c]), { hatch });
  }

  inputPanel(c) {
    const t = this.t;
    const cs = this.cs;
    const { h, w, top, left, hp, wp } = this.geometry();
    let body = `<defs><pattern id="cz-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="6" stroke="${this.pal.ink}" stroke-width="1.5" opacity="0.55"/></pattern></defs>`;
    for (let r = -top; r < hp - top; r++) {
      for (let col = -left; col < wp - left; col++) {
        const x = (col + left) * cs;
        const y = (r + top) * cs;
        body += `<g transform="translate(${x},${y})" data-cell="${c}:${r},${col}">${this.inputCell(c, r, col, 0, null)}</g>`;
      }
    }
    if (t.kind === "pool") {
      // Every window's boundary (they tile the input when stride = size).
      const [ph, pw] = t.kernel_shape;
      const seen = new Set();
      for (const s of t.steps) {
        const key = `${s.rows[0]},${s.cols[0]}`;
        if (seen.has(key)) continue;
        seen.add(key);
        body += this.outline((s.cols[0] + left) * cs, (s.rows[0] + top) * cs, pw * cs, ph * cs, this.pal.ink, 1.5, "5 3");
      }
    }
    body += `<g class="cz-overlay" data-overlay="in:${c}"></g>`;
    const name = t.channels[c];
    const label = name ? ` · ${name}` : "";
    const padded = hp !== h || wp !== w ? ` <span class="cz-sub">padded to ${hp}×${wp}</span>` : "";
    return this.panel(`${esc(t.input_label || "Input")} ${h}×${w}${label}${padded}`, wp * cs, hp * cs, body);
  }

  inputOverlay(k) {
    const t = this.t;
    const cs = this.cs;
    const { top, left } = this.geometry();
    const step = t.steps[k];
    const r0 = step.rows[0];
    const c0 = step.cols[0];
    const spanH = (step.rows[step.rows.length - 1] - r0 + 1) * cs;
    const spanW = (step.cols[step.cols.length - 1] - c0 + 1) * cs;
    let svg = "";
    if (t.kind === "conv") {
      if (t.dilation[0] > 1 || t.dilation[1] > 1) {
        svg += this.outline((c0 + left) * cs, (r0 + top) * cs, spanW, spanH, this.pal.accent, 1.5, "2 3");
      }
      for (const r of step.rows) {
        for (const col of step.cols) {
          svg += this.outline((col + left) * cs, (r + top) * cs, cs, cs, this.pal.accent, 3);
        }
      }
    } else {
      svg += this.outline((c0 + left) * cs, (r0 + top) * cs, spanW, spanH, this.pal.accent, 3.5);
    }
    if (step.winner) {
      const [a, b] = step.winner;
      svg += this.outline((step.cols[b] + left) * cs + 3, (step.rows[a] + top) * cs + 3, cs - 6, cs - 6, "#1b4332", 3.5);
    }
    return svg;
  }

  kernelPanel(c) {
    const t = this.t;
    const cs = this.cs;
    const [kh, kw] = t.kernel_shape;
    let body = "";
    for (let a = 0; a < kh; a++) {
      for (let b = 0; b < kw; b++) {
        const v = t.kernel[c][a][b];
        body += `<g transform="translate(${b * cs},${a * cs})">${this.cell(fmt(v), this.fill("kernel", v))}</g>`;
      }
    }
    const name = t.channels[c];
    const label = name ? ` · ${name} slice` : "";
    return this.panel(`Kernel ${kh}×${kw}${label}`, kw * cs, kh * cs, body, "cz-kernel");
  }

  // --- output-shaped maps, filled up to step k: <g data-step=idx> per cell + an overlay.
  mapCell(values, grid, idx, k) {
    const [, wo] = this.t.output_shape;
    if (idx > k) return this.cell("?", null, { ink: "#adb5bd" });
    const v = values[Math.floor(idx / wo)][idx % wo];
    return this.cell(fmt(v), this.fill(grid, v), { bold: idx === k });
  }

  mapPanel(m, title, cls = "") {
    const cs = this.cs;
    const [ho, wo] = this.t.output_shape;
    let body = "";
    for (let i = 0; i < ho; i++) {
      for (let j = 0; j < wo; j++) {
        const idx = i * wo + j;
        body += `<g transform="translate(${j * cs},${i * cs})" data-step="${idx}" data-out="${i},${j}" data-map="${m}" class="cz-out-cell">${this.cell("?", null, { ink: "#adb5bd" })}</g>`;
      }
    }
    body += `<g class="cz-overlay" data-overlay="map:${m}"></g>`;
    return this.panel(title, wo * cs, ho * cs, body, cls);
  }

  maps() {
    // [values, grid] of each output-shaped map, in panel order (channel maps, then output).
    const t = this.t;
    const list = t.kind === "conv" && t.channels.length > 1 ? t.partials.map((p) => [p, "partials"]) : [];
    return [...list, [t.output, "output"]];
  }

  cellSize(width) {
    const t = this.t;
    const { hp, wp } = this.geometry();
    const [, kw] = t.kernel_shape;
    const [ho, wo] = t.output_shape;
    const channels = t.channels.length;
    const cols = t.kind === "conv" ? wp + kw + wo * (channels > 1 ? 2 : 1) : wp + wo;
    const room = Math.max(width - 60 * (channels > 1 ? 4 : 3), 240);
    const tall = channels > 1 ? 240 : 620;
    // Below TEXT_MIN a cell shows colour only, so a large map may shrink to fit the page.
    return clamp(Math.floor(Math.min(room / cols, tall / Math.max(hp, ho))), 12, 52);
  }

  // The static panels (HTML), drawn once per trace.
  build() {
    const t = this.t;
    const [ho, wo] = t.output_shape;
    const op = (s) => `<div class="cz-op">${s}</div>`;
    const last = this.maps().length - 1;
    if (t.kind === "pool") {
      const name = { max: "max", avg: "average", sum: "sum" }[t.mode];
      return `<div class="cz-row">${this.inputPanel(0)}${op("→")}${this.mapPanel(last, `${esc(t.output_label || "Output")} ${ho}×${wo} <span class="cz-sub">${name} pooling</span>`)}</div>`;
    }
    // A trained network's map (cnnviz.network.conv_unit_trace) names its layer and the
    // activation it passes through, inside the conv or as the next layer.
    const after = t.activation || (t.relu ? "ReLU" : "");
    const relu = after ? ` <span class="cz-sub">after ${esc(after)}</span>` : "";
    const outName = esc(t.output_label || "Output");
    if (t.channels.length === 1) {
      return `<div class="cz-row">${this.inputPanel(0)}${op("×")}${this.kernelPanel(0)}${op("=")}${this.mapPanel(last, `${outName} ${ho}×${wo}${relu}`)}</div>`;
    }
    let rows = "";
    t.channels.forEach((name, c) => {
      rows += `<div class="cz-row">${this.inputPanel(c)}${op("×")}${this.kernelPanel(c)}${op("=")}${this.mapPanel(c, `${name} map ${ho}×${wo}`, "cz-partial")}</div>`;
    });
    const total = t.total_channels || t.channels.length;
    const bias = t.bias ? ` + bias ${fmt(t.bias)}` : "";
    const sum =
      total > t.channels.length
        ? `sum over all ${total} input channels${bias}; the ${t.channels.length} drawn give most at the opened cell`
        : `sum of the ${t.channels.length} maps${bias}`;
    return `<div class="cz-rgb"><div class="cz-rows">${rows}</div>${op("Σ")}${this.mapPanel(last, `${outName} ${ho}×${wo}${relu}<br><span class="cz-sub">${sum}</span>`)}</div>`;
  }

  // Index the drawn cells, so a step can redraw just the ones that change.
  attach(container) {
    this.inCells = new Map();
    for (const g of container.querySelectorAll("[data-cell]")) this.inCells.set(g.dataset.cell, g);
    this.mapCells = this.maps().map(() => []);
    for (const g of container.querySelectorAll("[data-map]")) {
      this.mapCells[Number(g.dataset.map)][Number(g.dataset.step)] = g;
    }
    this.overlays = new Map();
    for (const g of container.querySelectorAll("[data-overlay]")) this.overlays.set(g.dataset.overlay, g);
  }

  show(k) {
    const t = this.t;
    const cs = this.cs;
    const before = this.k;
    const oldWin = before === null ? new Map() : this.windowOf(before);
    const newWin = this.windowOf(k);
    t.channels.forEach((_, c) => {
      for (const key of new Set([...oldWin.keys(), ...newWin.keys()])) {
        const g = this.inCells.get(`${c}:${key}`);
        if (!g) continue;
        const [r, col] = key.split(",").map(Number);
        g.innerHTML = this.inputCell(c, r, col, k, newWin);
      }
      this.overlays.get(`in:${c}`).innerHTML = this.inputOverlay(k);
    });
    // Output-shaped maps: only the cells whose state differs between the two steps.
    const lo = before === null ? 0 : Math.min(before, k);
    const hi = before === null ? t.steps.length - 1 : Math.max(before, k);
    const [i, j] = t.steps[k].out;
    this.maps().forEach(([values, grid], m) => {
      for (let idx = lo; idx <= hi; idx++) {
        this.mapCells[m][idx].innerHTML = this.mapCell(values, grid, idx, k);
      }
      this.overlays.get(`map:${m}`).innerHTML = this.outline(j * cs, i * cs, cs, cs, this.pal.accent, 3);
    });
    this.k = k;
  }

  worked(k) {
    const t = this.t;
    const step = t.steps[k];
    const lines = step.lines
      .map((line, i) => {
        const last = i === step.lines.length - 1;
        return `<code class="${last ? "cz-total" : ""}">${esc(line)}</code>`;
      })
      .join("");
    return `<div class="cz-cell-title">${esc(t.output_label || "Output")} cell (${step.out[0]}, ${step.out[1]})</div>${lines}`;
  }

  bar(grid, label, channel) {
    const s = this.scales[grid];
    const stops = s.scale === "channels" ? this.pal.channels[channel] : this.pal[s.scale];
    if (!stops) return "";
    const css = stops.map(([p, c]) => `${c} ${(p * 100).toFixed(0)}%`).join(", ");
    const [lo, hi] = s.limits;
    const mid = s.scale === "diverging" ? "<span>0</span>" : "";
    return `<span class="cz-bar"><span class="cz-bar-label">${label}</span><span class="cz-bar-scale"><span class="cz-grad" style="background: linear-gradient(to right, ${css})"></span><span class="cz-ticks"><span>${fmt(lo)}</span>${mid}<span>${fmt(hi)}</span></span></span></span>`;
  }

  legend() {
    const t = this.t;
    const conv = t.kind === "conv";
    const items = [`<span class="cz-key"><span class="cz-swatch cz-sw-window"></span>${conv ? "kernel window (each cell: input × weight = product)" : "current window"}</span>`];
    if (!conv) items.push(`<span class="cz-key"><span class="cz-swatch cz-sw-bounds"></span>window boundaries</span>`);
    if (!conv && t.mode === "max") items.push(`<span class="cz-key"><span class="cz-swatch cz-sw-winner"></span>the max (winner)</span>`);
    const [[top, bottom], [left, right]] = t.pads;
    if (top + bottom + left + right > 0) {
      const what = conv ? "padding: zeros added around the input" : "padding: takes no part (never wins a max, not counted in an average)";
      items.push(`<span class="cz-key"><span class="cz-swatch cz-sw-pad"></span>${what}</span>`);
    }
    if (t.reached.rows.includes(false) || t.reached.cols.includes(false)) {
      items.push(`<span class="cz-key"><span class="cz-swatch cz-sw-unreached"></span>never ${conv ? "reached by the kernel" : "in any window"}: cannot change the output</span>`);
    }
    items.push(`<span class="cz-key"><span class="cz-swatch cz-sw-current"></span>the output cell being computed (hover any output cell to jump to its window)</span>`);
    const bars = [];
    if (this.scales.input.scale === "channels") {
      for (const name of t.channels) bars.push(this.bar("input", `${name} input`, name));
    } else {
      bars.push(this.bar("input", "input"));
    }
    if (conv) {
      bars.push(this.bar("kernel", "kernel"));
      bars.push(this.bar("products", "products"));
      if (t.channels.length > 1) bars.push(this.bar("partials", "channel maps"));
    }
    bars.push(this.bar("output", "output"));
    return `<div class="cz-keys">${items.join("")}</div><div class="cz-bars">${bars.join("")}</div>`;
  }
}

// ------------------------------------------------------------------------------ controller
export default function (component) {
  const { parentElement, data } = component;
  const root = parentElement.querySelector(".cz-stepper");
  if (!root || !data || !data.trace) return;
  let st = root.__cz;
  if (!st) {
    st = root.__cz = { id: null, step: 0, timer: null, key: data.key || "" };
    bind(root, st);
  }
  if (st.id !== data.id) {
    st.id = data.id;
    st.painter = new Painter(data, root.clientWidth || 900);
    const panels = root.querySelector(".cz-panels");
    panels.innerHTML = st.painter.build();
    st.painter.attach(panels);
    // A new trace (the learner changed an input) keeps the step they were on; a fresh
    // mount (back from another mode or page, or a reload) opens on the step this tab
    // remembers.
    const fresh = st.n === undefined;
    st.n = data.trace.steps.length;
    st.step = clamp(fresh ? recall(STORE + st.key, data.step || 0) : st.step, 0, st.n - 1);
    stop(root, st);
    const slider = root.querySelector(".cz-slider");
    slider.max = String(st.n);
    slider.disabled = st.n < 2;
    root.querySelector(".cz-legend").innerHTML = st.painter.legend();
  }
  show(root, st);
}

function show(root, st) {
  const k = st.step;
  if (st.painter.k !== k) st.painter.show(k);
  root.querySelector(".cz-worked").innerHTML = st.painter.worked(k);
  root.querySelector(".cz-label").textContent = `step ${k + 1} of ${st.n}`;
  root.querySelector(".cz-slider").value = String(k + 1);
  root.querySelector(".cz-prev").disabled = k === 0;
  root.querySelector(".cz-next").disabled = k === st.n - 1;
  root.dataset.step = String(k);
}

function go(root, st, k) {
  k = clamp(k, 0, st.n - 1);
  if (k === st.step) return;
  st.step = k;
  show(root, st);
  remember(STORE + st.key, st.step);
}

function stop(root, st) {
  if (st.timer) clearInterval(st.timer);
  st.timer = null;
  root.querySelector(".cz-play").textContent = "Play";
}

function play(root, st) {
  if (st.step >= st.n - 1) go(root, st, 0);
  const ms = Number(root.querySelector(".cz-speed").value) || 800;
  root.querySelector(".cz-play").textContent = "Pause";
  st.timer = setInterval(() => {
    if (st.step >= st.n - 1) stop(root, st);
    else go(root, st, st.step + 1);
  }, ms);
}

function bind(root, st) {
  const speed = root.querySelector(".cz-speed");
  speed.innerHTML = SPEEDS.map(([name, ms]) => `<option value="${ms}"${name === "normal" ? " selected" : ""}>${name}</option>`).join("");
  root.querySelector(".cz-prev").addEventListener("click", () => go(root, st, st.step - 1));
  root.querySelector(".cz-next").addEventListener("click", () => go(root, st, st.step + 1));
  root.querySelector(".cz-play").addEventListener("click", () => (st.timer ? stop(root, st) : play(root, st)));
  speed.addEventListener("change", () => {
    if (st.timer) {
      stop(root, st);
      play(root, st);
    }
  });
  root.querySelector(".cz-slider").addEventListener("input", (e) => go(root, st, Number(e.target.value) - 1));
  root.addEventListener("keydown", (e) => {
    if (e.target.classList && (e.target.classList.contains("cz-slider") || e.target.tagName === "SELECT")) return;
    const moves = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 };
    if (e.key in moves) go(root, st, st.step + moves[e.key]);
    else if (e.key === "Home") go(root, st, 0);
    else if (e.key === "End") go(root, st, st.n - 1);
    else return;
    e.preventDefault();
  });
  // Hovering an output (or channel-map) cell jumps to the window that produced it.
  root.querySelector(".cz-panels").addEventListener("mouseover", (e) => {
    const cell = e.target.closest && e.target.closest("[data-step]");
    if (cell) go(root, st, Number(cell.dataset.step));
  });
}
