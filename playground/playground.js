// The playground page: optimizers race on 2-D landscapes. The engine (wasm) does every update; this
// file draws the contour plot, the trajectories and the loss chart, and wires the controls.
import * as api from 'wasm-optim';
import { LANDSCAPES } from './landscapes.js';
import { createRace } from './race.js';
import { META_STEPS, lossAlongLr, metaRun, metaStep } from './meta.js';

const $ = (id) => document.getElementById(id);
const plot = $('plot');
const chart = $('chart');
const statusLine = $('status');

// Sliders: each maps its position to a value and back.
const SLIDERS = {
  lrAdaptive: { to: (v) => 10 ** v, from: (x) => Math.log10(x), show: (x) => x.toPrecision(2) },
  lrSgd: { to: (v) => 10 ** v, from: (x) => Math.log10(x), show: (x) => x.toPrecision(2) },
  beta1: { to: (v) => v, from: (x) => x, show: (x) => x.toFixed(3) },
  beta2: { to: (v) => 1 - 10 ** -v, from: (x) => -Math.log10(1 - x), show: (x) => String(+x.toPrecision(6)) },
  eps: { to: (v) => 10 ** v, from: (x) => Math.log10(x), show: (x) => x.toExponential(0) },
};

let engine;
let landscape = LANDSCAPES[0];
let race;
let contour; // ImageData of the current landscape
let running = false;
const hidden = new Set();

// The values in force: exact when set from code (a landscape's defaults), else the slider's.
const current = {};

function settings() {
  return { ...current };
}

function setSlider(id, value) {
  current[id] = value;
  $(id).value = String(SLIDERS[id].from(value));
  $(`${id}Out`).textContent = SLIDERS[id].show(value);
}

function readSlider(id) {
  current[id] = SLIDERS[id].to(Number($(id).value));
  $(`${id}Out`).textContent = SLIDERS[id].show(current[id]);
}

/** Starts a fresh race on the current landscape with the current settings. */
function reset() {
  race?.dispose();
  race = createRace(api, engine, landscape, settings());
  for (const s of race.skipped) console.warn(`playground: ${s.name} left out: ${s.reason}`);
  updateMeta();
  render();
}

function selectLandscape(id) {
  const found = LANDSCAPES.find((l) => l.id === id);
  if (!found)
    throw new RangeError(`playground: no landscape '${id}'; there are ${LANDSCAPES.map((l) => l.id).join(', ')}`);
  landscape = found;
  $('landscape').value = id;
  setSlider('lrAdaptive', landscape.lrAdaptive);
  setSlider('lrSgd', landscape.lrSgd);
  $('about').textContent = landscape.about;
  contour = drawContour(landscape);
  reset();
}

// ---- drawing ----------------------------------------------------------------------------------

const PALETTE = [
  [12, 14, 24],
  [24, 30, 52],
  [38, 50, 82],
  [56, 72, 108],
  [80, 96, 132],
  [108, 122, 154],
  [140, 150, 176],
  [176, 182, 200],
];

function colorAt(t) {
  const u = Math.min(Math.max(t, 0), 1) * (PALETTE.length - 1);
  const i = Math.min(Math.floor(u), PALETTE.length - 2);
  const a = PALETTE[i];
  const b = PALETTE[i + 1];
  const k = u - i;
  return [a[0] + (b[0] - a[0]) * k, a[1] + (b[1] - a[1]) * k, a[2] + (b[2] - a[2]) * k];
}

function toCanvas(L, x, y, w, h) {
  const [x0, x1, y0, y1] = L.box;
  return [((x - x0) / (x1 - x0)) * w, ((y1 - y) / (y1 - y0)) * h];
}

/** Filled log-scale contour bands with iso-lines, computed once per landscape. */
function drawContour(L) {
  const w = plot.width;
  const h = plot.height;
  const [x0, x1, y0, y1] = L.box;
  const v = new Float64Array(w * h);
  let vmax = 0;
  for (let j = 0; j < h; j++) {
    const y = y1 - ((j + 0.5) / h) * (y1 - y0);
    for (let i = 0; i < w; i++) {
      const x = x0 + ((i + 0.5) / w) * (x1 - x0);
      const d = Math.max(L.f(x, y) - L.fmin, 0);
      v[j * w + i] = d;
      if (d > vmax) vmax = d;
    }
  }
  const floor = vmax * 1e-5;
  const zlo = Math.log10(floor);
  const zhi = Math.log10(vmax + floor);
  const levels = 18;
  const band = new Int32Array(w * h);
  const img = new ImageData(w, h);
  for (let k = 0; k < w * h; k++) {
    const t = (Math.log10(v[k] + floor) - zlo) / (zhi - zlo);
    band[k] = Math.floor(t * levels);
    const [r, g, b] = colorAt(t);
    img.data[4 * k] = r;
    img.data[4 * k + 1] = g;
    img.data[4 * k + 2] = b;
    img.data[4 * k + 3] = 255;
  }
  for (let j = 0; j < h - 1; j++) {
    for (let i = 0; i < w - 1; i++) {
      const k = j * w + i;
      if (band[k] !== band[k + 1] || band[k] !== band[k + w]) {
        img.data[4 * k] = img.data[4 * k] * 0.5 + 110;
        img.data[4 * k + 1] = img.data[4 * k + 1] * 0.5 + 110;
        img.data[4 * k + 2] = img.data[4 * k + 2] * 0.5 + 110;
      }
    }
  }
  return img;
}

