/**
 * The token strip (the analysed text as tokens, shared by the Run, Plücker, Distances and Gates
 * views) and its tooltip: hovering or focusing a token shows its subspace features, clicking or
 * Enter pins it (and the views follow the pinned token).
 *
 * Tooltip contents (for the hovered or focused token): loss and next-token top-5; plane area per layer x offset (a small heatmap,
 * cells carry their exact value in data-value); gate openness per layer; the nearest planes of the
 * selected layer/offset; and p_hat of the selected layer/offset as an r x r antisymmetric matrix.
 */
import * as d3 from 'd3';
import { antisymmetricMatrix } from '../src/geometry/features';
import { createSvg, diverging, formatValue, sequential } from './charts';
import { clear, h } from './dom';
import { formatProbability, quoteToken, tokenAt, tokenList } from './format';
import type { AppState, Store } from './store';

export class TokenStrip {
  readonly element = h('div', { class: 'token-strip', id: 'token-strip', role: 'listbox', 'aria-label': 'Tokens of the analysed text' });
  readonly tooltip = h('div', { class: 'token-tooltip', id: 'token-tooltip', role: 'tooltip', hidden: true });
  /** What the underline of a token means (shown below the strip). */
  readonly legend = h('p', { class: 'strip-legend', id: 'token-strip-legend' });

  constructor(private readonly store: Store, private readonly requestNearest: (position: number) => void) {}

  update(state: AppState, previous: AppState | null): void {
    const run = state.analysis?.run;
    if (run !== previous?.analysis?.run) this.renderTokens(state);
    else if (state.pinned !== previous?.pinned || state.highlighted !== previous?.highlighted) this.renderMarks(state);
    if (state.hovered !== previous?.hovered || state.pinned !== previous?.pinned || state.analysis?.layers !== previous?.analysis?.layers || state.planes !== previous?.planes || state.nearest !== previous?.nearest || state.layer !== previous?.layer || state.offset !== previous?.offset) {
      this.renderTooltip(state);
    }
  }

  private renderTokens(state: AppState): void {
    clear(this.element);
    clear(this.legend);
    const run = state.analysis?.run;
    if (!run) return;
    const maxLoss = Math.max(1e-9, ...run.loss);
    this.legend.append(h('span', { class: 'loss-swatch', 'aria-hidden': 'true' }),
      ` underline: the loss of predicting the token from the ones before it, its thickness ∝ loss (the thickest: ${formatValue(maxLoss)} nats; none under the first token)`);
    run.tokens.forEach((tok, t) => {
      const span = h('span', { class: 'token', role: 'option', tabindex: t === 0 ? 0 : -1, 'data-t': t, 'aria-label': `token ${t}: ${tok.text}` }, tok.text);
      // the loss of predicting this token (from position t - 1) as an underline strength
      if (t > 0) span.setAttribute('data-loss', String(run.loss[t - 1]));
      if (t > 0) span.style.setProperty('--loss', String(run.loss[t - 1] / maxLoss));
      span.addEventListener('mouseenter', () => this.store.update({ hovered: t }));
      span.addEventListener('mouseleave', () => this.store.update({ hovered: null }));
      span.addEventListener('focus', () => this.store.update({ hovered: t }));
      span.addEventListener('blur', () => this.store.update({ hovered: null }));
      span.addEventListener('click', () => this.togglePin(t));
      span.addEventListener('keydown', (e) => this.onKey(e, t, run.tokens.length));
      this.element.append(span);
    });
    this.renderMarks(state);
  }

  private togglePin(t: number): void {
    const pinned = this.store.state.pinned === t ? null : t;
    this.store.update({ pinned });
  }

