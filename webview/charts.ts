/**
 * The D3 charts of the views. Every chart is one <svg> (so it exports as it is shown); heatmaps
 * draw their cells into a bitmap (one pixel per cell) placed in the SVG as an <image>, which
 * stays fast at 1024 x 1024 cells. Colours of text and axes come from VS Code's theme variables
 * (styles.css); data colours from perceptual scales that read on light and dark themes.
 */
import * as d3 from 'd3';
import { formatNumber } from './format';
import { LABEL_HEIGHT, estimateWidth, planAxisLabels, type AxisLabelPlan, type Measure } from './ticks';

export interface Margin {
  top: number;
  right: number;
  bottom: number;
  left: number;
}

export type Svg = d3.Selection<SVGSVGElement, unknown, null, undefined>;

/** A fresh <svg> in `container`, with a title for screen readers and exports. */
export function createSvg(container: HTMLElement, width: number, height: number, title: string): Svg {
  d3.select(container).selectAll('svg.chart').remove();
  const svg = d3.select(container).append('svg')
    .attr('class', 'chart')
    .attr('xmlns', 'http://www.w3.org/2000/svg')
    .attr('width', width)
    .attr('height', height)
    .attr('viewBox', `0 0 ${width} ${height}`)
    .attr('role', 'img')
    .attr('aria-label', title);
  svg.append('title').text(title);
  return svg;
}

/** The one number formatter of the views (./format.ts). */
export const formatValue = (v: number, digits?: number): string => formatNumber(v, digits);
/** Numeric axis ticks: 3 significant digits, the same spelling as every other number. */
const tickNumber = (v: d3.NumberValue): string => formatNumber(+v, 3);

/**
 * Text widths of the charts' tick font (11 px, the theme's font: styles.css), measured on a
 * canvas; the estimate of ./ticks.ts where there is no canvas.
 */
export function labelMeasure(svg: Svg): Measure {
  // The probe must be in the document for the styles to apply: a chart is often drawn into a
  // holder not yet attached, whose text would read as the canvas's default 10 px (10% short).
  const attached = svg.node()?.isConnected ?? false;
  const host = attached || typeof document === 'undefined' ? null : d3.select(document.body).append('svg').attr('class', 'chart').attr('aria-hidden', 'true')
    .style('position', 'absolute').style('visibility', 'hidden').style('width', '0').style('height', '0');
  const probe = (host ?? svg).append('text').attr('class', 'tick-probe').attr('visibility', 'hidden').text('0');
  const node = probe.node();
  const style = node && node.isConnected && typeof getComputedStyle === 'function' ? getComputedStyle(node) : null;
  const font = style && style.fontSize ? `${style.fontWeight} ${style.fontSize} ${style.fontFamily}` : null;
  probe.remove();
  host?.remove();
  const ctx = typeof document !== 'undefined' ? document.createElement('canvas').getContext('2d') : null;
  if (!ctx || !font) return (s) => estimateWidth(s);
  ctx.font = font;
  const cache = new Map<string, number>();
  return (s) => {
    let w = cache.get(s);
    if (w === undefined) {
      w = ctx.measureText(s).width;
      if (cache.size < 8192) cache.set(s, w);
    }
    return w;
  };
}

/** Tick length + padding of d3's axes: where a label starts. */
const TICK_REACH = 9;
/** Room for an axis title below or beside the labels. */
const TITLE_ROOM = 18;
/** Widest a row label (left axis) or a column label (bottom axis) may be before it is cut with "…". */
const ROW_LABEL_MAX = 120;
const COL_LABEL_MAX = 110;

/**
 * Applies a label plan to a d3 category axis already drawn into `axis` (tick values = the plan's
 * indices): turned labels read bottom to top, hanging from the tick; a cut label keeps its full
 * text in a <title> on its tick (the hover tooltip).
 */
function finishCategoryAxis(axis: d3.Selection<SVGGElement, unknown, null, undefined>, plan: AxisLabelPlan, full: (k: number) => string): void {
  const ticks = axis.selectAll<SVGGElement, unknown>('g.tick');
  ticks.each(function (_, n) {
    const tick = d3.select(this);
    tick.attr('data-index', plan.indices[n]);
    if (plan.truncated[n]) tick.append('title').text(full(plan.indices[n]));
  });
  if (plan.rotated) {
    ticks.select('text').attr('transform', 'rotate(-90)').attr('x', -TICK_REACH).attr('y', 0).attr('dy', '0.32em').style('text-anchor', 'end');
  }
  axis.attr('data-label-step', plan.step).attr('data-labels-rotated', String(plan.rotated));
}