function drawPlot() {
  const ctx = plot.getContext('2d');
  const w = plot.width;
  const h = plot.height;
  ctx.putImageData(contour, 0, 0);
  // The minimum (a cross) and the start (a ring).
  const [mx, my] = toCanvas(landscape, landscape.argmin[0], landscape.argmin[1], w, h);
  ctx.strokeStyle = '#ffffff';
  ctx.lineWidth = 2;
  ctx.beginPath();
  ctx.moveTo(mx - 7, my - 7);
  ctx.lineTo(mx + 7, my + 7);
  ctx.moveTo(mx + 7, my - 7);
  ctx.lineTo(mx - 7, my + 7);
  ctx.stroke();
  const [sx, sy] = toCanvas(landscape, landscape.start[0], landscape.start[1], w, h);
  ctx.beginPath();
  ctx.arc(sx, sy, 7, 0, 2 * Math.PI);
  ctx.stroke();
  ctx.save();
  ctx.beginPath();
  ctx.rect(0, 0, w, h);
  ctx.clip();
  for (const r of race.runners) {
    if (hidden.has(r.name)) continue;
    ctx.strokeStyle = r.color;
    ctx.lineWidth = 2.2;
    ctx.lineJoin = 'round';
    ctx.beginPath();
    r.path.forEach(([x, y], k) => {
      const [cx, cy] = toCanvas(landscape, x, y, w, h);
      if (k === 0) ctx.moveTo(cx, cy);
      else ctx.lineTo(cx, cy);
    });
    ctx.stroke();
    const [x, y] = r.path[r.path.length - 1];
    const [cx, cy] = toCanvas(landscape, x, y, w, h);
    ctx.fillStyle = r.color;
    ctx.strokeStyle = '#000000';
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    ctx.arc(cx, cy, 5, 0, 2 * Math.PI);
    ctx.fill();
    ctx.stroke();
  }
  ctx.restore();
}

function drawChart() {
  const ctx = chart.getContext('2d');
  const w = chart.width;
  const h = chart.height;
  const pad = { l: 52, r: 10, t: 18, b: 26 };
  ctx.fillStyle = '#14161c';
  ctx.fillRect(0, 0, w, h);
  const gap = (loss) => Math.max(loss - landscape.fmin, 1e-12);
  let lo = Infinity;
  let hi = -Infinity;
  for (const r of race.runners) {
    if (hidden.has(r.name)) continue;
    for (const loss of r.losses) {
      if (!Number.isFinite(loss)) continue;
      const z = Math.log10(gap(loss));
      if (z < lo) lo = z;
      if (z > hi) hi = z;
    }
  }
  if (!Number.isFinite(lo)) {
    lo = -1;
    hi = 1;
  }
  lo = Math.floor(lo);
  hi = Math.max(Math.ceil(hi), lo + 1);
  const steps = Math.max(race.steps, 50);
  const X = (s) => pad.l + (s / steps) * (w - pad.l - pad.r);
  const Y = (z) => pad.t + ((hi - z) / (hi - lo)) * (h - pad.t - pad.b);
  ctx.font = '11px system-ui, sans-serif';
  ctx.fillStyle = '#8b93a5';
  ctx.strokeStyle = '#2c313d';
  ctx.lineWidth = 1;
  const every = Math.ceil((hi - lo) / 6);
  for (let z = lo; z <= hi; z += every) {
    ctx.beginPath();
    ctx.moveTo(pad.l, Y(z));
    ctx.lineTo(w - pad.r, Y(z));
    ctx.stroke();
    ctx.fillText(`1e${z}`, 8, Y(z) + 4);
  }
  const tick = steps <= 100 ? 25 : steps <= 400 ? 50 : steps <= 1000 ? 200 : 500;
  ctx.textAlign = 'center';
  for (let s = 0; s <= steps; s += tick) ctx.fillText(String(s), Math.min(X(s), w - pad.r - 10), h - 8);
  ctx.textAlign = 'left';
  ctx.fillText(landscape.fmin === 0 ? 'loss per step' : `loss − (${landscape.fmin}) per step`, pad.l, 12);
  for (const r of race.runners) {
    if (hidden.has(r.name)) continue;
    ctx.strokeStyle = r.color;
    ctx.lineWidth = 1.6;
    ctx.beginPath();
    let pen = false;
    r.losses.forEach((loss, s) => {
      if (!Number.isFinite(loss)) {
        pen = false;
        return;
      }
      const z = Math.min(Math.max(Math.log10(gap(loss)), lo), hi);
      if (pen) ctx.lineTo(X(s), Y(z));
      else ctx.moveTo(X(s), Y(z));
      pen = true;
    });
    ctx.stroke();
  }
}

