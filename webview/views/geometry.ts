/**
 * The geometry views of an analysed text:
 *  - Plücker: per layer/offset, tokens x pairs heatmap of p_hat, the relation residual per row;
 *  - Distances: the T x T Grassmann distance matrix with metric/layer/offset pickers; brushing
 *    rows highlights tokens; the readout names the cell under the pointer (or keyboard cursor);
 *  - Gates: tokens x layers map of gate openness (mean alpha), and of the h share of the mixing
 *    output (none where the mixing returns alpha g: the h share is 0 by definition there).
 * Switching the metric redraws from the principal angles already here (no round trip). The
 * pinned token's row is outlined in each; highlighted tokens are marked beside the rows.
 */
import * as d3 from 'd3';
import { distanceFromAngles, GRASSMANN_METRICS, METRIC_FORMULAS, type GrassmannMetric } from '../../src/geometry/angles';
import { diverging, drawHeatmap, formatValue, sequential, widthOf, type Heatmap } from '../charts';
import type { MixOutput } from '../../src/model/architecture';
import { clear, h, Pickers, rebuildKeepingPlace, type PickerSpec } from '../dom';
import { exportToolbar } from '../export';
import { formatNumber, tokenAt, tokenLabel } from '../format';
import type { AppState, Store } from '../store';

/**
 * The offsets of the selected layer valid for the analysed text (each block has its own window
 * list in a pruned model); before that layer's features arrive, the first layer's that has.
 */
export function layerOffsets(state: AppState): number[] {
  const layers = state.analysis?.layers ?? [];
  return (layers[state.layer] ?? layers.find(Boolean))?.offsets.map((o) => o.offset) ?? [];
}

/** A note when the selected layer has no plane for this text (no valid offset: g = 0 there), else null. */
function noPlanesNote(state: AppState): HTMLElement | null {
  const features = state.analysis?.layers[state.layer];
  if (!features || features.offsets.length > 0) return null;
  const list = features.windowSizes.length ? `[${features.windowSizes.join(', ')}]` : 'empty';
  return h('p', { class: 'status' }, `Layer ${state.layer} has no token planes in this text: its window list is ${list}${features.windowSizes.length ? ', every offset as long as the text or longer' : ''} (g = 0 there). Pick another layer.`);
}

/** Layer and offset pickers for the current analysis (the selected layer's offsets valid for its length). */
function pickers(state: AppState, store: Store, idPrefix: string): PickerSpec[] {
  const layers = state.analysis?.run?.layers ?? state.model?.report.dims?.layers ?? 0;
  const offsets = layerOffsets(state);
  return [
    { id: `${idPrefix}-layer`, label: 'Layer', options: Array.from({ length: layers }, (_, l) => ({ value: String(l), label: String(l) })), value: String(state.layer), onChange: (v) => store.update({ layer: Number(v) }) },
    { id: `${idPrefix}-offset`, label: 'Offset δ', options: offsets.map((o) => ({ value: String(o), label: String(o) })), value: String(state.offset), onChange: (v) => store.update({ offset: Number(v) }) },
  ];
}

function needsText(container: HTMLElement, state: AppState): boolean {
  if (state.analysis?.run) return false;
  container.append(state.analysis ? h('p', { class: 'status', 'data-pending': true }, 'Running…') : h('p', { class: 'status' }, 'Run some text first (Run tab): this view shows its token planes.'));
  return true;
}

export class PluckerView {
  readonly element = h('section', { class: 'view', id: 'plucker-view', 'aria-label': 'Plücker coordinates' });
  private readonly pickers = new Pickers();
  private readonly body = h('div', { class: 'view-body' });

  constructor(private readonly store: Store) {
    this.element.append(this.pickers.element, this.body);
  }

  update(state: AppState, previous: AppState | null): void {
    if (state.planes !== previous?.planes || state.analysis?.run !== previous?.analysis?.run || state.analysis?.layers !== previous?.analysis?.layers || state.layer !== previous?.layer || state.offset !== previous?.offset || state.highlighted !== previous?.highlighted || state.pinned !== previous?.pinned) {
      rebuildKeepingPlace(this.element, () => this.render(state));
    }
  }