export interface HeatmapOptions {
  rows: number;
  cols: number;
  /** NaN is drawn as a gap (the background). */
  value: (row: number, col: number) => number;
  color: (v: number) => string;
  width: number;
  height: number;
  margin?: Partial<Margin>;
  rowLabel: (row: number) => string;
  colLabel: (col: number) => string;
  xTitle: string;
  yTitle: string;
  legend?: { domain: [number, number]; title: string };
  /** Called with the cell under the pointer or the keyboard cursor (null: left the chart). */
  onCell?: (row: number, col: number) => void;
  onLeave?: () => void;
  /** Rows to mark (e.g. highlighted tokens). */
  markedRows?: ReadonlySet<number>;
  /** A row to outline (the pinned token). */
  focusRow?: number;
}

export interface Heatmap {
  svg: Svg;
  /** Moves the cursor (outline) to a cell. */
  showCursor(row: number, col: number): void;
  /** Pixel scales of the plot area, for brushes. */
  y: (row: number) => number;
  rowAt: (py: number) => number;
  plot: Margin & { width: number; height: number };
}

function bitmap(rows: number, cols: number, value: (r: number, c: number) => number, color: (v: number) => string): string {
  const canvas = document.createElement('canvas');
  canvas.width = cols;
  canvas.height = rows;
  const ctx = canvas.getContext('2d')!;
  const image = ctx.createImageData(cols, rows);
  const cache = new Map<string, [number, number, number]>();
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = value(r, c);
      const k = 4 * (r * cols + c);
      if (!Number.isFinite(v)) continue; // transparent
      const css = color(v);
      let rgb = cache.get(css);
      if (!rgb) {
        const parsed = d3.rgb(css);
        rgb = [parsed.r, parsed.g, parsed.b];
        if (cache.size < 4096) cache.set(css, rgb);
      }
      image.data[k] = rgb[0];
      image.data[k + 1] = rgb[1];
      image.data[k + 2] = rgb[2];
      image.data[k + 3] = 255;
    }
  }
  ctx.putImageData(image, 0, 0);
  return canvas.toDataURL('image/png');
}

