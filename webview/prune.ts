/**
 * Entry of the pruning report's webview (dist/webview/prune.js, built by scripts/build.mjs):
 * perplexity and top-1 accuracy against the pruning rate, one line per criterion with its 95%
 * bootstrap band, and the unpruned model as a dashed reference; the steps (row = criterion × rate,
 * keyboard-selectable) with their intervals and ΔNLL against the baseline; which criteria are not
 * separable at a rate (their perplexity intervals overlap) with the paired interval of their
 * difference; the units the selected step removed; buttons to open its pruned checkpoint or
 * reveal its files. Series colours are VS Code's chart colours (prune.css), so they follow the theme.
 * The host side is src/extension/prune.ts.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import './styles.css';
import './prune.css';
import * as d3 from 'd3';
import type { Interval, PruneReport, PruneStep } from '../src/relevance/types';
import type { PruneProtocol } from '../src/protocol/prune';
import { clear, h } from './dom';
import { createSvg, formatValue, widthOf } from './charts';
import { formatPercent, formatSeconds } from './format';
import { connect } from './host';
import { describeTexts } from '../src/pruning/heldOut';

const host = connect<PruneProtocol>();

const UNIT_NAMES: Record<string, string> = { ffn: 'FFN neurons', reduced: 'reduced dimensions', windows: 'window offsets' };
const percent = (v: number): string => formatPercent(v, 4);
const signed = (v: number): string => `${v >= 0 ? '+' : ''}${formatValue(v)}`;
/** "[low, high]" with `f` for each end. */
const interval = (i: Interval, f: (v: number) => string = formatValue): string => `[${f(i.low)}, ${f(i.high)}]`;
/** Series colours: classes of prune.css (VS Code's --vscode-charts-* colours). */
const SERIES_CLASSES = 8;

