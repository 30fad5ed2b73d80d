/**
 * Overview: what the checkpoint is (summary, architecture diagram, metadata, warnings) and what
 * it holds (a searchable tensor table; per tensor on demand: statistics, histogram, spectrum).
 */
import * as d3 from 'd3';
import type { InspectReport } from '../../src/core/inspect';
import type { TensorSummary } from '../../src/core/analysis';
import { formatCount, formatShape, formatValue as formatScalar, summaryRows } from '../../src/core/reportText';
import { architectureDiagram, type PartKind } from './architecture';
import { createSvg, drawBars, drawLines, formatValue, widthOf } from '../charts';
import { clear, h, table } from '../dom';
import { exportToolbar } from '../export';
import { formatNumber } from '../format';
import type { AppState, Store } from '../store';
import { modelFilesSection, type ChooseFile } from '../modelFiles';

export class OverviewView {
  readonly element = h('section', { class: 'view', id: 'overview-view', 'aria-label': 'Overview' });
  private readonly details = h('div', { id: 'tensor-details', 'aria-live': 'polite', tabindex: -1, role: 'region', 'aria-label': 'Tensor details' });
  /** The tensor request whose details took the focus (each new one takes it once). */
  private focusedRequest: number | null = null;
  /** The tensor request whose details are still to be scrolled into view once drawn. */
  private revealRequest: number | null = null;
  private filter = '';

  constructor(private readonly store: Store, private readonly requestTensor: (name: string) => void, private readonly chooseFile: ChooseFile) {
    this.details.addEventListener('keydown', (e) => {
      const name = this.store.state.tensor?.name;
      if (e.key !== 'Escape' || !name) return;
      this.element.querySelector<HTMLElement>(`#tensors tbody tr[data-name="${CSS.escape(name)}"]`)?.focus();
    });
  }

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
      table('summary', ['', ''], summary.map(([k, v]) => [k, summaryCell(k, v)])),
    );
    this.element.querySelector('#summary thead')?.remove();
    this.element.append(...modelFilesSection(model.files, this.chooseFile));
    if (report.missing.length) {
      this.element.append(h('h2', {}, 'Not recognised because'), h('ul', { class: 'problems' }, ...report.missing.map((m) => h('li', {}, m))));
    }
    if (report.warnings.length) {
      this.element.append(h('h2', {}, 'Warnings'), h('ul', { class: 'warnings' }, ...report.warnings.map((w) => h('li', { class: 'warning' }, w))));
    }
    // What was left out as expected (a training checkpoint's optimizer state): said once, here, quietly.
    if (report.notes.length) this.element.append(h('p', { class: 'note', id: 'notes' }, `Note: ${report.notes.join('; ')}.`));
    if (report.architecture === 'GrassmannGPT' && report.dims) {
      const holder = h('div', { class: 'chart-holder', id: 'architecture' });
      this.element.append(h('h2', {}, 'Architecture'), holder);
      requestAnimationFrame(() => drawArchitecture(holder, report));
    }
    const metadata = Object.entries(report.metadata);
    if (metadata.length) {
      this.element.append(h('h2', {}, 'Metadata'), table('metadata', ['key', 'value'], metadata.map(([k, v]) => [k, typeof v === 'number' && !Number.isInteger(v) ? h('span', { title: String(v), 'data-value': String(v) }, formatNumber(v)) : formatScalar(v)])));
    }
    const field = h('vscode-textfield', { id: 'tensor-filter', placeholder: 'Filter tensors by name', 'aria-label': 'Filter tensors by name' });
    field.addEventListener('input', () => {
      this.filter = (field as unknown as { value: string }).value.toLowerCase();
      this.renderTensorRows(report);
    });
    // The details sit beside the table (sticky: in view wherever the table was scrolled to), below it on a narrow editor.
    this.element.append(h('h2', {}, `Tensors (${report.tensors.length})`), field, h('div', { id: 'tensor-area' }, h('div', { id: 'tensor-table-holder' }), this.details));
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
    this.details.setAttribute('aria-label', `Details of ${t.name}`);
    this.details.append(h('h3', {}, t.name));
    if (t.requestId !== this.focusedRequest && this.element.isConnected) {
      // Where the eye is: the details take the focus (Escape goes back to the row).
      this.focusedRequest = t.requestId;
      this.revealRequest = t.requestId;
      this.details.focus({ preventScroll: true });
    }
    if (t.error) {
      this.details.append(h('p', { class: 'error' }, t.error));
      return;
    }
    if (!t.data) {
      this.details.append(h('p', { class: 'status' }, 'Reading…'));
      return;
    }
    const s: TensorSummary = t.data;
    // ... and, once they are drawn, are scrolled into view where they do not show from their title on
    // (beside the table they stick to the top, but not past the table's end).
    if (this.revealRequest === t.requestId) {
      this.revealRequest = null;
      requestAnimationFrame(() => requestAnimationFrame(() => {
        const box = this.details.getBoundingClientRect();
        if (box.top < 0 || box.top > window.innerHeight - 160) this.details.scrollIntoView({ block: 'start' });
      }));
    }
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

