// Line charts with uPlot (vendored into www/vendor by the build). A chart keeps its own
// columns, thins them when long, and records its point count in data-points. It says
// "waiting for the first point" instead of showing an empty box, lists in its legend only
// the curves that have points, can scale its y axis robustly (so that one early outlier,
// such as the free energy of pure noise, does not flatten everything after it), and can
// overlay kept runs' curves, dashed, each labelled by its settings.
import uPlot from './vendor/uPlot.esm.js';

const MAX_POINTS = 1500;
const PALETTE = ['#2f6db5', '#d9622b', '#3a9a5b', '#9a4fb5', '#b59a2f', '#2fa3b5', '#b52f6d', '#6d6d6d'];
const KEPT_PALETTE = ['#7f7f7f', '#b08d57', '#5f8f8f'];

function cssVar(name, fallback) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

/** The `q` quantile of sorted numbers. */
/**
 * Tick positions on a 1, 2 or 5 times a power of ten step: as many as fit at about 28 px
 * apart, but never fewer than three inside the range (uPlot's own choice leaves a short
 * axis with two, which cannot show which way the scale runs).
 */
export function niceTicks(min, max, pixels) {
  if (!(Number.isFinite(min) && Number.isFinite(max)) || max <= min) return Number.isFinite(min) ? [min] : [];
  const most = Math.max(3, Math.floor(pixels / 28) + 1);
  const steps = [];
  for (let e = Math.floor(Math.log10(max - min)) - 2; e <= Math.floor(Math.log10(max - min)) + 1; e += 1) {
    for (const m of [1, 2, 5]) steps.push(m * 10 ** e);
  }
  const at = (step) => {
    const ticks = [];
    for (let v = Math.ceil(min / step - 1e-9) * step; v <= max + step * 1e-9; v += step) ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v);
    return ticks;
  };
  const fitting = steps.map(at).filter((ticks) => ticks.length >= 3 && ticks.length <= most);
  return fitting[0] ?? at(steps.filter((step) => at(step).length >= 3).at(-1) ?? (max - min) / 2);
}

function quantile(sorted, q) {
  if (sorted.length === 0) return NaN;
  const at = (sorted.length - 1) * q;
  const low = Math.floor(at);
  return sorted[low] + (sorted[Math.min(low + 1, sorted.length - 1)] - sorted[low]) * (at - low);
}