export function drawHeatmap(container: HTMLElement, title: string, o: HeatmapOptions): Heatmap {
  // The margins follow the labels: the widest row label on the left, the column labels (turned
  // where they must be) below, the colour bar's ticks and title on the right. The plot keeps the
  // height it was given; the SVG grows by what the labels need beyond the default margins.
  const svg = createSvg(container, o.width, o.height, title);
  const measure = labelMeasure(svg);
  const rowNames = Array.from({ length: o.rows }, (_, r) => o.rowLabel(r));
  const colNames = Array.from({ length: o.cols }, (_, c) => o.colLabel(c));
  const widestRow = Math.min(ROW_LABEL_MAX, Math.max(0, ...rowNames.map(measure)));
  const legendTitle = o.legend ? o.legend.title.split('\n') : [];
  const legendRight = o.legend ? 16 + 12 + TICK_REACH + Math.max(...[-1, -0.5, 0, 0.5, 1].map((f) => measure(tickNumber(f * Math.max(Math.abs(o.legend!.domain[0]), Math.abs(o.legend!.domain[1])))))) + 6 : 0;
  const legendTitleRight = o.legend ? 16 + Math.max(...legendTitle.map(measure)) + 6 : 0;
  const base: Margin = { top: 8, right: o.legend ? Math.max(80, legendRight, legendTitleRight) : 12, bottom: 46, left: TICK_REACH + widestRow + 8 + TITLE_ROOM, ...o.margin };
  const pw = o.width - base.left - base.right;
  const ph = o.height - base.top - base.bottom;
  const colPlan = planAxisLabels(colNames, { slot: pw / Math.max(1, o.cols), measure, maxLabel: COL_LABEL_MAX, allowRotate: true });
  const rowPlan = planAxisLabels(rowNames, { slot: ph / Math.max(1, o.rows), measure, maxLabel: ROW_LABEL_MAX, vertical: true });
  const m: Margin = { ...base, bottom: Math.max(base.bottom, TICK_REACH + colPlan.depth + 6 + TITLE_ROOM) };
  const height = m.top + ph + m.bottom;
  svg.attr('height', height).attr('viewBox', `0 0 ${o.width} ${height}`);
  const x = d3.scaleLinear().domain([0, o.cols]).range([0, pw]);
  const y = d3.scaleLinear().domain([0, o.rows]).range([0, ph]);
  const g = svg.append('g').attr('transform', `translate(${m.left},${m.top})`);
  g.append('image')
    .attr('href', bitmap(o.rows, o.cols, o.value, o.color))
    .attr('width', pw)
    .attr('height', ph)
    .attr('preserveAspectRatio', 'none')
    .style('image-rendering', 'pixelated');
  const yAxis = g.append('g').attr('class', 'axis axis-rows')
    .call(d3.axisLeft(y).tickValues(rowPlan.indices.map((r) => r + 0.5)).tickFormat((_, n) => rowPlan.labels[n]).tickSizeOuter(0));
  finishCategoryAxis(yAxis, rowPlan, (k) => rowNames[k]);
  const xAxis = g.append('g').attr('class', 'axis axis-cols').attr('transform', `translate(0,${ph})`)
    .call(d3.axisBottom(x).tickValues(colPlan.indices.map((c) => c + 0.5)).tickFormat((_, n) => colPlan.labels[n]).tickSizeOuter(0));
  finishCategoryAxis(xAxis, colPlan, (k) => colNames[k]);
  svg.append('text').attr('class', 'axis-title').attr('x', m.left + pw / 2).attr('y', height - 4).attr('text-anchor', 'middle').text(o.xTitle);
  svg.append('text').attr('class', 'axis-title').attr('transform', `translate(12,${m.top + ph / 2}) rotate(-90)`).attr('text-anchor', 'middle').text(o.yTitle);
  if (o.markedRows?.size) {
    g.append('g').attr('class', 'marks').selectAll('rect').data([...o.markedRows].filter((r) => r < o.rows)).join('rect')
      .attr('x', -6).attr('width', 4).attr('y', (r) => y(r)).attr('height', Math.max(1, y(1) - y(0))).attr('class', 'mark');
  }
  if (o.focusRow !== undefined && o.focusRow >= 0 && o.focusRow < o.rows) {
    g.append('rect').attr('class', 'focus-row').attr('x', 0).attr('width', pw).attr('y', y(o.focusRow)).attr('height', Math.max(2, y(1) - y(0)));
  }
  const cursor = g.append('rect').attr('class', 'cursor').attr('visibility', 'hidden');
  const showCursor = (row: number, col: number): void => {
    cursor.attr('visibility', 'visible').attr('x', x(col)).attr('y', y(row)).attr('width', Math.max(2, x(1) - x(0))).attr('height', Math.max(2, y(1) - y(0)));
  };
  if (o.legend) drawLegend(svg, o.legend.domain, o.color, o.legend.title, m.left + pw + 16, m.top, Math.min(ph, 200));
  // Pointer and keyboard: the overlay reports the cell; arrows move a cursor.
  let cur = { row: 0, col: 0 };
  const report = (row: number, col: number): void => {
    cur = { row, col };
    showCursor(row, col);
    o.onCell?.(row, col);
  };
  g.append('rect').attr('class', 'cells-overlay').attr('width', pw).attr('height', ph)
    .on('mousemove', (event: MouseEvent) => {
      const [px, py] = d3.pointer(event);
      const col = Math.min(o.cols - 1, Math.max(0, Math.floor(x.invert(px))));
      const row = Math.min(o.rows - 1, Math.max(0, Math.floor(y.invert(py))));
      if (row !== cur.row || col !== cur.col || cursor.attr('visibility') === 'hidden') report(row, col);
    })
    .on('mouseleave', () => {
      cursor.attr('visibility', 'hidden');
      o.onLeave?.();
    });
  svg.attr('tabindex', 0)
    .on('keydown', (event: KeyboardEvent) => {
      const moves: Record<string, [number, number]> = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
      const move = moves[event.key];
      if (!move) return;
      event.preventDefault();
      report(Math.min(o.rows - 1, Math.max(0, cur.row + move[0])), Math.min(o.cols - 1, Math.max(0, cur.col + move[1])));
    })
    .on('focus', () => report(cur.row, cur.col));
  return { svg, showCursor, y: (row) => y(row), rowAt: (py) => Math.min(o.rows - 1, Math.max(0, Math.floor(y.invert(py)))), plot: { ...m, width: pw, height: ph } };
}