  private render(state: AppState): void {
    clear(this.body);
    this.pickers.element.hidden = needsText(this.body, state);
    if (this.pickers.element.hidden) return;
    this.pickers.update(pickers(state, this.store, 'plucker'));
    const none = noPlanesNote(state);
    if (none) return void this.body.append(none);
    const p = state.planes;
    if (p?.error) return void this.body.append(h('p', { class: 'error' }, p.error));
    if (!p?.data) return void this.body.append(h('p', { class: 'status', 'data-pending': true }, 'Computing Plücker coordinates…'));
    const planes = p.data;
    const run = state.analysis!.run!;
    const P = planes.pairCount;
    const r = planes.reducedDim;
    const pairs: [number, number][] = [];
    for (let i = 0; i < r; i++) for (let j = i + 1; j < r; j++) pairs.push([i, j]);
    const maxResidual = d3.max(planes.residual) ?? 0;
    const readout = h('div', { class: 'readout', id: 'plucker-readout', 'aria-live': 'polite' }, 'Point at a cell (or focus the chart and use the arrow keys).');
    this.body.append(h('p', { class: 'note' },
      `Layer ${planes.layer}, offset ${planes.offset}: ${planes.positions.length} planes span(z_t, z_{t−${planes.offset}}) × ${P} coordinates of p̂. `,
      h('span', { id: 'plucker-residual' }, `Plücker-relation residual: max ${formatValue(maxResidual)}`),
      ` (a true 2-plane gives 0; float32 rounding gives ~1e-7). Degenerate planes: ${planes.degenerate.filter(Boolean).length}.`), readout);
    const holder = h('div', { class: 'chart-holder', id: 'plucker-chart' });
    this.body.append(holder);
    // The colour scale follows the data: symmetric around 0, to the largest |p̂| shown (p̂ of a
    // normalised plane is a unit vector over many pairs, so its entries are often ±0.1, near white on ±1).
    let limit = 0;
    for (const v of planes.coordinates) if (Number.isFinite(v)) limit = Math.max(limit, Math.abs(v));
    if (!(limit > 0)) limit = 1;
    requestAnimationFrame(() => {
      const width = widthOf(this.element);
      const height = Math.min(720, Math.max(260, 40 + planes.positions.length * 6));
      drawHeatmap(holder, `Plücker coordinates, layer ${planes.layer}, offset ${planes.offset}`, {
        rows: planes.positions.length, cols: P,
        value: (row, col) => planes.coordinates[row * P + col],
        color: diverging(limit), width, height,
        rowLabel: (row) => tokenLabel(run.tokens[planes.positions[row]].text, planes.positions[row]),
        colLabel: (col) => `${pairs[col][0]},${pairs[col][1]}`,
        xTitle: 'pair (i, j)', yTitle: 'token plane',
        legend: { domain: [-limit, limit], title: `p̂_ij\nscaled to ±${formatNumber(limit, 3)}\n(data max |p̂|)` },
        markedRows: new Set(planes.positions.map((t, i) => (state.highlighted.has(t) ? i : -1)).filter((i) => i >= 0)),
        focusRow: state.pinned === null ? undefined : planes.positions.indexOf(state.pinned),
        onCell: (row, col) => {
          const t = planes.positions[row];
          readout.textContent = `${tokenAt(run.tokens[t].text, t)}, pair (${pairs[col][0]}, ${pairs[col][1]}): p̂ = ${formatValue(planes.coordinates[row * P + col])}; ||p|| = ${formatValue(planes.norms[row])}; residual ${formatValue(planes.residual[row])}${planes.degenerate[row] ? ' (degenerate)' : ''}`;
        },
      });
      holder.setAttribute('data-scale-limit', String(limit));
      holder.append(exportToolbar({
        name: `plucker-layer${planes.layer}-offset${planes.offset}`,
        svg: () => holder.querySelector('svg'),
        rows: () => planes.positions.map((t, row) => ({ position: t, token: run.tokens[t].text, area: planes.norms[row], residual: planes.residual[row], degenerate: planes.degenerate[row], ...Object.fromEntries(pairs.map(([i, j], k) => [`p_${i}_${j}`, planes.coordinates[row * P + k]])) })),
      }));
    });
  }
}

export class DistanceView {
  readonly element = h('section', { class: 'view', id: 'distance-view', 'aria-label': 'Grassmann distances' });
  private heatmap: Heatmap | null = null;
  private readonly pickers = new Pickers();
  private readonly body = h('div', { class: 'view-body' });

  constructor(private readonly store: Store) {
    this.element.append(this.pickers.element, this.body);
  }

  update(state: AppState, previous: AppState | null): void {
    if (state.distances !== previous?.distances || state.metric !== previous?.metric || state.analysis?.run !== previous?.analysis?.run || state.analysis?.layers !== previous?.analysis?.layers || state.layer !== previous?.layer || state.offset !== previous?.offset) {
      rebuildKeepingPlace(this.element, () => this.render(state));
    } else if (state.highlighted !== previous?.highlighted || state.pinned !== previous?.pinned) {
      rebuildKeepingPlace(this.element, () => this.render(state));
    }
  }

