/**
 * Entry of the pruning report's webview (dist/webview/prune.js, built by scripts/build.mjs):
 * perplexity and top-1 accuracy against the pruning rate, one line per criterion and the
 * unpruned model as a dashed reference; the steps (row = criterion × rate, keyboard-selectable)
 * and the units the selected step removed; buttons to open its pruned checkpoint or reveal its files.
 * The host side is src/extension/prune.ts.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import './styles.css';
import './prune.css';
import * as d3 from 'd3';
import type { PruneReport, PruneStep } from '../src/relevance/types';
import type { PruneHostMessage, PruneViewMessage } from '../src/extension/prune';
import { clear, h } from './dom';
import { createSvg, formatValue, widthOf } from './charts';

interface VsCodeApi {
  postMessage(message: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;
const api = acquireVsCodeApi();
const post = (m: PruneViewMessage): void => api.postMessage(m);

const UNIT_NAMES: Record<string, string> = { ffn: 'FFN neurons', reduced: 'reduced dimensions', windows: 'window offsets' };
const percent = d3.format('.2%');

/** Perplexity or accuracy against rate: a line per criterion from the baseline at rate 0, plus the baseline as a dashed line. */
function drawMetric(container: HTMLElement, report: PruneReport, metric: 'perplexity' | 'accuracy', title: string, width: number): void {
  const height = 280;
  const m = { top: 12, right: 130, bottom: 40, left: 64 };
  const svg = createSvg(container, width, height, title);
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const base = report.baseline[metric];
  const series = report.criteria.map((c) => ({
    name: c,
    values: [{ x: 0, y: base }, ...report.steps.filter((s) => s.criterion === c).map((s) => ({ x: s.rate, y: s[metric] }))],
  }));
  const all = series.flatMap((s) => s.values).filter((p) => Number.isFinite(p.y));
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
  const color = d3.scaleOrdinal(d3.schemeTableau10).domain(series.map((s) => s.name));
  const line = d3.line<{ x: number; y: number }>().defined((p) => Number.isFinite(p.y)).x((p) => x(p.x)).y((p) => y(p.y));
  for (const s of series) {
    g.append('path').datum(s.values).attr('class', 'series').attr('data-criterion', s.name).attr('fill', 'none').attr('stroke', color(s.name)).attr('stroke-width', 1.8).attr('d', line);
    g.append('g').selectAll('circle').data(s.values.filter((p) => Number.isFinite(p.y))).join('circle')
      .attr('r', 3).attr('fill', color(s.name)).attr('cx', (p) => x(p.x)).attr('cy', (p) => y(p.y))
      .append('title').text((p) => `${s.name}, rate ${p.x}: ${metric === 'accuracy' ? percent(p.y) : formatValue(p.y)}`);
  }
  const legend = svg.append('g').attr('transform', `translate(${m.left + pw + 14},${m.top})`);
  [...series.map((s) => s.name), 'unpruned'].forEach((name, i) => {
    const row = legend.append('g').attr('transform', `translate(0,${i * 16})`);
    if (name === 'unpruned') row.append('line').attr('class', 'baseline').attr('x1', 0).attr('x2', 10).attr('y1', 5).attr('y2', 5);
    else row.append('rect').attr('width', 10).attr('height', 10).attr('fill', color(name));
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
    window.addEventListener('message', (e: MessageEvent<PruneHostMessage>) => {
      if (e.data?.type === 'report') {
        this.report = e.data.report;
        this.selected = 0;
        this.render();
      }
    });
    post({ type: 'ready' });
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
          ['Evaluation text', r.data],
          ['Units', `${unitName} (${total} in all: ${r.unitsPerLayer.join(' / ')} per layer)`],
          ['Criteria', r.criteria.join(', ')],
          ['Rates', r.rates.join(', ')],
          ['Mode / scope', `${r.mode} / ${r.scope}`],
          ['Reference samples', `${r.referenceSamples} of ${r.seqLen} tokens (seed ${r.seed})`],
          ['Unpruned', `perplexity ${formatValue(r.baseline.perplexity)}, top-1 accuracy ${percent(r.baseline.accuracy)} over ${r.baseline.predictions} predictions`],
          ['Backend / time', `${r.backend}, ${r.seconds.toFixed(1)} s`],
        ] as [string, string][]).map(([k, v]) => h('tr', {}, h('td', {}, k), h('td', { 'data-key': k }, v))),
      )),
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
    drawMetric(ppl, r, 'perplexity', 'Perplexity against the pruning rate, per criterion; dashed: unpruned', width);
    drawMetric(acc, r, 'accuracy', 'Top-1 next-token accuracy against the pruning rate, per criterion; dashed: unpruned', width);
    this.root.append(h('h2', {}, 'Steps'), h('p', { class: 'hint' }, 'Select a row (click, or arrow keys and Enter) to see the units it removed.'), this.stepsTable(r));
    this.root.append(h('div', { id: 'prune-step' }));
    this.renderStep();
  }

  private stepsTable(r: PruneReport): HTMLTableElement {
    const t = h('table', { id: 'prune-steps', class: 'data', role: 'grid', 'aria-label': 'Pruning steps' });
    t.append(h('thead', {}, h('tr', {}, ...['Criterion', 'Rate', 'Removed', 'Perplexity', 'Δ perplexity', 'Accuracy', 'Remaining per layer'].map((c) => h('th', { scope: 'col' }, c)))));
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
      },
      h('td', {}, s.criterion),
      h('td', { class: 'num' }, String(s.rate)),
      h('td', { class: 'num' }, String(s.removed.length)),
      h('td', { class: 'num' }, formatValue(s.perplexity)),
      h('td', { class: 'num' }, `${s.perplexity >= base.perplexity ? '+' : ''}${formatValue(s.perplexity - base.perplexity)}`),
      h('td', { class: 'num' }, percent(s.accuracy)),
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
    open.addEventListener('click', () => post({ type: 'open', output: s.output }));
    const reveal = h('vscode-button', { id: 'prune-reveal', secondary: true }, 'Reveal files');
    reveal.addEventListener('click', () => post({ type: 'reveal', output: s.output }));
    holder.append(
      h('h2', {}, `Removed by ${s.criterion} at rate ${s.rate}`),
      h('p', { class: 'path', id: 'prune-step-output' }, s.output),
      h('div', { class: 'buttons' }, open, reveal),
    );
    const shown = s.removed.slice(0, 1000);
    const t = h('table', { id: 'prune-removed', class: 'data', 'data-criterion': s.criterion, 'data-rate': String(s.rate) });
    t.append(h('caption', {}, `${s.removed.length} ${UNIT_NAMES[r.units] ?? r.units}, lowest score first${shown.length < s.removed.length ? ` (first ${shown.length} shown)` : ''}`));
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