/** *assumed*: a value taken from a default rather than a config (theme-aware, .assumed in styles.css). */
function assumedMark(): HTMLElement {
  return h('em', { class: 'assumed', title: 'taken from a default, not from a config' }, 'assumed');
}

/** A summary value as DOM: lines of a several-line value, the "(assumed)" of a value marked. */
function summaryCell(label: string, value: string): Node {
  if (label === 'Assumed') {
    return h('ul', { class: 'assumed-lines', id: 'summary-assumed' }, ...value.split('\n').map((line) => h('li', {}, assumedMark(), ' ', line)));
  }
  if (label === 'Block') {
    return h('div', { class: 'layout-lines', id: 'summary-layout' }, ...value.split('\n').map((line) => h('div', { class: 'layout-line' }, line)));
  }
  const at = value.indexOf(' (assumed)');
  if (at >= 0) {
    const cell = h('span', {}, value.slice(0, at), ' (', assumedMark(), ')', value.slice(at + ' (assumed)'.length));
    return cell;
  }
  return document.createTextNode(value);
}

const PART_HEIGHT: Record<PartKind, number> = { io: 34, norm: 34, mix: 34, ffn: 34, add: 24 };

/**
 * The blocks with their dimensions, top to bottom, as the implementation computes them: where
 * the LayerNorms sit, the residuals (a lane on the left joining at ⊕), what the mixing returns
 * and how g aggregates the offsets (./architecture.ts).
 */
