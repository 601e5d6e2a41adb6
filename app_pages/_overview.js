// The network overview (Streamlit components v2). It receives one view from
// cnnviz.network.overview (every drawn value, the layers' shapes, the conv kernels that
// join a drawn map to the drawn maps before it, the windows of conv and pooling layers)
// and draws it once per view id. Hovering runs here, with no server round trip: the status
// line names the unit under the pointer and its value (written as cnnviz.conv.format_number
// writes it), and what the unit is computed from is outlined in the column before (the
// window in every source map and, for a conv map, the kernel slice beside each). Only a
// click reaches the server: the trigger "pick" = {layer, unit}.

const TILE = 48; // target tile size in CSS pixels (a map is scaled by a whole factor when it fits)
const PER_COLUMN = 8; // tiles stacked in one sub-column before the next starts
const STRIP_HEIGHT = 400; // the tallest a dense layer's strip of cells grows

// ------------------------------------------------------------------------------ helpers
// (clamp, fmt, esc, hexToRgb, colourAt, remember, recall: _common.js)

// A lookup table of 256 colours along a plotly-style colour scale.
function lut(stops) {
  const out = new Array(256);
  for (let k = 0; k < 256; k++) out[k] = colourAt(stops, k / 255);
  return out;
}

function colourIndex(v, lo, hi) {
  if (!Number.isFinite(v)) return 127;
  const t = hi > lo ? (v - lo) / (hi - lo) : 0.5;
  return clamp(Math.round(t * 255), 0, 255);
}

// One canvas, never in the page, paints every picture: the page shows them as <img>. (In
// software rendering, as in a browser without a GPU, every frame of a page holding a
// hundred <canvas> elements repainted them all: a stepper step took 150 ms, not 2.)
const PAINTER = document.createElement("canvas");

// A rows × cols grid of values as an <img> of (cols·s) × (rows·s) CSS pixels (one image
// pixel per value, scaled up without smoothing).
function gridImage(grid, lo, hi, table, s, cls) {
  const rows = grid.length;
  const cols = rows ? grid[0].length : 0;
  const off = PAINTER;
  off.width = Math.max(cols, 1);
  off.height = Math.max(rows, 1);
  const octx = off.getContext("2d");
  const img = octx.createImageData(off.width, off.height);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const col = table[colourIndex(grid[r][c], lo, hi)];
      const p = 4 * (r * cols + c);
      img.data[p] = col[0];
      img.data[p + 1] = col[1];
      img.data[p + 2] = col[2];
      img.data[p + 3] = 255;
    }
  }
  octx.putImageData(img, 0, 0);
  return sized(off.toDataURL(), cols * s, rows * s, cls);
}

function sized(src, w, h, cls) {
  const el = document.createElement("img");
  el.src = src;
  el.width = Math.max(1, Math.round(w));
  el.height = Math.max(1, Math.round(h));
  el.className = cls;
  el.alt = "";
  el.draggable = false;
  return el;
}

// An outline box over part of a picture (x, y, w, h in CSS pixels of its holder).
function box(holder, x, y, w, h, colour, width) {
  const el = document.createElement("div");
  el.className = "nv-box";
  el.style.cssText = `left:${x}px;top:${y}px;width:${Math.max(w, 1)}px;height:${Math.max(h, 1)}px;border:${width}px solid ${colour}`;
  holder.appendChild(el);
  return el;
}

// Where a conv or pooling unit at (r, c) reads its input: [row0, col0, rows, cols].
function windowOf(win, r, c, inShape) {
  const span = (k, d) => (k - 1) * d + 1;
  const before = (n, k, s, d) => {
    if (win.padding !== "same") return 0;
    const out = Math.ceil(n / s);
    return Math.floor(Math.max((out - 1) * s + span(k, d) - n, 0) / 2);
  };
  const [kh, kw] = win.size;
  const [sh, sw] = win.stride;
  const [dh, dw] = win.dilation;
  return [
    r * sh - before(inShape[0], kh, sh, dh),
    c * sw - before(inShape[1], kw, sw, dw),
    span(kh, dh),
    span(kw, dw),
  ];
}