function formatLoss(v) {
  return v !== 0 && Math.abs(v) < 1e-3 ? v.toExponential(2) : v.toPrecision(4);
}

function drawLegend() {
  const cell = (text, cls = '') => {
    const span = document.createElement('span');
    span.textContent = text;
    if (cls) span.className = cls;
    return span;
  };
  const head = () => {
    const div = document.createElement('div');
    div.className = 'row head';
    div.append(cell(''), cell('optimizer'), cell('loss', 'num'));
    return div;
  };
  const rows = race.runners.map((r) => {
    const last = r.path[r.path.length - 1];
    const loss = r.losses[r.losses.length - 1];
    const div = document.createElement('div');
    div.className = hidden.has(r.name) ? 'row off' : 'row';
    div.setAttribute('role', 'listitem');
    div.dataset.name = r.name;
    div.title = r.diverged
      ? `stopped: ${r.diverged}`
      : `at (${last[0].toFixed(4)}, ${last[1].toFixed(4)}); click to hide or show this path`;
    const swatch = cell('', 'swatch');
    swatch.style.background = r.color;
    div.append(
      swatch,
      cell(r.name),
      cell(r.diverged ? 'diverged' : formatLoss(loss), r.diverged ? 'num diverged' : 'num'),
    );
    div.addEventListener('click', () => {
      if (hidden.has(r.name)) hidden.delete(r.name);
      else hidden.add(r.name);
      render();
    });
    return div;
  });
  // Two columns, filled top to bottom.
  const half = Math.ceil(rows.length / 2);
  const order = [head(), head()];
  for (let i = 0; i < half; i++) order.push(rows[i], rows[i + half] ?? document.createElement('div'));
  $('legend').replaceChildren(...order);
  $('stepCount').textContent = `step ${race.steps}`;
}

function render() {
  drawPlot();
  drawChart();
  drawLegend();
}

// ---- the meta-gradient panel ------------------------------------------------------------------

let meta = null; // the last metaRun for the current settings

