/**
 * Overview: what the checkpoint is (summary, architecture diagram, metadata, warnings) and what
 * it holds (a searchable tensor table; per tensor on demand: statistics, histogram, spectrum).
 */
import * as d3 from 'd3';
import type { InspectReport } from '../../src/core/inspect';
import type { TensorSummary } from '../../src/core/analysis';
import { blockWindowsLabel, formatCount, formatShape, formatValue as formatScalar, summaryRows } from '../../src/extension/reportText';
import { createSvg, drawBars, drawLines, formatValue, widthOf } from '../charts';
import { clear, h, table } from '../dom';
import { exportToolbar } from '../export';
import type { AppState, Store } from '../store';

export class OverviewView {
  readonly element = h('section', { class: 'view', id: 'overview-view', 'aria-label': 'Overview' });
  private readonly details = h('div', { id: 'tensor-details', 'aria-live': 'polite' });
  private filter = '';

  constructor(private readonly store: Store, private readonly requestTensor: (name: string) => void) {}

  update(state: AppState, previous: AppState | null): void {
    if (state.model !== previous?.model) this.render(state);
    if (state.tensor !== previous?.tensor) this.renderDetails(state);
  }

  private render(state: AppState): void {
    clear(this.element);
    const model = state.model;
    if (!model) return;
    const report = model.report;
    const summary = summaryRows(report);
    summary.push(['Backend', model.backend]);
    this.element.append(
      h('h2', {}, 'Summary'),
      table('summary', ['', ''], summary.map(([k, v]) => [k, v])),
    );
    this.element.querySelector('#summary thead')?.remove();
    if (report.missing.length) {
      this.element.append(h('h2', {}, 'Not recognised because'), h('ul', { class: 'problems' }, ...report.missing.map((m) => h('li', {}, m))));
    }
    if (report.warnings.length) {
      this.element.append(h('h2', {}, 'Warnings'), h('ul', { class: 'warnings' }, ...report.warnings.map((w) => h('li', { class: 'warning' }, w))));
    }
    if (report.architecture === 'GrassmannGPT' && report.dims) {
      const holder = h('div', { class: 'chart-holder', id: 'architecture' });
      this.element.append(h('h2', {}, 'Architecture'), holder);
      requestAnimationFrame(() => drawArchitecture(holder, report));
    }
    const metadata = Object.entries(report.metadata);
    if (metadata.length) {
      this.element.append(h('h2', {}, 'Metadata'), table('metadata', ['key', 'value'], metadata.map(([k, v]) => [k, formatScalar(v)])));
    }
    const field = h('vscode-textfield', { id: 'tensor-filter', placeholder: 'Filter tensors by name', 'aria-label': 'Filter tensors by name' });
    field.addEventListener('input', () => {
      this.filter = (field as unknown as { value: string }).value.toLowerCase();
      this.renderTensorRows(report);
    });
    this.element.append(h('h2', {}, `Tensors (${report.tensors.length})`), field, h('div', { id: 'tensor-table-holder' }), this.details);
    this.renderTensorRows(report);
    this.renderDetails(state);
  }

  private renderTensorRows(report: InspectReport): void {
    const holder = this.element.querySelector('#tensor-table-holder');
    if (!holder) return;
    clear(holder);
    const rows = report.tensors.filter((t) => t.name.toLowerCase().includes(this.filter));
    const t = table('tensors', ['name', 'dtype', 'shape', 'elements'], rows.map((x) => [x.name, x.dtype, formatShape(x.shape), formatCount(x.shape.reduce((a, b) => a * b, 1))]));
    t.querySelectorAll('tbody tr').forEach((tr, i) => {
      const name = rows[i].name;
      tr.setAttribute('tabindex', '0');
      tr.setAttribute('data-name', name);
      tr.setAttribute('title', `Statistics, histogram and spectrum of ${name}`);
      tr.addEventListener('click', () => this.requestTensor(name));
      tr.addEventListener('keydown', (e) => {
        const key = (e as KeyboardEvent).key;
        if (key === 'Enter' || key === ' ') {
          e.preventDefault();
          this.requestTensor(name);
        } else if (key === 'ArrowDown') (tr.nextElementSibling as HTMLElement | null)?.focus();
        else if (key === 'ArrowUp') (tr.previousElementSibling as HTMLElement | null)?.focus();
      });
    });
    holder.append(t);
  }