// ------------------------------------------------------------------------------ building
class Overview {
  constructor(root, data) {
    this.root = root;
    this.data = data;
    this.pal = data.palette || {};
    this.accent = this.pal.accent || "#d6336c";
    this.ink = this.pal.ink || "#495057";
    this.tables = {};
    this.cols = [];
    this.dirty = [];
  }

  table(name) {
    if (!this.tables[name]) {
      const stops =
        name in (this.pal.channels || {}) ? this.pal.channels[name] : this.pal[name] || [[0, "#ffffff"], [1, "#000000"]];
      this.tables[name] = lut(stops);
    }
    return this.tables[name];
  }

  build() {
    const host = this.root.querySelector(".nv-columns");
    host.innerHTML = "";
    const sel = this.data.selected;
    this.data.columns.forEach((spec, ci) => {
      const el = document.createElement("div");
      el.className = "nv-column";
      el.dataset.layer = spec.name;
      el.dataset.kind = spec.kind;
      const [name, shape] = String(spec.title).split(" · ");
      el.innerHTML =
        `<div class="nv-title" title="${esc(spec.kind)}">${esc(name)}</div>` +
        `<div class="nv-shape">${esc(shape || "")}</div>` +
        `<div class="nv-kind">${esc(spec.kind)}</div>`;
      const col = { spec, el, index: ci, tiles: new Map(), strip: null, bars: null };
      const mine = sel && sel.layer === spec.name ? sel.unit : null;
      if (spec.type === "maps") this.buildMaps(col, mine);
      else if (spec.type === "probs") this.buildBars(col, mine);
      else this.buildStrip(col, mine);
      if (!spec.explained) {
        const note = document.createElement("div");
        note.className = "nv-note";
        note.textContent = "not explained yet";
        note.title = spec.note || "";
        el.appendChild(note);
      }
      host.appendChild(el);
      this.cols.push(col);
    });
  }

  scaleFor(col) {
    const [h, w] = col.spec.shape;
    const m = Math.max(h, w);
    return m <= TILE ? Math.max(1, Math.round(TILE / m)) : TILE / m;
  }

  buildMaps(col, mine) {
    const spec = col.spec;
    const [h, w, n] = spec.shape;
    const s = this.scaleFor(col);
    const grid = document.createElement("div");
    grid.className = "nv-tiles";
    grid.style.gridTemplateRows = `repeat(${Math.min(spec.maps.length, PER_COLUMN)}, auto)`;
    const rgb = spec.kind === "InputLayer" && n === 3;
    const grey = spec.kind === "InputLayer" && n === 1;
    const [lo, hi] = grey ? [spec.maps[0].values.flat().reduce((a, b) => Math.min(a, b), 0), spec.limits[1]] : spec.limits;
    for (const m of spec.maps) {
      const wrap = document.createElement("div");
      wrap.className = "nv-tile";
      wrap.dataset.map = String(m.index);
      wrap.title = `${spec.name} map ${m.index}`;
      const name = rgb ? ["red", "green", "blue"][m.index] : grey ? "gray" : spec.scale;
      const base = gridImage(m.values, rgb ? 0 : lo, hi, this.table(name), s, "nv-base");
      const tag = document.createElement("span");
      tag.className = "nv-tag";
      tag.textContent = String(m.index);
      wrap.append(base, tag);
      grid.appendChild(wrap);
      const tile = { wrap, base, s, values: m.values, index: m.index };
      col.tiles.set(m.index, tile);
      if (mine && mine.length === 3 && mine[2] === m.index) {
        wrap.classList.add("nv-selected");
        box(wrap, mine[1] * s - 1, mine[0] * s - 1, s + 2, s + 2, this.accent, 2);
      }
      if (spec.kind !== "InputLayer") wrap.classList.add("nv-clickable");
    }
    col.el.appendChild(grid);
    if (spec.hidden > 0) {
      const more = document.createElement("div");
      more.className = "nv-more";
      more.textContent = `+ ${spec.hidden} more map${spec.hidden === 1 ? "" : "s"}`;
      col.el.appendChild(more);
    }
  }