/** A vertical colour bar with its domain. */
export function drawLegend(svg: Svg, domain: [number, number], color: (v: number) => string, title: string, x: number, y: number, height: number): void {
  const steps = 64;
  const g = svg.append('g').attr('class', 'legend').attr('transform', `translate(${x},${y})`);
  const scale = d3.scaleLinear().domain(domain).range([height, 0]);
  g.selectAll('rect').data(d3.range(steps)).join('rect')
    .attr('x', 0).attr('width', 12)
    .attr('y', (i) => (height * (steps - 1 - i)) / steps).attr('height', height / steps + 0.5)
    .attr('fill', (i) => color(domain[0] + ((domain[1] - domain[0]) * (i + 0.5)) / steps));
  g.append('g').attr('class', 'axis').attr('transform', 'translate(12,0)').call(d3.axisRight(scale).ticks(5).tickFormat(tickNumber));
  // one line per \n of the title (e.g. the quantity, then how the scale was chosen)
  const text = g.append('text').attr('class', 'axis-title legend-title').attr('x', 0).attr('y', height + 16);
  title.split('\n').forEach((line, i) => text.append('tspan').attr('x', 0).attr('dy', i === 0 ? 0 : LABEL_HEIGHT + 1).text(line));
}

export interface Series {
  name: string;
  values: { x: number; y: number }[];
}

/** Lines (one per series) over a shared x axis, with a legend of their names. */
export function drawLines(container: HTMLElement, title: string, series: Series[], o: { width: number; height: number; xTitle: string; yTitle: string; xTicks?: (number | string)[]; logY?: boolean }): Svg {
  const base: Margin = { top: 10, right: 130, bottom: 40, left: 60 };
  const svg = createSvg(container, o.width, o.height, title);
  const measure = labelMeasure(svg);
  const pw = o.width - base.left - base.right;
  const ph = o.height - base.top - base.bottom;
  const all = series.flatMap((s) => s.values).filter((p) => Number.isFinite(p.y) && (!o.logY || p.y > 0));
  // Named points along x (checkpoints): thinned and turned like a category axis, one slot per point.
  const names = o.xTicks?.map(String);
  const plan = names ? planAxisLabels(names, { slot: pw / Math.max(1, names.length - 1), measure, maxLabel: COL_LABEL_MAX, allowRotate: true }) : null;
  const m: Margin = { ...base, bottom: plan ? Math.max(base.bottom, TICK_REACH + plan.depth + 4 + TITLE_ROOM) : base.bottom };
  const height = m.top + ph + m.bottom;
  svg.attr('height', height).attr('viewBox', `0 0 ${o.width} ${height}`);
  const x = d3.scaleLinear().domain(d3.extent(all, (p) => p.x) as [number, number]).range([0, pw]);
  const yExtent = d3.extent(all, (p) => p.y) as [number, number];
  const y = (o.logY ? d3.scaleLog().domain(yExtent) : d3.scaleLinear().domain([Math.min(0, yExtent[0]), yExtent[1]])).range([ph, 0]).nice();
  const g = svg.append('g').attr('transform', `translate(${m.left},${m.top})`);
  const xAxis = d3.axisBottom(x).tickSizeOuter(0);
  if (plan) xAxis.tickValues(plan.indices).tickFormat((_, n) => plan.labels[n]);
  else xAxis.ticks(Math.min(10, all.length), 'd');
  const xAxisG = g.append('g').attr('class', 'axis').attr('transform', `translate(0,${ph})`).call(xAxis);
  if (plan) finishCategoryAxis(xAxisG, plan, (k) => names![k]);
  g.append('g').attr('class', 'axis').call(d3.axisLeft(y).ticks(6).tickFormat(tickNumber));
  const color = d3.scaleOrdinal(d3.schemeTableau10).domain(series.map((s) => s.name));
  const line = d3.line<{ x: number; y: number }>().defined((p) => Number.isFinite(p.y) && (!o.logY || p.y > 0)).x((p) => x(p.x)).y((p) => y(p.y));
  for (const s of series) {
    g.append('path').datum(s.values).attr('class', 'series').attr('fill', 'none').attr('stroke', color(s.name)).attr('stroke-width', 1.6).attr('d', line);
    g.append('g').selectAll('circle').data(s.values.filter((p) => Number.isFinite(p.y))).join('circle').attr('r', 2.5).attr('fill', color(s.name)).attr('cx', (p) => x(p.x)).attr('cy', (p) => y(p.y))
      .append('title').text((p) => `${s.name}: ${formatValue(p.y)}`);
  }
  const legend = svg.append('g').attr('transform', `translate(${m.left + pw + 14},${m.top})`);
  series.forEach((s, i) => {
    const row = legend.append('g').attr('transform', `translate(0,${i * 16})`);
    row.append('rect').attr('width', 10).attr('height', 10).attr('fill', color(s.name));
    row.append('text').attr('class', 'legend-text').attr('x', 14).attr('y', 9).text(s.name);
  });
  svg.append('text').attr('class', 'axis-title').attr('x', m.left + pw / 2).attr('y', height - 4).attr('text-anchor', 'middle').text(o.xTitle);
  svg.append('text').attr('class', 'axis-title').attr('transform', `translate(12,${m.top + ph / 2}) rotate(-90)`).attr('text-anchor', 'middle').text(o.yTitle);
  return svg;
}