/** Perplexity or accuracy against rate: a line per criterion from the baseline at rate 0, plus the baseline as a dashed line. */
function drawMetric(container: HTMLElement, report: PruneReport, metric: 'perplexity' | 'accuracy', title: string, width: number): void {
  const height = 280;
  const m = { top: 12, right: 130, bottom: 40, left: 64 };
  const svg = createSvg(container, width, height, title);
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const base = report.baseline[metric];
  const baseBand = report.baseline.interval[metric];
  const series = report.criteria.map((c) => ({
    name: c,
    values: [
      { x: 0, y: base, low: baseBand.low, high: baseBand.high },
      ...report.steps.filter((s) => s.criterion === c).map((s) => ({ x: s.rate, y: s[metric], low: s.interval[metric].low, high: s.interval[metric].high })),
    ],
  }));
  const all = series.flatMap((s) => s.values.flatMap((p) => [{ y: p.y }, { y: p.low }, { y: p.high }])).filter((p) => Number.isFinite(p.y));
  const x = d3.scaleLinear().domain([0, d3.max(report.rates) ?? 1]).range([0, pw]);
  const [lo, hi] = d3.extent(all, (p) => p.y) as [number, number];
  const logY = metric === 'perplexity' && lo > 0 && hi / lo > 20;
  const pad = (hi - lo) * 0.08 || Math.abs(hi) * 0.05 || 1e-3;
  const y = (logY ? d3.scaleLog().domain([lo, hi]) : d3.scaleLinear().domain([Math.max(0, lo - pad), hi + pad])).range([ph, 0]).nice();
  const g = svg.append('g').attr('transform', `translate(${m.left},${m.top})`);
  g.append('g').attr('class', 'axis').attr('transform', `translate(0,${ph})`).call(d3.axisBottom(x).tickValues([0, ...report.rates]).tickFormat((v) => d3.format('~%')(+v)));
  g.append('g').attr('class', 'axis').call(d3.axisLeft(y).ticks(6, metric === 'accuracy' ? '.1~%' : '.3~g'));
  g.append('line').attr('class', 'baseline').attr('data-value', String(base))
    .attr('x1', 0).attr('x2', pw).attr('y1', y(base)).attr('y2', y(base))
    .append('title').text(`unpruned: ${metric === 'accuracy' ? percent(base) : formatValue(base)}`);
  const colour = (name: string): string => `series-${report.criteria.indexOf(name as PruneStep['criterion']) % SERIES_CLASSES}`;
  type Point = { x: number; y: number; low: number; high: number };
  const line = d3.line<Point>().defined((p) => Number.isFinite(p.y)).x((p) => x(p.x)).y((p) => y(p.y));
  const band = d3.area<Point>().defined((p) => Number.isFinite(p.low) && Number.isFinite(p.high)).x((p) => x(p.x)).y0((p) => y(p.low)).y1((p) => y(p.high));
  const show = (v: number): string => (metric === 'accuracy' ? percent(v) : formatValue(v));
  // Bands first, so that every line is drawn over every band.
  for (const s of series) {
    g.append('path').datum(s.values).attr('class', `band ${colour(s.name)}`).attr('data-criterion', s.name).attr('d', band)
      .append('title').text(`${s.name}: 95% bootstrap interval of the ${metric}`);
  }
  for (const s of series) {
    g.append('path').datum(s.values).attr('class', `series ${colour(s.name)}`).attr('data-criterion', s.name).attr('fill', 'none').attr('stroke-width', 1.8).attr('d', line);
    g.append('g').selectAll('circle').data(s.values.filter((p) => Number.isFinite(p.y))).join('circle')
      .attr('class', `point ${colour(s.name)}`).attr('r', 3).attr('cx', (p) => x(p.x)).attr('cy', (p) => y(p.y))
      .attr('data-criterion', s.name).attr('data-rate', (p) => String(p.x)).attr('data-low', (p) => String(p.low)).attr('data-high', (p) => String(p.high))
      .append('title').text((p) => `${s.name}, rate ${p.x}: ${show(p.y)}, 95% interval [${show(p.low)}, ${show(p.high)}]`);
  }
  const legend = svg.append('g').attr('transform', `translate(${m.left + pw + 14},${m.top})`);
  [...series.map((s) => s.name), 'unpruned'].forEach((name, i) => {
    const row = legend.append('g').attr('transform', `translate(0,${i * 16})`);
    if (name === 'unpruned') row.append('line').attr('class', 'baseline').attr('x1', 0).attr('x2', 10).attr('y1', 5).attr('y2', 5);
    else row.append('rect').attr('class', `swatch ${colour(name)}`).attr('width', 10).attr('height', 10);
    row.append('text').attr('class', 'legend-text').attr('x', 14).attr('y', 9).text(name);
  });
  svg.append('text').attr('class', 'axis-title').attr('x', m.left + pw / 2).attr('y', height - 4).attr('text-anchor', 'middle').text('pruning rate');
  svg.append('text').attr('class', 'axis-title').attr('transform', `translate(12,${m.top + ph / 2}) rotate(-90)`).attr('text-anchor', 'middle')
    .text(metric === 'accuracy' ? 'top-1 accuracy' : `perplexity${logY ? ' (log)' : ''}`);
}

class PruneApp {
  private report: PruneReport | undefined;
  private selected = 0;

  constructor(private readonly root: HTMLElement) {}

  start(): void {
    host.on('report', ({ report }) => {
      this.report = report;
      this.selected = 0;
      this.render();
    });
    host.send('ready', {});
  }