function drawArchitecture(holder: HTMLElement, report: InspectReport): void {
  const diagram = architectureDiagram(report);
  const parts = [...diagram.outer, ...diagram.block, ...diagram.tail];
  const gap = 16;
  const tops: number[] = [];
  let y = 0;
  for (const p of parts) {
    tops.push(y);
    y += PART_HEIGHT[p.kind] + gap;
  }
  const first = diagram.outer.length;
  const last = first + diagram.block.length - 1;
  const width = Math.min(780, widthOf(holder));
  const lane = 30;
  const height = y - gap + 20;
  const svg = createSvg(holder, width, height, diagram.title);
  svg.attr('data-layout', report.options?.block ?? 'pre-norm');
  const defs = svg.append('defs');
  defs.append('marker').attr('id', 'arch-arrow-head').attr('viewBox', '0 0 8 8').attr('refX', 7).attr('refY', 4)
    .attr('markerWidth', 7).attr('markerHeight', 7).attr('orient', 'auto-start-reverse')
    .append('path').attr('class', 'arrow-head').attr('d', 'M0,0 L8,4 L0,8 z');
  defs.append('marker').attr('id', 'arch-residual-head').attr('viewBox', '0 0 8 8').attr('refX', 7).attr('refY', 4)
    .attr('markerWidth', 7).attr('markerHeight', 7).attr('orient', 'auto-start-reverse')
    .append('path').attr('class', 'residual-head').attr('d', 'M0,0 L8,4 L0,8 z');
  const g = svg.append('g').attr('transform', `translate(${10 + lane},10)`);
  const bw = width - 150 - lane;
  const cx = bw / 2;
  const frameTop = tops[first] - 13;
  const frameBottom = tops[last] + PART_HEIGHT[parts[last].kind] + 6;
  g.append('rect').attr('class', 'block-frame').attr('x', -lane + 2).attr('y', frameTop).attr('width', bw + lane + 2).attr('height', frameBottom - frameTop).attr('rx', 6);
  g.append('text').attr('class', 'block-label').attr('x', bw + 14).attr('y', (frameTop + frameBottom) / 2).text(`× ${diagram.layers} layers`);
  // arrows between consecutive parts
  g.selectAll('line.arrow').data(d3.range(parts.length - 1)).join('line').attr('class', 'arrow')
    .attr('x1', cx).attr('x2', cx).attr('y1', (i) => tops[i] + PART_HEIGHT[parts[i].kind]).attr('y2', (i) => tops[i + 1] - 1)
    .attr('marker-end', 'url(#arch-arrow-head)');
  // residuals: branch just above `from`, down the lane on the left, into the ⊕ of `to`
  const residual = g.selectAll('g.residual').data(diagram.residuals).join('g').attr('class', 'residual')
    .attr('data-from', (r) => diagram.block[r.from].id).attr('data-to', (r) => diagram.block[r.to].id);
  residual.append('path').attr('class', 'residual-path')
    .attr('d', (r) => {
      const yb = tops[first + r.from] - 6;
      const ya = tops[first + r.to] + PART_HEIGHT.add / 2;
      return `M${cx},${yb} H${-lane / 2} V${ya} H${cx - 11}`;
    })
    .attr('marker-end', 'url(#arch-residual-head)');
  residual.append('circle').attr('class', 'residual-branch').attr('cx', cx).attr('cy', (r) => tops[first + r.from] - 6).attr('r', 2.5);
  residual.append('text').attr('class', 'residual-label').attr('x', -lane / 2 + 3)
    .attr('y', (r) => (tops[first + r.from] + tops[first + r.to]) / 2 + 4).text((r) => r.label);
  const item = g.selectAll('g.part').data(parts).join('g').attr('class', (p) => `part box ${p.kind}`).attr('data-part', (p) => p.id)
    .attr('transform', (_, i) => `translate(0,${tops[i]})`);
  item.append('title').text((p) => `${p.title}: ${p.dims}`);
  const boxes = item.filter((p) => p.kind !== 'add');
  boxes.append('rect').attr('width', bw).attr('height', (p) => PART_HEIGHT[p.kind]).attr('rx', 4);
  boxes.append('text').attr('class', 'box-title').attr('x', 10).attr('y', 14).text((p) => p.title);
  boxes.append('text').attr('class', 'box-dims').attr('x', 10).attr('y', 28).text((p) => p.dims);
  const adds = item.filter((p) => p.kind === 'add');
  adds.append('circle').attr('class', 'add-node').attr('cx', cx).attr('cy', PART_HEIGHT.add / 2).attr('r', 10);
  adds.append('text').attr('class', 'add-sign').attr('x', cx).attr('y', PART_HEIGHT.add / 2 + 5).attr('text-anchor', 'middle').text('+');
  const label = adds.append('text').attr('x', cx + 18).attr('y', PART_HEIGHT.add / 2 + 4);
  label.append('tspan').attr('class', 'box-title').text((p) => p.title);
  label.append('tspan').attr('class', 'box-dims').attr('dx', 8).text((p) => p.dims);
  // Past the frame on a narrow editor: the title alone (the dims stay in the part's tooltip).
  label.each(function (this: SVGTextElement) {
    if (typeof this.getComputedTextLength === 'function' && this.getComputedTextLength() + 8 > bw / 2 - 26) this.lastElementChild?.remove();
  });
  holder.append(
    h('p', { class: 'note legend', id: 'architecture-legend' },
      h('span', { class: 'swatch norm' }), ' LayerNorm  ', h('span', { class: 'swatch residual' }), ' residual: the input added back at ⊕'),
    exportToolbar({ name: 'architecture', svg: () => holder.querySelector('svg'), rows: () => parts.map((p) => ({ part: p.title, kind: p.kind, dims: p.dims })) }),
  );
}