/** Bars over categories (labels), e.g. a histogram's bins or a value per layer. */
export function drawBars(container: HTMLElement, title: string, bars: { label: string; value: number; x0?: number; x1?: number }[], o: { width: number; height: number; xTitle: string; yTitle: string; logY?: boolean; numericX?: boolean; signed?: boolean }): Svg {
  const base: Margin = { top: 10, right: 16, bottom: 42, left: 60 };
  const svg = createSvg(container, o.width, o.height, title);
  const pw = o.width - base.left - base.right;
  const ph = o.height - base.top - base.bottom;
  const category = !(o.numericX && bars.length && bars[0].x0 !== undefined);
  // Category labels: every step-th, turned when flat ones would need a larger step, cut with a tooltip.
  const names = bars.map((b) => b.label);
  const plan = category ? planAxisLabels(names, { slot: pw / Math.max(1, bars.length), measure: labelMeasure(svg), maxLabel: COL_LABEL_MAX, allowRotate: true }) : null;
  const m: Margin = { ...base, bottom: plan ? Math.max(base.bottom, TICK_REACH + plan.depth + 4 + TITLE_ROOM) : base.bottom };
  const height = m.top + ph + m.bottom;
  svg.attr('height', height).attr('viewBox', `0 0 ${o.width} ${height}`);
  const g = svg.append('g').attr('transform', `translate(${m.left},${m.top})`);
  const max = d3.max(bars, (b) => b.value) ?? 1;
  const y = o.logY
    ? d3.scaleSymlog().domain([0, max]).range([ph, 0])
    : d3.scaleLinear().domain([Math.min(0, d3.min(bars, (b) => b.value) ?? 0), Math.max(0, max)]).range([ph, 0]).nice();
  if (!plan) {
    const x = d3.scaleLinear().domain([bars[0].x0!, bars[bars.length - 1].x1!]).range([0, pw]);
    g.selectAll('rect').data(bars).join('rect').attr('class', 'bar')
      .attr('x', (b) => x(b.x0!)).attr('width', (b) => Math.max(1, x(b.x1!) - x(b.x0!) - 0.5))
      .attr('y', (b) => y(Math.max(0, b.value))).attr('height', (b) => Math.abs(y(b.value) - y(0)))
      .append('title').text((b) => `${b.label}: ${formatValue(b.value)}`);
    g.append('g').attr('class', 'axis').attr('transform', `translate(0,${ph})`).call(d3.axisBottom(x).ticks(6).tickFormat(tickNumber));
  } else {
    // categories by index (labels need not be unique), drawn from the left
    const x = d3.scaleBand<number>().domain(d3.range(bars.length)).range([0, pw]).padding(0.15);
    // signed: positive and negative values in the theme's two data colours, each bar's value in data-value
    g.selectAll('rect').data(bars).join('rect').attr('class', (b) => (o.signed ? `bar ${b.value < 0 ? 'negative' : 'positive'}` : 'bar'))
      .attr('data-value', (b) => (o.signed ? String(b.value) : null))
      .attr('x', (_, i) => x(i)!).attr('width', x.bandwidth())
      .attr('y', (b) => y(Math.max(0, b.value))).attr('height', (b) => Math.abs(y(b.value) - y(0)))
      .append('title').text((b) => `${b.label}: ${formatValue(b.value)}`);
    const axis = g.append('g').attr('class', 'axis').attr('transform', `translate(0,${ph})`)
      .call(d3.axisBottom(x).tickValues(plan.indices).tickFormat((_, n) => plan.labels[n]).tickSizeOuter(0));
    finishCategoryAxis(axis, plan, (k) => names[k]);
  }
  g.append('g').attr('class', 'axis').call(d3.axisLeft(y).ticks(5).tickFormat(tickNumber));
  if (o.signed) g.append('line').attr('class', 'zero-line').attr('x1', 0).attr('x2', pw).attr('y1', y(0)).attr('y2', y(0));
  svg.append('text').attr('class', 'axis-title').attr('x', m.left + pw / 2).attr('y', height - 4).attr('text-anchor', 'middle').text(o.xTitle);
  svg.append('text').attr('class', 'axis-title').attr('transform', `translate(12,${m.top + ph / 2}) rotate(-90)`).attr('text-anchor', 'middle').text(o.yTitle);
  return svg;
}