  private render(): void {
    const r = this.report!;
    clear(this.root);
    const unitName = UNIT_NAMES[r.units] ?? r.units;
    const total = r.unitsPerLayer.reduce((a, b) => a + b, 0);
    this.root.append(
      h('h1', {}, `Pruning ${r.checkpoint.slice(r.checkpoint.lastIndexOf('/') + 1)}`),
      h('p', { class: 'path' }, r.output),
      h('table', { id: 'prune-summary', class: 'data' }, h('tbody', {},
        ...([
          ['Checkpoint', r.checkpoint],
          ['Reference text (scored the units)', describeTexts(r).reference],
          ['Evaluation text', describeTexts(r).evaluation],
          ['Units', `${unitName} (${total} in all: ${r.unitsPerLayer.join(' / ')} per layer)`],
          ['Criteria', r.criteria.join(', ')],
          ['Rates', r.rates.join(', ')],
          ['Mode / scope', `${r.mode} / ${r.scope}`],
          ['Reference samples', `${r.referenceSamples} of ${r.seqLen} tokens (seed ${r.seed})`],
          ['Unpruned', `perplexity ${formatValue(r.baseline.perplexity)} ${interval(r.baseline.interval.perplexity)}, top-1 accuracy ${percent(r.baseline.accuracy)} ${interval(r.baseline.interval.accuracy, percent)} over ${r.baseline.predictions} predictions`],
          ['Intervals', `${Math.round(r.bootstrap.level * 100)}% percentile bootstrap: B = ${r.bootstrap.resamples} resamples of the ${r.bootstrap.chunks} evaluation chunks (${r.bootstrap.unit}), seed ${r.bootstrap.seed}; paired: the same resamples for every model`],
          ['Backend / time', `${r.backend}, ${formatSeconds(r.seconds)}`],
        ] as [string, string][]).map(([k, v]) => h('tr', {}, h('td', {}, k), h('td', { 'data-key': k }, v))),
      )),
      ...(r.conventions?.length
        ? [h('details', { id: 'prune-conventions', open: true }, h('summary', {}, 'Scoring conventions'), h('ul', {}, ...r.conventions.map((c) => h('li', {}, c))))]
        : []),
      ...r.warnings.map((w) => h('p', { class: 'warning' }, w)),
    );
    const charts = h('div', { class: 'prune-charts' });
    const ppl = h('div', { id: 'prune-chart-perplexity', class: 'chart-holder' }, h('h2', {}, 'Perplexity vs rate'));
    const acc = h('div', { id: 'prune-chart-accuracy', class: 'chart-holder' }, h('h2', {}, 'Top-1 accuracy vs rate'));
    charts.append(ppl, acc);
    this.root.append(charts);
    // Two side by side when there is room (the holders have no width of their own before they are drawn).
    const available = widthOf(this.root, 1000);
    const width = Math.max(360, Math.min(640, available >= 760 ? Math.floor((available - 24) / 2) : available));
    drawMetric(ppl, r, 'perplexity', 'Perplexity against the pruning rate, per criterion, with 95% bootstrap bands; dashed: unpruned', width);
    drawMetric(acc, r, 'accuracy', 'Top-1 next-token accuracy against the pruning rate, per criterion, with 95% bootstrap bands; dashed: unpruned', width);
    charts.append(h('p', { class: 'hint' }, `Bands: ${Math.round(r.bootstrap.level * 100)}% percentile-bootstrap intervals (B = ${r.bootstrap.resamples}, resampling unit: ${r.bootstrap.unit}).`));
    this.root.append(h('h2', {}, 'Steps'), h('p', { class: 'hint' }, 'Select a row (click, or arrow keys and Enter) to see the units it removed. ΔNLL: mean NLL minus the unpruned model\'s (nats), with its paired 95% interval.'), this.stepsTable(r));
    this.root.append(this.separability(r));
    this.root.append(h('div', { id: 'prune-step' }));
    this.renderStep();
  }