  private render(state: AppState): void {
    clear(this.body);
    this.heatmap = null;
    this.pickers.element.hidden = needsText(this.body, state);
    if (this.pickers.element.hidden) return;
    this.pickers.update([
      { id: 'distance-metric', label: 'Metric', options: GRASSMANN_METRICS.map((m) => ({ value: m, label: m })), value: state.metric, onChange: (v) => this.store.update({ metric: v as GrassmannMetric }) },
      ...pickers(state, this.store, 'distance'),
    ]);
    const none = noPlanesNote(state);
    if (none) return void this.body.append(none);
    const d = state.distances;
    if (d?.error) return void this.body.append(h('p', { class: 'error' }, d.error));
    if (!d?.data) return void this.body.append(h('p', { class: 'status', 'data-pending': true }, 'Computing distances…'));
    const data = d.data;
    const run = state.analysis!.run!;
    const N = data.positions.length;
    const metric = state.metric;
    // The matrix for the chosen metric, from the principal angles.
    const values = new Float64Array(N * N);
    const pair = [0, 0];
    for (let k = 0; k < N * N; k++) {
      pair[0] = data.angles[2 * k];
      pair[1] = data.angles[2 * k + 1];
      values[k] = Number.isNaN(pair[0]) ? NaN : distanceFromAngles(metric, pair);
    }
    const finite = Array.from(values).filter((v) => Number.isFinite(v));
    const max = d3.max(finite) ?? 1;
    const readout = h('div', { class: 'readout', id: 'distance-readout', 'aria-live': 'polite' }, 'Point at a cell (or focus the chart and use the arrow keys); drag over the token axis to highlight tokens.');
    this.body.append(h('p', { class: 'note' }, `${metric} = ${METRIC_FORMULAS[metric]}, between the ${N} planes of layer ${data.layer}, offset ${data.offset}.${data.degenerate.length ? ` Degenerate planes (no distances): t = ${data.degenerate.join(', ')}.` : ''}`), readout);
    const holder = h('div', { class: 'chart-holder', id: 'distance-chart' });
    this.body.append(holder);
    const label = (i: number) => tokenLabel(run.tokens[data.positions[i]].text, data.positions[i]);
    requestAnimationFrame(() => {
      const size = Math.min(widthOf(this.element), 820);
      const marked = new Set(data.positions.map((t, i) => (state.highlighted.has(t) ? i : -1)).filter((i) => i >= 0));
      this.heatmap = drawHeatmap(holder, `${metric} distances, layer ${data.layer}, offset ${data.offset}`, {
        rows: N, cols: N, value: (i, j) => values[i * N + j], color: sequential([0, max]), width: size, height: Math.max(300, size - 60),
        rowLabel: label, colLabel: label, xTitle: 'token plane', yTitle: 'token plane', legend: { domain: [0, max], title: metric }, markedRows: marked,
        focusRow: state.pinned === null ? undefined : data.positions.indexOf(state.pinned),
        onCell: (i, j) => {
          const v = values[i * N + j];
          readout.setAttribute('data-i', String(data.positions[i]));
          readout.setAttribute('data-j', String(data.positions[j]));
          readout.setAttribute('data-value', String(v));
          const angles = [data.angles[(i * N + j) * 2], data.angles[(i * N + j) * 2 + 1]];
          readout.textContent = Number.isNaN(v)
            ? `${label(i)} × ${label(j)}: a degenerate plane, no distance`
            : `d(${label(i)}, ${label(j)}) = ${formatValue(v)}; principal angles ${formatValue(angles[0])}, ${formatValue(angles[1])} rad`;
        },
      });
      // Brushing along the token axis (left of the plot) highlights those tokens everywhere.
      const { plot } = this.heatmap;
      const brush = d3.brushY<unknown>().extent([[0, plot.top], [plot.left - 2, plot.top + plot.height]]).on('end', (event: d3.D3BrushEvent<unknown>) => {
        if (!event.selection) return void this.store.update({ highlighted: new Set() });
        const [y0, y1] = event.selection as [number, number];
        const from = this.heatmap!.rowAt(y0 - plot.top);
        const to = this.heatmap!.rowAt(y1 - plot.top);
        this.store.update({ highlighted: new Set(data.positions.slice(from, to + 1)) });
      });
      this.heatmap.svg.append('g').attr('class', 'brush').call(brush);
      holder.append(exportToolbar({
        name: `distances-${metric}-layer${data.layer}-offset${data.offset}`,
        svg: () => holder.querySelector('svg'),
        rows: () => data.positions.flatMap((ti, i) => data.positions.map((tj, j) => ({ from: ti, to: tj, [metric]: values[i * N + j], theta1: data.angles[(i * N + j) * 2], theta2: data.angles[(i * N + j) * 2 + 1] }))),
      }));
    });
  }
}