/**
 * Groups of bars over categories (e.g. per layer, one bar per window offset), signed values from
 * a zero line, one colour per series (the bar's name) with a legend.
 */
export function drawGroupedBars(container: HTMLElement, title: string, groups: { label: string; bars: { name: string; value: number }[] }[], o: { width: number; height: number; xTitle: string; yTitle: string }): Svg {
  const m: Margin = { top: 10, right: 110, bottom: 42, left: 60 };
  const svg = createSvg(container, o.width, o.height, title);
  const pw = o.width - m.left - m.right;
  const ph = o.height - m.top - m.bottom;
  const g = svg.append('g').attr('transform', `translate(${m.left},${m.top})`);
  const names = [...new Set(groups.flatMap((gr) => gr.bars.map((b) => b.name)))];
  const values = groups.flatMap((gr) => gr.bars.map((b) => b.value));
  const y = d3.scaleLinear().domain([Math.min(0, d3.min(values) ?? 0), Math.max(0, d3.max(values) ?? 1)]).range([ph, 0]).nice();
  const x = d3.scaleBand().domain(groups.map((gr) => gr.label)).range([0, pw]).padding(0.2);
  const inner = d3.scaleBand().domain(names).range([0, x.bandwidth()]).padding(0.08);
  const color = d3.scaleOrdinal(d3.schemeTableau10).domain(names);
  for (const gr of groups) {
    g.append('g').attr('transform', `translate(${x(gr.label)},0)`).selectAll('rect').data(gr.bars).join('rect')
      .attr('class', 'group-bar').attr('data-group', gr.label).attr('data-name', (b) => b.name).attr('data-value', (b) => String(b.value))
      .attr('x', (b) => inner(b.name)!).attr('width', inner.bandwidth())
      .attr('y', (b) => y(Math.max(0, b.value))).attr('height', (b) => Math.abs(y(b.value) - y(0)))
      .attr('fill', (b) => color(b.name))
      .append('title').text((b) => `${gr.label}, ${b.name}: ${formatValue(b.value)}`);
  }
  g.append('g').attr('class', 'axis').attr('transform', `translate(0,${ph})`).call(d3.axisBottom(x));
  g.append('g').attr('class', 'axis').call(d3.axisLeft(y).ticks(5).tickFormat(tickNumber));
  g.append('line').attr('class', 'zero-line').attr('x1', 0).attr('x2', pw).attr('y1', y(0)).attr('y2', y(0));
  const legend = svg.append('g').attr('transform', `translate(${m.left + pw + 14},${m.top})`);
  names.forEach((name, i) => {
    const row = legend.append('g').attr('transform', `translate(0,${i * 16})`);
    row.append('rect').attr('width', 10).attr('height', 10).attr('fill', color(name));
    row.append('text').attr('class', 'legend-text').attr('x', 14).attr('y', 9).text(name);
  });
  svg.append('text').attr('class', 'axis-title').attr('x', m.left + pw / 2).attr('y', o.height - 4).attr('text-anchor', 'middle').text(o.xTitle);
  svg.append('text').attr('class', 'axis-title').attr('transform', `translate(12,${m.top + ph / 2}) rotate(-90)`).attr('text-anchor', 'middle').text(o.yTitle);
  return svg;
}

/** Sequential scale for magnitudes (areas, distances, openness). */
export function sequential(domain: [number, number]): (v: number) => string {
  const s = d3.scaleSequential(d3.interpolateViridis).domain(domain);
  return (v) => s(v);
}

/** Diverging scale centred on 0 (Plücker coordinates), blue for negative, red for positive. */
export function diverging(limit: number): (v: number) => string {
  const s = d3.scaleDiverging(d3.interpolateRdBu).domain([limit, 0, -limit]);
  return (v) => s(v);
}

/** Width available to a chart inside `container`. */
export function widthOf(container: HTMLElement, fallback = 800): number {
  return Math.max(320, Math.floor(container.getBoundingClientRect().width || fallback) - 4);
}