  private stepsTable(r: PruneReport): HTMLTableElement {
    const t = h('table', { id: 'prune-steps', class: 'data', role: 'grid', 'aria-label': 'Pruning steps' });
    t.append(h('thead', {}, h('tr', {}, ...['Criterion', 'Rate', 'Removed', 'Perplexity', '95% interval', 'Δ perplexity', 'ΔNLL', 'ΔNLL 95% interval', 'Accuracy', '95% interval', 'Remaining per layer'].map((c) => h('th', { scope: 'col' }, c)))));
    const body = h('tbody');
    const base = r.baseline;
    r.steps.forEach((s, i) => {
      const row = h('tr', {
        tabindex: i === this.selected ? 0 : -1,
        'aria-selected': String(i === this.selected),
        class: i === this.selected ? 'selected' : undefined,
        'data-index': i,
        'data-criterion': s.criterion,
        'data-rate': String(s.rate),
        'data-perplexity': String(s.perplexity),
        'data-accuracy': String(s.accuracy),
        'data-mean-nll': String(s.mean_nll),
        'data-perplexity-low': String(s.interval.perplexity.low),
        'data-perplexity-high': String(s.interval.perplexity.high),
        'data-accuracy-low': String(s.interval.accuracy.low),
        'data-accuracy-high': String(s.interval.accuracy.high),
        'data-delta-nll': String(s.deltaNll.value),
        'data-delta-nll-low': String(s.deltaNll.interval.low),
        'data-delta-nll-high': String(s.deltaNll.interval.high),
      },
      h('td', {}, s.criterion),
      h('td', { class: 'num' }, String(s.rate)),
      h('td', { class: 'num' }, String(s.removed.length)),
      h('td', { class: 'num' }, formatValue(s.perplexity)),
      h('td', { class: 'num interval', 'data-column': 'perplexity-interval' }, interval(s.interval.perplexity)),
      h('td', { class: 'num' }, `${s.perplexity >= base.perplexity ? '+' : ''}${formatValue(s.perplexity - base.perplexity)}`),
      h('td', { class: 'num' }, signed(s.deltaNll.value)),
      h('td', { class: 'num interval', 'data-column': 'delta-nll-interval' }, interval(s.deltaNll.interval, signed)),
      h('td', { class: 'num' }, percent(s.accuracy)),
      h('td', { class: 'num interval', 'data-column': 'accuracy-interval' }, interval(s.interval.accuracy, percent)),
      h('td', { class: 'mono' }, s.remaining.join(' / ')));
      row.addEventListener('click', () => this.select(i, true));
      row.addEventListener('keydown', (e) => {
        const k = (e as KeyboardEvent).key;
        if (k === 'ArrowDown' || k === 'ArrowUp') {
          e.preventDefault();
          const next = Math.max(0, Math.min(r.steps.length - 1, i + (k === 'ArrowDown' ? 1 : -1)));
          (body.children[next] as HTMLElement).focus();
        } else if (k === 'Enter' || k === ' ') {
          e.preventDefault();
          this.select(i, true);
        }
      });
      body.append(row);
    });
    t.append(body);
    return t;
  }