/** Recomputes the meta-gradient panel for the current landscape and settings. */
function updateMeta() {
  const s = settings();
  meta = metaRun(api, engine, landscape, s);
  const curve = lossAlongLr(api, engine, landscape, s);
  const ctx = $('metaChart').getContext('2d');
  const w = $('metaChart').width;
  const h = $('metaChart').height;
  const pad = { l: 52, r: 10, t: 14, b: 22 };
  ctx.fillStyle = '#14161c';
  ctx.fillRect(0, 0, w, h);
  const gap = (loss) => Math.log10(Math.max(loss - landscape.fmin, 1e-12));
  const pts = curve.filter((c) => Number.isFinite(c.loss));
  const zs = pts.map((c) => gap(c.loss));
  const lo = Math.floor(Math.min(...zs, 0));
  const hi = Math.max(Math.ceil(Math.max(...zs, 0)), lo + 1);
  const X = (lr) => pad.l + ((Math.log10(lr / s.lrAdaptive) + 1) / 2) * (w - pad.l - pad.r);
  const Y = (z) => pad.t + ((hi - z) / (hi - lo)) * (h - pad.t - pad.b);
  ctx.font = '11px system-ui, sans-serif';
  ctx.fillStyle = '#8b93a5';
  ctx.fillText(`1e${hi}`, 8, Y(hi) + 4);
  ctx.fillText(`1e${lo}`, 8, Y(lo) + 4);
  ctx.textAlign = 'center';
  for (const f of [0.1, 1, 10]) ctx.fillText(`${f === 1 ? '' : `${f}× `}lr`, X(s.lrAdaptive * f), h - 6);
  ctx.textAlign = 'left';
  ctx.strokeStyle = '#8b93a5';
  ctx.lineWidth = 1.4;
  ctx.beginPath();
  pts.forEach((c, i) => (i ? ctx.lineTo(X(c.lr), Y(gap(c.loss))) : ctx.moveTo(X(c.lr), Y(gap(c.loss)))));
  ctx.stroke();
  if (Number.isFinite(meta.dLdlr) && meta.loss - landscape.fmin > 0) {
    // The tangent in the plot's coordinates: d log10(L - fmin) / d log10(lr) = lr dL/dlr / (L - fmin).
    const slope = (s.lrAdaptive * meta.dLdlr) / (meta.loss - landscape.fmin);
    const z0 = gap(meta.loss);
    ctx.strokeStyle = '#ffb454';
    ctx.beginPath();
    ctx.moveTo(X(s.lrAdaptive / 2), Y(z0 - slope * Math.log10(2)));
    ctx.lineTo(X(s.lrAdaptive * 2), Y(z0 + slope * Math.log10(2)));
    ctx.stroke();
    ctx.fillStyle = '#ffb454';
    ctx.beginPath();
    ctx.arc(X(s.lrAdaptive), Y(z0), 3.5, 0, 2 * Math.PI);
    ctx.fill();
  }
  const f = (v) => (Number.isFinite(v) ? v.toExponential(3) : 'n/a (the run diverged)');
  $('metaSteps').textContent = String(META_STEPS);
  $('metaNumbers').textContent =
    `L(θ${META_STEPS}) = ${f(meta.loss)} · dL/dlr = ${f(meta.dLdlr)} · dL/dβ1 = ${f(meta.dLdbeta1)}` +
    ` (lr ${s.lrAdaptive.toPrecision(3)}, β1 ${s.beta1.toFixed(3)}; orange: the tangent dL/dlr gives)`;
}

/** One meta-gradient descent step on the sliders' lr and β1, then a fresh race. */
function applyMetaStep() {
  if (!meta || !Number.isFinite(meta.dLdlr)) return;
  const next = metaStep(settings(), meta.dLdlr, meta.dLdbeta1);
  setSlider('lrAdaptive', next.lrAdaptive);
  setSlider('beta1', next.beta1);
  reset();
}

// ---- controls ---------------------------------------------------------------------------------

const MAX_STEPS = 5000;

function step(n) {
  race.step(Math.min(n, MAX_STEPS - race.steps));
  render();
}

function loop() {
  if (!running) return;
  step(2);
  if (race.steps >= MAX_STEPS) setRunning(false);
  else requestAnimationFrame(loop);
}

function setRunning(on) {
  running = on;
  $('run').textContent = on ? 'Pause' : 'Run';
  if (on) requestAnimationFrame(loop);
}

async function main() {
  try {
    engine = await api.init();
  } catch (e) {
    statusLine.textContent = `could not load the engine: ${e.message} (run npm run build first)`;
    statusLine.classList.add('diverged');
    throw e;
  }
  statusLine.textContent = `engine: ${engine.simd ? 'SIMD' : 'scalar'} build · every update runs in wasm`;
  for (const L of LANDSCAPES) $('landscape').add(new Option(L.name, L.id));
  setSlider('beta1', 0.9);
  setSlider('beta2', 0.999);
  setSlider('eps', 1e-8);
  $('landscape').addEventListener('change', (e) => selectLandscape(e.target.value));
  for (const id of Object.keys(SLIDERS)) {
    $(id).addEventListener('input', () => {
      readSlider(id);
      reset();
    });
  }
  $('step').addEventListener('click', () => {
    setRunning(false);
    step(1);
  });
  $('run').addEventListener('click', () => setRunning(!running));
  $('metaStep').addEventListener('click', () => {
    setRunning(false);
    applyMetaStep();
  });
  $('reset').addEventListener('click', () => {
    setRunning(false);
    reset();
  });
  selectLandscape(LANDSCAPES[0].id);

  /** For scripts and the browser test: drive the page without the mouse. */
  window.playground = {
    landscapes: LANDSCAPES.map((l) => l.id),
    engineSimd: engine.simd,
    step,
    reset: () => {
      setRunning(false);
      reset();
    },
    setLandscape: (id) => {
      setRunning(false);
      selectLandscape(id);
    },
    state: () => race.state(),
    meta: () => ({ ...meta, path: undefined }),
    metaStep: () => applyMetaStep(),
  };
  document.body.dataset.ready = 'true';
}

main();