  buildStrip(col, mine) {
    const spec = col.spec;
    const n = spec.values.length;
    const cell = n <= 64 ? 8 : n <= 512 ? 5 : 3;
    const perCol = Math.max(1, Math.min(n, Math.floor(STRIP_HEIGHT / cell)));
    const ncols = Math.ceil(n / perCol);
    const wrap = document.createElement("div");
    wrap.className = "nv-strip nv-clickable";
    // column-major: value i at column floor(i / perCol), row i % perCol (NaN pads the end)
    const grid = Array.from({ length: perCol }, (_, r) =>
      Array.from({ length: ncols }, (_, c) => (c * perCol + r < n ? spec.values[c * perCol + r] : NaN)),
    );
    const [lo, hi] = spec.limits;
    const base = gridImage(grid, lo, hi, this.table(spec.scale), cell, "nv-base");
    wrap.append(base);
    col.strip = { wrap, base, cell, perCol, n };
    if (mine && mine.length === 1) {
      const [x, y] = this.stripXY(col.strip, mine[0]);
      box(wrap, x - 1, y - 1, cell + 2, cell + 2, this.accent, 2);
      wrap.classList.add("nv-selected");
    }
    col.el.appendChild(wrap);
  }

  stripXY(strip, i) {
    return [Math.floor(i / strip.perCol) * strip.cell, (i % strip.perCol) * strip.cell];
  }

  buildBars(col, mine) {
    const spec = col.spec;
    const box = document.createElement("div");
    box.className = "nv-bars";
    const best = spec.values.reduce((b, v, i, a) => (v > a[b] ? i : b), 0);
    box.innerHTML = spec.values
      .map((p, i) => {
        const cls = `nv-bar nv-clickable${i === best ? " nv-best" : ""}${mine && mine[0] === i ? " nv-selected" : ""}`;
        const label = (spec.labels && spec.labels[i]) || String(i);
        return (
          `<div class="${cls}" data-index="${i}">` +
          `<span class="nv-label" title="${esc(label)}">${esc(label)}</span>` +
          `<span class="nv-track"><span class="nv-fill" style="width:${(100 * clamp(p, 0, 1)).toFixed(1)}%"></span></span>` +
          `<span class="nv-val">${esc(fmt(p))}</span></div>`
        );
      })
      .join("");
    col.el.appendChild(box);
    col.bars = box;
  }

  // ---------------------------------------------------------------------------- hovering
  // The unit under the pointer: {col, unit, value, tile?} or null.
  locate(e) {
    const colEl = e.target.closest && e.target.closest(".nv-column");
    if (!colEl) return null;
    const col = this.cols.find((c) => c.el === colEl);
    if (!col) return null;
    const spec = col.spec;
    if (spec.type === "maps") {
      const wrap = e.target.closest(".nv-tile");
      if (!wrap) return null;
      const tile = col.tiles.get(Number(wrap.dataset.map));
      const rect = tile.base.getBoundingClientRect();
      const [h, w] = spec.shape;
      const r = clamp(Math.floor(((e.clientY - rect.top) / rect.height) * h), 0, h - 1);
      const c = clamp(Math.floor(((e.clientX - rect.left) / rect.width) * w), 0, w - 1);
      return { col, tile, unit: [r, c, tile.index], value: tile.values[r][c] };
    }
    if (spec.type === "probs") {
      const bar = e.target.closest(".nv-bar");
      if (!bar) return null;
      const i = Number(bar.dataset.index);
      return { col, unit: [i], value: spec.values[i], bar };
    }
    const strip = col.strip;
    if (!e.target.closest(".nv-strip")) return null;
    const rect = strip.base.getBoundingClientRect();
    const x = Math.floor((e.clientX - rect.left) / strip.cell);
    const y = Math.floor((e.clientY - rect.top) / strip.cell);
    const i = x * strip.perCol + clamp(y, 0, strip.perCol - 1);
    if (i < 0 || i >= strip.n) return null;
    return { col, unit: [i], value: spec.values[i] };
  }

  describe(spec, unit, value) {
    let where;
    if (unit.length === 3) where = `map ${unit[2]} · row ${unit[0]}, col ${unit[1]}`;
    else if (spec.type === "probs") where = (spec.labels && spec.labels[unit[0]]) || `unit ${unit[0]}`;
    else where = `unit ${unit[0]}`;
    return `${spec.name} · ${where} = ${fmt(value)}`;
  }