  /** Which criteria cannot be told apart at each rate, and the paired interval of every pair. */
  private separability(r: PruneReport): HTMLElement {
    const holder = h('div', { id: 'prune-separability' }, h('h2', {}, 'Separability of the criteria'));
    if (r.comparisons.length === 0) {
      holder.append(h('p', { class: 'note' }, 'One criterion: nothing to compare.'));
      return holder;
    }
    holder.append(h('p', { class: 'note', id: 'prune-separability-rule' },
      `Rule: ${r.bootstrap.separability}. Paired interval: the ${Math.round(r.bootstrap.level * 100)}% percentile interval of mean NLL(a) − mean NLL(b) over the same ${r.bootstrap.resamples} resamples.`));
    const summary = h('ul', { id: 'prune-not-separable' });
    for (const rate of r.rates) {
      const pairs = r.notSeparable.filter((p) => p.rate === rate);
      summary.append(h('li', { 'data-rate': String(rate), 'data-count': pairs.length },
        `Rate ${rate}: ${pairs.length ? `not separable: ${pairs.map((p) => p.criteria.join(' / ')).join(', ')}` : 'every pair separable'}`));
    }
    holder.append(summary);
    const t = h('table', { id: 'prune-comparisons', class: 'data', 'aria-label': 'Pairs of criteria at each rate' });
    t.append(h('thead', {}, h('tr', {}, ...['Rate', 'Criteria a / b', 'Perplexity intervals', 'ΔNLL a − b', 'Paired 95% interval', 'Paired interval'].map((c) => h('th', { scope: 'col' }, c)))));
    const body = h('tbody');
    for (const c of r.comparisons) {
      body.append(h('tr', {
        class: c.separable ? undefined : 'not-separable',
        'data-rate': String(c.rate), 'data-a': c.a, 'data-b': c.b, 'data-separable': String(c.separable),
        'data-delta-nll': String(c.deltaNll.value), 'data-low': String(c.deltaNll.interval.low), 'data-high': String(c.deltaNll.interval.high),
      },
      h('td', { class: 'num' }, String(c.rate)),
      h('td', {}, `${c.a} / ${c.b}`),
      h('td', {}, c.overlap ? 'overlap: not separable' : 'disjoint: separable'),
      h('td', { class: 'num' }, signed(c.deltaNll.value)),
      h('td', { class: 'num interval' }, interval(c.deltaNll.interval, signed)),
      h('td', {}, c.pairedExcludesZero ? 'excludes 0' : 'contains 0')));
    }
    t.append(body);
    holder.append(t);
    return holder;
  }

  private select(i: number, focus: boolean): void {
    this.selected = i;
    const rows = this.root.querySelectorAll<HTMLElement>('#prune-steps tbody tr');
    rows.forEach((row, k) => {
      row.classList.toggle('selected', k === i);
      row.setAttribute('aria-selected', String(k === i));
      row.tabIndex = k === i ? 0 : -1;
    });
    if (focus) rows[i]?.focus();
    this.renderStep();
  }

  private renderStep(): void {
    const r = this.report!;
    const holder = this.root.querySelector<HTMLElement>('#prune-step')!;
    clear(holder);
    const s: PruneStep | undefined = r.steps[this.selected];
    if (!s) return void holder.append(h('p', { class: 'status' }, 'No steps.'));
    const open = h('vscode-button', { id: 'prune-open' }, 'Open pruned checkpoint');
    open.addEventListener('click', () => host.send('open', { output: s.output }));
    const reveal = h('vscode-button', { id: 'prune-reveal', secondary: true }, 'Reveal files');
    reveal.addEventListener('click', () => host.send('reveal', { output: s.output }));
    holder.append(
      h('h2', {}, `Removed by ${s.criterion} at rate ${s.rate}`),
      h('p', { class: 'path', id: 'prune-step-output' }, s.output),
      h('div', { class: 'buttons' }, open, reveal),
    );
    // Lowest score first, as the caption says (the report lists them by layer and index); ties by layer, index.
    const shown = [...s.removed].sort((a, b) => a.score - b.score || a.layer - b.layer || a.index - b.index).slice(0, 1000);
    const t = h('table', { id: 'prune-removed', class: 'data', 'data-criterion': s.criterion, 'data-rate': String(s.rate) });
    t.append(h('caption', {}, `${s.removed.length} ${UNIT_NAMES[r.units] ?? r.units}, lowest score first${shown.length < s.removed.length ? ` (the ${shown.length} lowest shown)` : ''}`));
    t.append(h('thead', {}, h('tr', {}, ...['Layer', 'Index', 'Score'].map((c) => h('th', { scope: 'col' }, c)))));
    const body = h('tbody');
    for (const u of shown) {
      body.append(h('tr', { 'data-layer': u.layer, 'data-index': u.index, 'data-score': String(u.score) },
        h('td', { class: 'num' }, String(u.layer)), h('td', { class: 'num' }, String(u.index)), h('td', { class: 'num' }, formatValue(u.score))));
    }
    t.append(body);
    holder.append(t);
  }
}

const root = document.getElementById('app');
if (root) new PruneApp(root).start();