  private renderDetails(state: AppState): void {
    clear(this.details);
    const t = state.tensor;
    if (!t) return;
    this.details.append(h('h3', {}, t.name));
    if (t.error) {
      this.details.append(h('p', { class: 'error' }, t.error));
      return;
    }
    if (!t.data) {
      this.details.append(h('p', { class: 'status' }, 'Reading…'));
      return;
    }
    const s: TensorSummary = t.data;
    this.details.append(table('tensor-stats', ['dtype', 'shape', 'elements', 'min', 'max', 'mean', 'std', 'NaN', '±Inf', 'zeros'], [[
      s.dtype, formatShape(s.shape), formatCount(s.count), formatValue(s.min), formatValue(s.max), formatValue(s.mean), formatValue(s.std), String(s.nan), String(s.infinite), String(s.zeros),
    ]]));
    const histogram = h('div', { class: 'chart-holder', id: 'tensor-histogram' });
    const spectrum = h('div', { class: 'chart-holder', id: 'tensor-spectrum' });
    const safe = s.name.replace(/[^A-Za-z0-9_.-]/g, '_');
    this.details.append(h('h4', {}, 'Histogram'), histogram);
    this.details.append(h('h4', {}, 'Singular values'), h('p', { class: 'note' }, s.spectrumNote), spectrum);
    requestAnimationFrame(() => {
      const width = Math.min(900, widthOf(this.details));
      const bars = s.histogram.counts.map((c, i) => ({ label: formatValue(s.histogram.edges[i]), value: c, x0: s.histogram.edges[i], x1: s.histogram.edges[i + 1] }));
      drawBars(histogram, `Histogram of ${s.name}`, bars, { width, height: 220, xTitle: 'value', yTitle: 'count', numericX: true });
      histogram.append(exportToolbar({ name: `${safe}-histogram`, svg: () => histogram.querySelector('svg'), rows: () => bars.map((b) => ({ from: b.x0, to: b.x1, count: b.value })) }));
      if (s.spectrum) {
        const values = s.spectrum.map((v, i) => ({ x: i + 1, y: v }));
        drawLines(spectrum, `Singular values of ${s.name}`, [{ name: 'sigma', values }], { width, height: 240, xTitle: 'index', yTitle: 'singular value (log)', logY: true });
        spectrum.append(exportToolbar({ name: `${safe}-spectrum`, svg: () => spectrum.querySelector('svg'), rows: () => values.map((p) => ({ index: p.x, singular_value: p.y })) }));
      }
    });
  }
}

/** One value, or each block's ("16 / 14 / 16 per block") when a pruned model's blocks differ. */
function perBlock(values: number[], fallback: number): string {
  if (values.length < 2 || values.every((v) => v === values[0])) return formatCount(values[0] ?? fallback);
  return `${values.map(formatCount).join(' / ')} per block`;
}

/** The blocks of a GrassmannGPT with their dimensions, top to bottom (per block where they differ). */
function drawArchitecture(holder: HTMLElement, report: InspectReport): void {
  const d = report.dims!;
  const shapes = report.layerShapes ?? [];
  const r = perBlock(shapes.map((s) => s.reducedDim), d.reducedDim);
  const P = perBlock(shapes.map((s) => s.pairCount), d.pairCount);
  const f = perBlock(shapes.map((s) => s.ffDim), d.ffDim);
  const ownWindows = blockWindowsLabel(report);
  const windows = `[${(report.windowSizes ?? []).join(', ')}]${report.windowSource === 'assumed' ? ' (assumed)' : ''}${ownWindows ? `; per block ${ownWindows}` : ''}`;
  const outer: [string, string][] = [
    ['tokens', `up to ${d.maxPositions} positions`],
    ['token + position embedding', `${formatCount(d.vocabSize)} × ${d.modelDim} + ${d.maxPositions} × ${d.modelDim}`],
  ];
  const block: [string, string][] = [
    ['LayerNorm (ln1) → h', `d = ${d.modelDim}`],
    ['W_red: z = W_red h + b', `${d.modelDim} → r = ${r}`],
    ['token planes span(z_t, z_{t−δ}) ∈ Gr(2, r)', `${P} Plücker pairs, offsets δ ∈ ${windows}`],
    ['W_plu, mean over offsets → g', `${P} → ${d.modelDim}`],
    ['gate α = σ(W_gate [h; g])', `${2 * d.modelDim} → ${d.modelDim}`],
    ['LayerNorm(α h + (1 − α) g), + residual', `d = ${d.modelDim}`],
    ['ln2, FFN (GELU), + residual', `${d.modelDim} → ${f} → ${d.modelDim}`],
  ];
  const tail: [string, string][] = [
    ['LayerNorm (ln_f)', `d = ${d.modelDim}`],
    [`lm_head${report.tiedLmHead ? ' (tied to the embedding)' : ''}`, `${d.modelDim} → ${formatCount(d.vocabSize)}`],
  ];
  const width = Math.min(760, widthOf(holder));
  const boxH = 34;
  const gap = 14;
  const rows = [...outer, ...block, ...tail];
  const blockTop = outer.length * (boxH + gap);
  const height = rows.length * (boxH + gap) + 24;
  const svg = createSvg(holder, width, height, `GrassmannGPT architecture: ${d.layers} layers`);
  const g = svg.append('g').attr('transform', 'translate(10,6)');
  const bw = width - 150;
  g.append('rect').attr('class', 'block-frame').attr('x', -4).attr('y', blockTop - 6).attr('width', bw + 8).attr('height', block.length * (boxH + gap) + 2).attr('rx', 6);
  g.append('text').attr('class', 'block-label').attr('x', bw + 14).attr('y', blockTop + (block.length * (boxH + gap)) / 2).text(`× ${d.layers} layers`);
  const item = g.selectAll('g.box').data(rows).join('g').attr('class', 'box').attr('transform', (_, i) => `translate(0,${i * (boxH + gap)})`);
  item.append('rect').attr('width', bw).attr('height', boxH).attr('rx', 4);
  item.append('text').attr('class', 'box-title').attr('x', 10).attr('y', 14).text((r) => r[0]);
  item.append('text').attr('class', 'box-dims').attr('x', 10).attr('y', 28).text((r) => r[1]);
  g.selectAll('line.arrow').data(d3.range(rows.length - 1)).join('line').attr('class', 'arrow')
    .attr('x1', bw / 2).attr('x2', bw / 2).attr('y1', (i) => i * (boxH + gap) + boxH).attr('y2', (i) => (i + 1) * (boxH + gap) - 2);
  holder.append(exportToolbar({ name: 'architecture', svg: () => holder.querySelector('svg'), rows: () => rows.map(([part, dims]) => ({ part, dims })) }));
}
