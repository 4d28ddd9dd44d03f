// Line charts with uPlot (vendored into www/vendor by the build). A chart keeps its own
// columns, thins them when long, and records its point count in data-points.
import uPlot from './vendor/uPlot.esm.js';

const MAX_POINTS = 1500;
const PALETTE = ['#2f6db5', '#d9622b', '#3a9a5b', '#9a4fb5', '#b59a2f', '#2fa3b5', '#b52f6d', '#6d6d6d'];

function cssVar(name, fallback) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

export class LineChart {
  /** series: [{label, colour?, width?}]; options: {title, xLabel, yLabel, height} */
  constructor(element, series, { title, xLabel = 'step', yLabel = '', height = 180 } = {}) {
    this.element = element;
    this.series = series;
    this.options = { title, xLabel, yLabel, height };
    this.columns = [[], ...series.map(() => [])];
    this.build();
    new ResizeObserver(() => this.plot.setSize({ width: this.width(), height })).observe(element);
    // Colours are read from the page's theme: rebuild when the colour scheme changes.
    matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => this.build());
  }

  build() {
    const { title, xLabel, yLabel, height } = this.options;
    const axis = { stroke: cssVar('--fg', '#222'), grid: { stroke: cssVar('--line', '#ddd'), width: 1 },
      ticks: { stroke: cssVar('--line', '#ddd') } };
    this.plot?.destroy();
    this.plot = new uPlot(
      {
        title,
        width: this.width(),
        height,
        scales: { x: { time: false } },
        legend: { live: false },
        cursor: { drag: { x: false, y: false } },
        axes: [{ ...axis, label: xLabel }, { ...axis, label: yLabel, size: 60 }],
        series: [
          { label: xLabel },
          ...this.series.map((s, k) => ({
            label: s.label,
            stroke: s.colour ?? PALETTE[k % PALETTE.length],
            width: s.width ?? 1.5,
            spanGaps: true,
            points: { show: false },
          })),
        ],
      },
      this.columns,
      this.element,
    );
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
    this.plot.setData(this.columns);
    const points = this.columns.slice(1).reduce((total, c) => total + c.filter((v) => v !== null).length, 0);
    this.element.dataset.points = String(points);
  }

  clear() {
    this.columns = [[], ...this.series.map(() => [])];
    this.plot.setData(this.columns);
    this.element.dataset.points = '0';
  }

  get length() {
    return this.columns[0].length;
  }
}