  private onKey(e: KeyboardEvent, t: number, n: number): void {
    const next = e.key === 'ArrowRight' ? t + 1 : e.key === 'ArrowLeft' ? t - 1 : e.key === 'Home' ? 0 : e.key === 'End' ? n - 1 : null;
    if (next !== null) {
      e.preventDefault();
      const target = this.element.querySelector<HTMLElement>(`[data-t="${Math.min(n - 1, Math.max(0, next))}"]`);
      target?.focus();
    } else if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      this.togglePin(t);
    } else if (e.key === 'Escape') {
      this.store.update({ pinned: null, hovered: null });
    }
  }

  private renderMarks(state: AppState): void {
    this.element.querySelectorAll<HTMLElement>('.token').forEach((el) => {
      const t = Number(el.dataset.t);
      el.classList.toggle('pinned', state.pinned === t);
      el.setAttribute('aria-selected', String(state.pinned === t));
      el.classList.toggle('highlighted', state.highlighted.has(t));
    });
  }

  /** The tooltip follows the hovered (or keyboard-focused) token; a pinned one is outlined in the views instead. */
  private renderTooltip(state: AppState): void {
    const t = state.hovered;
    const run = state.analysis?.run;
    if (t === null || !run || t >= run.tokens.length) {
      this.tooltip.hidden = true;
      return;
    }
    clear(this.tooltip);
    this.tooltip.hidden = false;
    this.tooltip.setAttribute('data-t', String(t));
    const tok = run.tokens[t];
    this.tooltip.append(h('div', { class: 'tooltip-title' }, h('strong', {}, quoteToken(tok.text)), ` — position ${t}, id ${tok.id}${state.pinned === t ? ' (pinned)' : ''}`));
    if (t > 0) this.tooltip.append(h('div', {}, `loss of predicting it: ${formatValue(run.loss[t - 1])} nats`));
    this.tooltip.append(h('div', { class: 'next' }, 'next: ', tokenList(run.next[t].map((n) => ({ token: n.token, value: formatProbability(n.probability) })))));

    const layers = state.analysis!.layers;
    // Every offset of any layer (a pruned model's blocks have their own window lists).
    const offsets = [...new Set(layers.flatMap((l) => l?.offsets.map((o) => o.offset) ?? []))].sort((a, b) => a - b);
    if (offsets.length) {
      this.tooltip.append(h('div', { class: 'tooltip-section' }, 'plane area ||p|| per layer × offset'));
      const grid = h('div', { class: 'tooltip-chart', id: 'tooltip-areas' });
      this.tooltip.append(grid);
      this.drawAreas(grid, state, t, offsets);
      const openness = h('div', { class: 'tooltip-chart', id: 'tooltip-gates' });
      this.tooltip.append(h('div', { class: 'tooltip-section' }, 'gate openness (mean α) per layer'), openness);
      this.drawGates(openness, state, t);
    } else if (!state.analysis?.done) {
      this.tooltip.append(h('p', { class: 'status' }, 'Computing features…'));
    }

    this.tooltip.append(h('div', { class: 'tooltip-section' }, `layer ${state.layer}, offset ${state.offset}`));
    const near = state.nearest;
    if (near?.data && near.key.endsWith(`#${t}`)) {
      this.tooltip.append(h('div', { id: 'tooltip-nearest' }, `nearest planes (${state.metric}): `,
        near.data.length ? near.data.map((n) => `${tokenAt(run.tokens[n.position].text, n.position)} ${formatValue(n.distance)}`).join(', ') : 'none (a degenerate plane, or the only one)'));
    } else if (t >= state.offset) {
      this.requestNearest(t);
    }
    const planes = state.planes?.data;
    if (planes && planes.layer === state.layer && planes.offset === state.offset) {
      const row = planes.positions.indexOf(t);
      if (row >= 0) {
        const holder = h('div', { class: 'tooltip-chart', id: 'tooltip-matrix' });
        this.tooltip.append(h('div', { class: 'tooltip-section' }, `p̂ as an antisymmetric ${planes.reducedDim} × ${planes.reducedDim} matrix${planes.degenerate[row] ? ' (degenerate plane)' : ''}`), holder);
        this.drawMatrix(holder, planes.coordinates, row * planes.pairCount, planes.reducedDim);
      }
    }
    this.position(t);
  }

  private drawAreas(holder: HTMLElement, state: AppState, t: number, offsets: number[]): void {
    const layers = state.analysis!.layers;
    const cell = 34;
    const width = 60 + offsets.length * cell;
    const height = 22 + layers.length * 18;
    const svg = createSvg(holder, width, height, `Plane areas of token ${t}`);
    const values: { layer: number; offset: number; value: number; degenerate: boolean }[] = [];
    layers.forEach((l, li) => {
      if (!l) return;
      for (const o of l.offsets) {
        const i = o.positions.indexOf(t);
        if (i >= 0) values.push({ layer: li, offset: o.offset, value: o.area[i], degenerate: o.degenerate[i] });
      }
    });
    const color = sequential([0, d3.max(values, (v) => v.value) ?? 1]);
    svg.append('g').selectAll('text').data(offsets).join('text').attr('class', 'axis-title').attr('x', (_, i) => 60 + i * cell + cell / 2).attr('y', 12).attr('text-anchor', 'middle').text((o) => `δ=${o}`);
    svg.append('g').selectAll('text').data(layers.map((_, i) => i)).join('text').attr('class', 'axis-title').attr('x', 4).attr('y', (l) => 22 + l * 18 + 12).text((l) => `layer ${l}`);
    svg.append('g').selectAll('rect').data(values).join('rect')
      .attr('class', (v) => `area-cell${v.degenerate ? ' degenerate' : ''}`)
      .attr('data-layer', (v) => v.layer).attr('data-offset', (v) => v.offset).attr('data-value', (v) => v.value)
      .attr('x', (v) => 60 + offsets.indexOf(v.offset) * cell + 1).attr('y', (v) => 22 + v.layer * 18).attr('width', cell - 2).attr('height', 16)
      .attr('fill', (v) => color(v.value))
      .append('title').text((v) => `layer ${v.layer}, offset ${v.offset}: ||p|| = ${formatValue(v.value)}${v.degenerate ? ' (degenerate)' : ''}`);
    svg.append('g').selectAll('text.cell-value').data(values).join('text').attr('class', 'cell-value')
      .attr('x', (v) => 60 + offsets.indexOf(v.offset) * cell + cell / 2).attr('y', (v) => 22 + v.layer * 18 + 12).attr('text-anchor', 'middle')
      // dark text on light cells, light text on dark ones, whatever the theme
      .style('fill', (v) => (d3.hsl(color(v.value)).l > 0.5 ? '#000' : '#fff'))
      .text((v) => formatValue(v.value, 2));
  }

  private drawGates(holder: HTMLElement, state: AppState, t: number): void {
    const layers = state.analysis!.layers;
    const width = 260;
    const height = 18 + layers.length * 14;
    const svg = createSvg(holder, width, height, `Gate openness of token ${t}`);
    const x = d3.scaleLinear().domain([0, 1]).range([0, width - 110]);
    layers.forEach((l, li) => {
      if (!l) return;
      const v = l.alphaMean[t];
      const g = svg.append('g').attr('transform', `translate(60,${4 + li * 14})`);
      g.append('text').attr('class', 'axis-title').attr('x', -56).attr('y', 10).text(`layer ${li}`);
      g.append('rect').attr('class', 'bar gate-bar').attr('data-layer', li).attr('data-value', v).attr('width', x(v)).attr('height', 10);
      g.append('text').attr('class', 'cell-value').attr('x', x(v) + 4).attr('y', 9).text(formatValue(v));
    });
  }

  private drawMatrix(holder: HTMLElement, coordinates: Float32Array, offset: number, r: number): void {
    const x = antisymmetricMatrix(coordinates, offset, r);
    const size = Math.min(220, 8 * r);
    const svg = createSvg(holder, size + 20, size + 20, 'p̂ as an antisymmetric matrix');
    const limit = d3.max(x, (v) => Math.abs(v)) || 1;
    const color = diverging(limit);
    const c = size / r;
    const cells = d3.range(r * r);
    svg.append('g').attr('transform', 'translate(10,10)').selectAll('rect').data(cells).join('rect')
      .attr('x', (k) => (k % r) * c).attr('y', (k) => Math.floor(k / r) * c).attr('width', c).attr('height', c).attr('fill', (k) => color(x[k]))
      .append('title').text((k) => `X[${Math.floor(k / r)}][${k % r}] = ${formatValue(x[k])}`);
  }

  private position(t: number): void {
    const anchor = this.element.querySelector<HTMLElement>(`[data-t="${t}"]`);
    if (!anchor) return;
    const rect = anchor.getBoundingClientRect();
    const width = 380;
    const left = Math.min(window.innerWidth - width - 8, Math.max(8, rect.left));
    this.tooltip.style.left = `${left + window.scrollX}px`;
    this.tooltip.style.top = `${rect.bottom + window.scrollY + 6}px`;
  }
}