/** What α and the h share mean for each mixing output; no share chart where h is not in the output. */
const GATING_TEXT: Record<MixOutput, { alpha: string; share?: string; noShare?: string }> = {
  blend: {
    alpha: '1: the block keeps h; 0: it takes the Grassmann features g',
    share: 'Share of the gate output α⊙h + (1 − α)⊙g that came from h (the rest from g)',
  },
  additive: {
    alpha: '1: all of the Grassmann features g is added to h; 0: none of it',
    share: 'Share of the mixing output h + α⊙g that came from h (the rest from α⊙g)',
  },
  'gated-geometry': {
    alpha: '1: the mixing passes the Grassmann features g; 0: it passes nothing',
    noShare: 'This model\'s mixing returns α⊙g: h (the mixing\'s input) reaches its output only through the gate α, so the share of h in it is 0 by definition, not plotted. The gate openness above says how much of g passes.',
  },
};

export class GatesView {
  readonly element = h('section', { class: 'view', id: 'gates-view', 'aria-label': 'Gates' });

  constructor(private readonly store: Store) {}

  update(state: AppState, previous: AppState | null): void {
    if (state.analysis?.layers !== previous?.analysis?.layers || state.analysis?.run !== previous?.analysis?.run || state.highlighted !== previous?.highlighted || state.pinned !== previous?.pinned) rebuildKeepingPlace(this.element, () => this.render(state));
  }

  private render(state: AppState): void {
    clear(this.element);
    if (needsText(this.element, state)) return;
    const run = state.analysis!.run!;
    const layers = state.analysis!.layers;
    const T = run.tokens.length;
    // What the mixing returns decides what α and the h share mean (src/model/architecture.ts).
    const gating: MixOutput = layers.find(Boolean)?.blend.gating ?? state.model?.report.options?.mixOutput ?? 'blend';
    const text = GATING_TEXT[gating];
    const readout = h('div', { class: 'readout', id: 'gates-readout', 'aria-live': 'polite' }, `Point at a cell: gate openness α (${text.alpha}).`);
    const alphaHolder = h('div', { class: 'chart-holder', id: 'gates-chart' });
    const shareHolder = text.share ? h('div', { class: 'chart-holder', id: 'blend-chart' }) : null;
    this.element.append(readout, h('h3', {}, 'Gate openness (mean α over dimensions)'), alphaHolder);
    if (shareHolder) this.element.append(h('h3', {}, text.share!), shareHolder);
    else this.element.append(h('h3', {}, 'Share of the mixing output that came from h'), h('p', { class: 'note', id: 'blend-note', 'data-gating': gating }, text.noShare!));
    const label = (t: number) => tokenLabel(run.tokens[t].text, t);
    const marked = new Set([...state.highlighted].filter((t) => t < T));
    requestAnimationFrame(() => {
      const width = Math.min(widthOf(this.element), 100 + 110 + layers.length * 90);
      const height = Math.min(900, Math.max(240, 60 + T * 12));
      const value = (key: 'alpha' | 'share') => (t: number, l: number) => {
        const f = layers[l];
        if (!f) return NaN;
        return key === 'alpha' ? f.alphaMean[t] : f.blend.hShare[t] ?? NaN;
      };
      const charts: [HTMLElement, 'alpha' | 'share', string][] = [[alphaHolder, 'alpha', 'mean α']];
      if (shareHolder) charts.push([shareHolder, 'share', 'h share']);
      for (const [holder, key, title] of charts) {
        drawHeatmap(holder, `${title} per token and layer`, {
          rows: T, cols: layers.length, value: value(key), color: sequential([0, 1]), width, height,
          rowLabel: label, colLabel: (l) => `layer ${l}`, xTitle: 'layer', yTitle: 'token', legend: { domain: [0, 1], title }, markedRows: marked,
          focusRow: state.pinned ?? undefined,
          onCell: (t, l) => {
            readout.textContent = `${label(t)}, layer ${l}: ${title} = ${formatValue(value(key)(t, l))}`;
          },
        });
        holder.append(exportToolbar({
          name: key === 'alpha' ? 'gate-openness' : 'blend-h-share', svg: () => holder.querySelector('svg'),
          rows: () => run.tokens.map((tok, t) => ({ position: t, token: tok.text, ...Object.fromEntries(layers.map((_, l) => [`layer_${l}`, value(key)(t, l)])) })),
        }));
      }
    });
  }
}