export class LineChart {
  /**
   * series: [{label, colour?, width?}]; options: {title, xLabel, yLabel, height, robust}.
   * With `robust`, the y axis spans the 2nd to 98th percentile of the points (widened a
   * little), so outliers run off the chart instead of squashing it.
   */
  constructor(element, series, { title, xLabel = 'step', yLabel = '', height = 180, robust = false, logX = false } = {}) {
    this.element = element;
    this.series = series;
    this.options = { title, xLabel, yLabel, height, robust, logX };
    this.columns = [[], ...series.map(() => [])];
    this.kept = []; // [{label, x: [], values: [[...] per series]}]
    this.waiting = document.createElement('p');
    this.waiting.className = 'waiting';
    this.waiting.textContent = `${title}: waiting for the first point…`;
    this.build();
    new ResizeObserver(() => this.plot.setSize({ width: this.width(), height })).observe(element);
    // Colours are read from the page's theme: rebuild when the colour scheme changes.
    matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => this.build());
  }

  build() {
    const { title, xLabel, yLabel, height, robust, logX } = this.options;
    const axis = { stroke: cssVar('--fg', '#222'), grid: { stroke: cssVar('--line', '#ddd'), width: 1 },
      ticks: { stroke: cssVar('--line', '#ddd') } };
    const live = this.series.map((s, k) => ({
      label: s.label,
      stroke: s.colour ?? PALETTE[k % PALETTE.length],
      width: s.width ?? 1.5,
      ...(s.dash ? { dash: s.dash } : {}),
      spanGaps: true,
      points: { show: false },
    }));
    const kept = this.kept.flatMap((run, r) => this.series.map((s, k) => ({
      label: `${s.label} (${run.label})`,
      stroke: s.colour ?? (this.series.length === 1 ? KEPT_PALETTE[r % KEPT_PALETTE.length] : PALETTE[k % PALETTE.length]),
      width: 1.2,
      dash: [5, 4],
      spanGaps: true,
      points: { show: false },
    })));
    this.plot?.destroy();
    this.plot = new uPlot(
      {
        title,
        width: this.width(),
        height,
        scales: {
          // A log x axis (positive x only) for runs whose early steps matter most.
          x: logX ? { time: false, distr: 3, log: 10 } : { time: false },
          y: robust ? { range: (u, min, max) => this.robustRange(min, max) } : {},
        },
        legend: { live: false },
        // The y range shown and the points' extent, for tests and for curious readers.
        hooks: { setScale: [(u, key) => {
          if (key === 'y') this.element.dataset.yRange = `${u.scales.y.min},${u.scales.y.max}`;
        }] },
        cursor: { drag: { x: false, y: false } },
        axes: [
          { ...axis, label: xLabel, values: (u, splits) => this.ticks('x', splits) },
          { ...axis, label: yLabel, size: 64, values: (u, splits) => this.ticks('y', splits),
            splits: (u, axisIndex, min, max) => niceTicks(min, max, u.bbox.height / devicePixelRatio) },
        ],
        series: [{ label: xLabel }, ...live, ...kept],
      },
      this.data(),
      this.element,
    );
    this.element.append(this.waiting);
    this.refresh();
  }

  /** The y range from the points' central 96 % (all of them when there are few). */
  robustRange(min, max) {
    const values = this.columns.slice(1).flat().filter((v) => v !== null && Number.isFinite(v)).sort((a, b) => a - b);
    if (values.length < 10) return [min, max];
    // The 2nd and 98th percentiles, fenced at three interquartile ranges from the quartiles
    // so that a burst of early outliers (every chain's first, noisy state) cannot stretch it.
    const q1 = quantile(values, 0.25);
    const q3 = quantile(values, 0.75);
    const fence = 3 * (q3 - q1);
    const low = Math.max(quantile(values, 0.02), q1 - fence);
    const high = Math.min(quantile(values, 0.98), q3 + fence);
    const pad = (high - low) * 0.15 || Math.abs(high) * 0.05 || 1;
    return [low - pad, high + pad];
  }

  /** The live columns and the kept runs' curves on one shared, sorted x axis. */
  data() {
    if (this.kept.length === 0) return this.columns;
    const xs = [...new Set([...this.columns[0], ...this.kept.flatMap((run) => run.x)])].sort((a, b) => a - b);
    const align = (x, values) => {
      const at = new Map(x.map((v, i) => [v, values[i]]));
      return xs.map((v) => (at.has(v) ? at.get(v) : null));
    };
    return [
      xs,
      ...this.columns.slice(1).map((values) => align(this.columns[0], values)),
      ...this.kept.flatMap((run) => run.values.map((values) => align(run.x, values))),
    ];
  }

  width() {
    return Math.max(200, this.element.clientWidth || 300);
  }

  /** Appends one x and one value per series (null where a series has no value). */
  push(x, values) {
    this.columns[0].push(x);
    values.forEach((v, k) => this.columns[k + 1].push(v ?? null));
    if (this.columns[0].length > MAX_POINTS) {
      this.columns = this.columns.map((column) => column.filter((_, i) => i % 2 === 0));
    }
    this.plot.setData(this.data());
    this.refresh();
  }

  clear() {
    this.columns = [[], ...this.series.map(() => [])];
    this.plot.setData(this.data());
    this.refresh();
  }

  /** Keeps a copy of the current curves, overlaid dashed and labelled, until `clearKept`. */
  keep(label) {
    if (this.columns[0].length === 0) return;
    this.kept.push({ label, x: [...this.columns[0]], values: this.columns.slice(1).map((c) => [...c]) });
    this.build();
  }

  clearKept() {
    this.kept = [];
    this.build();
  }

  /** The point count, the legend rows of curves without points hidden, the waiting note. */
  refresh() {
    const counts = this.columns.slice(1).map((c) => c.filter((v) => v !== null).length);
    const points = counts.reduce((a, b) => a + b, 0);
    this.element.dataset.points = String(points);
    const all = this.columns.slice(1).flat().filter((v) => v !== null && Number.isFinite(v));
    this.element.dataset.yExtent = all.length ? `${Math.min(...all)},${Math.max(...all)}` : '';
    const rows = this.element.querySelectorAll('.u-legend .u-series');
    // The live series' rows, then the kept ones (always shown); uPlot adds a row for the
    // x series first only in some legend modes, so the offset is counted, not assumed.
    const offset = rows.length - this.series.length * (1 + this.kept.length);
    counts.forEach((count, k) => {
      const row = rows[k + offset];
      if (row) row.hidden = count === 0;
    });
    for (let i = 0; i < offset; i += 1) rows[i].hidden = true;
    this.describe(counts);
    this.waiting.hidden = points > 0 || this.kept.length > 0;
    this.element.classList.toggle('empty', points === 0 && this.kept.length === 0);
  }

  /** The chart's text alternative: what it plots and each curve's latest value. */
  describe(counts) {
    const canvas = this.element.querySelector('canvas');
    if (!canvas) return;
    const latest = this.series.map((s, k) => {
      const column = this.columns[k + 1];
      for (let i = column.length - 1; i >= 0; i -= 1) {
        if (column[i] !== null) return `${s.label} ${Number(column[i]).toPrecision(4)} at ${this.options.xLabel} ${this.columns[0][i]}`;
      }
      return null;
    }).filter(Boolean).slice(0, 3);
    const total = counts.reduce((a, b) => a + b, 0);
    canvas.setAttribute('role', 'img');
    canvas.setAttribute('aria-label', `${this.options.title}: ${total
      ? `${total} points; latest ${latest.join('; ')}` : 'waiting for the first point'}${this.kept.length ? `; ${this.kept.length} kept runs overlaid` : ''}.`);
  }

  /**
   * Tick labels with as many decimals as the tick spacing needs (0.045, 0.05, 0.055 rather
   * than three labels reading 0.05); the count is recorded in data-x-ticks / data-y-ticks.
   */
  ticks(axis, splits) {
    this.element.dataset[`${axis}Ticks`] = String(splits.length);
    const spacing = splits.length > 1 ? Math.abs(splits[1] - splits[0]) : Math.abs(splits[0] ?? 1);
    const largest = Math.max(...splits.map(Math.abs));
    if (largest !== 0 && (largest < 1e-3 || largest >= 1e6)) return splits.map((v) => (v === null ? '' : v === 0 ? '0' : v.toExponential(1)));
    let decimals = 0;
    while (decimals < 6 && spacing > 0 && Math.abs(spacing * 10 ** decimals - Math.round(spacing * 10 ** decimals)) > 1e-6 * spacing * 10 ** decimals) decimals += 1;
    // A log axis leaves some splits unlabelled (null).
    return splits.map((v) => (v === null ? '' : v.toLocaleString('en', { minimumFractionDigits: decimals, maximumFractionDigits: decimals })));
  }

  /** Columns for export: x, then each live series. */
  get table() {
    return { labels: [this.options.xLabel, ...this.series.map((s) => s.label)], columns: this.columns };
  }

  get length() {
    return this.columns[0].length;
  }
}