  status(spec, unit, value, hint) {
    const bar = this.root.querySelector(".nv-status");
    if (!spec) {
      bar.textContent = hint;
      delete bar.dataset.layer;
      delete bar.dataset.unit;
      delete bar.dataset.value;
      return;
    }
    bar.innerHTML = `<b>${esc(this.describe(spec, unit, value))}</b>${hint ? ` <span class="nv-hint">${esc(hint)}</span>` : ""}`;
    bar.title = bar.textContent;
    bar.dataset.layer = spec.name;
    bar.dataset.unit = unit.join(",");
    bar.dataset.value = String(value);
  }

  // The status line when the pointer is elsewhere: the selected unit.
  rest() {
    const sel = this.data.selected;
    const col = sel && this.cols.find((c) => c.spec.name === sel.layer);
    if (!col) {
      this.status(null, null, null, "Hover a tile to see what it is computed from; click a unit to see how.");
      return;
    }
    const u = sel.unit;
    let value = null;
    if (col.spec.type === "maps") {
      const tile = col.tiles.get(u[2]);
      value = tile ? tile.values[u[0]][u[1]] : null;
    } else value = col.spec.values[u[0]];
    const host = this.root.querySelector(".nv-columns");
    const more = host.scrollWidth > host.clientWidth + 4 ? " Scroll sideways for the rest of the network." : "";
    this.status(col.spec, u, value, `— explained below. Hover any tile; click a unit to explain it.${more}`);
  }

  clear() {
    for (const d of this.dirty) {
      if (d.remove) d.remove.remove();
      if (d.el) d.el.classList.remove(d.cls);
    }
    this.dirty = [];
  }

  outlineCells(tile, r0, c0, rows, cols, colour, width) {
    const el = box(tile.wrap, c0 * tile.s, r0 * tile.s, cols * tile.s, rows * tile.s, colour, width);
    this.dirty.push({ remove: el });
  }

  mark(el, cls) {
    el.classList.add(cls);
    this.dirty.push({ el, cls });
  }

  hover(hit) {
    this.clear();
    if (!hit) {
      this.rest();
      return;
    }
    const { col, unit, value } = hit;
    const spec = col.spec;
    const prev = col.index > 0 ? this.cols[col.index - 1] : null;
    let hint = spec.kind === "InputLayer" ? "the image as the network reads it" : "click to see how it was computed";
    if (hit.tile) this.outlineCells(hit.tile, unit[0], unit[1], 1, 1, this.accent, 2);
    if (hit.bar) this.mark(hit.bar, "nv-hot");
    if (hit.col.strip && !hit.tile && !hit.bar) {
      const [x, y] = this.stripXY(col.strip, unit[0]);
      const c = col.strip.cell;
      this.dirty.push({ remove: box(col.strip.wrap, x - 1, y - 1, c + 2, c + 2, this.accent, 2) });
    }
    if (prev && spec.sources !== "none") hint = this.sources(col, prev, unit) || hint;
    this.status(spec, unit, value, hint);
  }

  // Outline in the column before what the hovered unit is computed from; returns a hint.
  sources(col, prev, unit) {
    const spec = col.spec;
    const ps = prev.spec;
    if (ps.type !== "maps") {
      if (prev.strip) {
        this.mark(prev.strip.wrap, "nv-source");
        if (spec.sources === "same" && unit.length === 1) {
          const [x, y] = this.stripXY(prev.strip, unit[0]);
          const c = prev.strip.cell;
          this.dirty.push({ remove: box(prev.strip.wrap, x - 1, y - 1, c + 2, c + 2, this.ink, 2) });
          return `computed from unit ${unit[0]} of ${ps.name}`;
        }
      }
      if (prev.bars) this.mark(prev.bars, "nv-source");
      return `computed from every unit of ${ps.name}`;
    }
    const [ph, pw, pc] = ps.shape;
    if (spec.kind === "Flatten" || spec.kind === "Reshape") {
      const i = unit[0];
      const ch = i % pc;
      const c = Math.floor(i / pc) % pw;
      const r = Math.floor(i / (pc * pw));
      const tile = prev.tiles.get(ch);
      if (tile) {
        this.outlineCells(tile, r, c, 1, 1, this.ink, 2);
        this.mark(tile.wrap, "nv-source");
      }
      return `= ${ps.name} map ${ch}, row ${r}, col ${c}${tile ? "" : " (map not drawn)"}`;
    }
    if (unit.length === 1) {
      // A vector unit from maps: a global pooling (map i) or a dense layer reading them all.
      if (spec.sources === "same") {
        const tile = prev.tiles.get(unit[0]);
        if (tile) {
          this.outlineCells(tile, 0, 0, ph, pw, this.ink, 3);
          this.mark(tile.wrap, "nv-source");
        }
        return `computed from all of ${ps.name} map ${unit[0]}`;
      }
      for (const tile of prev.tiles.values()) this.mark(tile.wrap, "nv-source");
      return `computed from every map of ${ps.name}`;
    }
    const [r, c, m] = unit;
    const win = spec.window ? windowOf(spec.window, r, c, ps.shape) : [r, c, 1, 1];
    const targets = spec.sources === "all" ? [...prev.tiles.values()] : [prev.tiles.get(m)].filter(Boolean);
    const kernels = spec.kernels && spec.kernels[String(m)];
    let klim = 0;
    if (kernels) for (const k of Object.values(kernels)) for (const v of k.flat()) klim = Math.max(klim, Math.abs(v));
    for (const tile of targets) {
      this.outlineCells(tile, win[0], win[1], win[2], win[3], this.ink, 2);
      this.mark(tile.wrap, "nv-source");
      const k = kernels && kernels[String(tile.index)];
      if (k) this.kernel(tile, k, klim);
    }
    const rest = spec.sources === "all" && ps.hidden > 0 ? ` (and the ${ps.hidden} maps not drawn)` : "";
    if (spec.kind === "Conv2D")
      return `computed from ${ps.name}: the outlined window of every map${rest}, times map ${m}'s kernel slices shown beside them, + bias`;
    if (spec.window) return `computed from the outlined window of ${ps.name} map ${m}`;
    return `computed from the same position of ${ps.name} map ${m}`;
  }

  kernel(tile, k, lim) {
    const kh = k.length;
    const kw = k[0].length;
    const s = Math.max(2, Math.floor(18 / Math.max(kh, kw)));
    const img = gridImage(k, -(lim || 1), lim || 1, this.table("diverging"), s, "nv-kernel");
    img.width = kw * s;
    img.height = kh * s;
    tile.wrap.appendChild(img);
    this.dirty.push({ remove: img });
  }
}

// ------------------------------------------------------------------------------ controller
export default function (component) {
  const { parentElement, data, setTriggerValue } = component;
  const root = parentElement.querySelector(".nv-overview");
  if (!root || !data || !data.columns) return;
  let st = root.__nv;
  if (!st) {
    st = root.__nv = { id: null, view: null, send: null };
    bind(root, st);
  }
  st.send = setTriggerValue;
  if (st.id !== data.id) {
    st.id = data.id;
    st.view = new Overview(root, data);
    st.view.build();
    st.view.rest();
  }
}

function bind(root, st) {
  const host = root.querySelector(".nv-columns");
  // The unit is found while the event is dispatched (in a shadow root the event's target
  // is cleared afterwards); drawing waits for the next frame, at most once per frame.
  let frame = 0;
  let last = null;
  let same = "";
  host.addEventListener("mousemove", (e) => {
    if (!st.view) return;
    last = st.view.locate(e);
    const id = last ? `${last.col.index}:${last.unit.join(",")}` : "";
    if (id === same) return;
    same = id;
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      if (st.view) st.view.hover(last);
    });
  });
  host.addEventListener("mouseleave", () => {
    last = null;
    same = "";
    if (st.view) st.view.hover(null);
  });
  host.addEventListener("click", (e) => {
    if (!st.view || !st.send) return;
    const hit = st.view.locate(e);
    if (!hit || hit.col.spec.kind === "InputLayer") return;
    st.send("pick", { layer: hit.col.spec.name, unit: hit.unit });
  });
}
