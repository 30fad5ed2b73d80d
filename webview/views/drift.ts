/**
 * Drift: the checkpoints beside this one, taken as one training run, and how each layer's W_red
 * row space (the subspace the Grassmann layer reads) moves across them: the geodesic distance of
 * every checkpoint to the last, and between consecutive ones; relative change of the weights.
 */
import { drawLines, formatValue, widthOf } from '../charts';
import { clear, h, rebuildKeepingPlace } from '../dom';
import { exportToolbar } from '../export';
import { formatAngle } from '../format';
import type { AppState } from '../store';

/** Validation numbers first, in the order training scripts usually log them. */
function metricRank(name: string): number {
  const i = ['val_loss', 'val_ppl', 'loss', 'train_loss', 'step'].indexOf(name);
  return i < 0 ? 99 : i;
}

export class DriftView {
  readonly element = h('section', { class: 'view', id: 'drift-view', 'aria-label': 'Drift' });

  constructor(private readonly requestDrift: () => void) {}

  update(state: AppState, previous: AppState | null): void {
    if (state.drift !== previous?.drift || state.model !== previous?.model) rebuildKeepingPlace(this.element, () => this.render(state));
  }

  private render(state: AppState): void {
    clear(this.element);
    const siblings = state.model?.siblings ?? [];
    if (siblings.length < 2) {
      this.element.append(h('p', { class: 'status' }, 'No run to follow: this folder holds fewer than two checkpoints. Put the checkpoints of one training run in one folder (epoch_1.pt, epoch_2.pt, …) to see how each layer moves.'));
      return;
    }
    const button = h('vscode-button', { id: 'drift-button', title: 'Read every checkpoint of this folder and measure how each layer\'s W_red row space moves across them' },
      state.drift?.data ? `Measure the drift again (${siblings.length} checkpoints)` : `Measure the drift across the ${siblings.length} checkpoints`);
    button.addEventListener('click', () => this.requestDrift());
    this.element.append(h('p', {}, `Checkpoints in this folder: ${siblings.map((s) => s.slice(s.lastIndexOf('/') + 1)).join(', ')}`), button);
    if (state.model?.watching) {
      this.element.append(h('p', { class: 'note', id: 'drift-watching', role: 'status' }, 'Watching this folder: each new checkpoint is added here once it is completely written.'));
    }
    const drift = state.drift;
    if (!drift) return;
    if (drift.error) return void this.element.append(h('p', { class: 'error' }, drift.error));
    if (!drift.data) return void this.element.append(h('p', { class: 'status', 'data-pending': true }, drift.progress ?? 'Reading the checkpoints…'));
    const report = drift.data;
    const labels = report.checkpoints.map((c) => (c.epoch !== null ? `epoch ${c.epoch}` : c.path.slice(c.path.lastIndexOf('/') + 1)));
    this.element.append(h('p', { class: 'note' }, `Ordered by ${report.orderedBy}. W_red row spaces: geodesic distance on Gr(r, d) = ||principal angles||.`));
    for (const w of report.warnings) this.element.append(h('p', { class: 'warning' }, w));
    const layersOf = (steps: typeof report.toLast) => {
      const byLayer = new Map<number, { x: number; y: number }[]>();
      steps.forEach((step) => {
        for (const t of step.tensors) {
          if (!t.subspace || t.layer === null) continue;
          byLayer.set(t.layer, [...(byLayer.get(t.layer) ?? []), { x: step.from, y: t.subspace.geodesic }]);
        }
      });
      return [...byLayer].sort((a, b) => a[0] - b[0]).map(([layer, values]) => ({ name: `layer ${layer}`, values }));
    };
    // ... and the last checkpoint itself, at distance 0
    const toLast = layersOf(report.toLast).map((s) => ({ ...s, values: [...s.values, { x: report.checkpoints.length - 1, y: 0 }] }));
    const consecutive = layersOf(report.consecutive);
    const toLastHolder = h('div', { class: 'chart-holder', id: 'drift-to-last' });
    const stepHolder = h('div', { class: 'chart-holder', id: 'drift-steps' });
    this.element.append(h('h3', {}, 'Distance of W_red to the last checkpoint'), toLastHolder, h('h3', {}, 'Distance of W_red from one checkpoint to the next'), stepHolder);
    const table = h('table', { class: 'data', id: 'drift-table' },
      h('thead', {}, h('tr', {}, ...['from', 'to', 'layer', 'W_red geodesic (rad)', 'max angle (rad)', 'mean relative change'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, ...report.consecutive.flatMap((step) => {
        const layers = [...new Set(step.tensors.filter((t) => t.layer !== null).map((t) => t.layer as number))].sort((a, b) => a - b);
        return layers.map((layer) => {
          const tensors = step.tensors.filter((t) => t.layer === layer);
          const red = tensors.find((t) => t.subspace);
          const mean = tensors.reduce((s, t) => s + t.relativeChange, 0) / tensors.length;
          return h('tr', {}, h('td', {}, labels[step.from]), h('td', {}, labels[step.to]), h('td', { class: 'num' }, String(layer)),
            h('td', { class: 'num' }, red ? formatValue(red.subspace!.geodesic) : '—'), h('td', { class: 'num', title: red ? formatAngle(red.subspace!.maxAngle) : undefined }, red ? formatValue(red.subspace!.maxAngle) : '—'), h('td', { class: 'num' }, formatValue(mean)));
        });
      })));
    this.element.append(h('h3', {}, 'Per step and layer'), table);
    // What the training script saved with each checkpoint (val_loss, val_ppl, ...).
    const metricNames = [...new Set(report.checkpoints.flatMap((c) => Object.keys(c.metrics ?? {})))].sort((a, b) => metricRank(a) - metricRank(b) || a.localeCompare(b));
    const metricHolders = metricNames.slice(0, 3).map((name) => ({ name, holder: h('div', { class: 'chart-holder', id: `drift-metric-${name.replace(/[^\w-]/g, '_')}` }) }));
    if (metricNames.length) {
      const metricsTable = h('table', { class: 'data', id: 'drift-metrics' },
        h('thead', {}, h('tr', {}, ...['checkpoint', 'epoch', ...metricNames].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, ...report.checkpoints.map((c) => h('tr', { 'data-checkpoint': c.path.slice(c.path.lastIndexOf('/') + 1), 'data-epoch': c.epoch === null ? '' : String(c.epoch) },
          h('td', {}, c.path.slice(c.path.lastIndexOf('/') + 1)),
          h('td', { class: 'num' }, c.epoch === null ? '—' : String(c.epoch)),
          ...metricNames.map((name) => {
            const v = c.metrics?.[name];
            return v === undefined ? h('td', { class: 'num', 'data-metric': name }, '—') : h('td', { class: 'num', 'data-metric': name, 'data-value': String(v), title: String(v) }, formatValue(v));
          }),
        ))),
      );
      this.element.append(h('h3', {}, 'Saved with each checkpoint'), ...metricHolders.map((m) => m.holder), metricsTable,
        exportToolbar({ name: 'drift-metrics', rows: () => report.checkpoints.map((c) => ({ checkpoint: c.path, epoch: c.epoch, ...c.metrics })) }));
    }
    requestAnimationFrame(() => {
      const width = Math.min(widthOf(this.element), 900);
      drawLines(toLastHolder, 'W_red distance to the last checkpoint', toLast, { width, height: 260, xTitle: 'checkpoint', yTitle: 'geodesic distance', xTicks: labels });
      toLastHolder.append(exportToolbar({ name: 'drift-to-last', svg: () => toLastHolder.querySelector('svg'), rows: () => toLast.flatMap((s) => s.values.map((p) => ({ layer: s.name, checkpoint: labels[p.x], geodesic_to_last: p.y }))) }));
      // one point per step, at the checkpoint it starts from: the last checkpoint starts none
      drawLines(stepHolder, 'W_red distance between consecutive checkpoints', consecutive, { width, height: 260, xTitle: 'from checkpoint', yTitle: 'geodesic distance', xTicks: labels.slice(0, -1) });
      for (const { name, holder } of metricHolders) {
        const values = report.checkpoints.flatMap((c, x) => (c.metrics?.[name] === undefined ? [] : [{ x, y: c.metrics[name] }]));
        drawLines(holder, `${name} per checkpoint`, [{ name, values }], { width, height: 200, xTitle: 'checkpoint', yTitle: name, xTicks: labels });
      }
      stepHolder.append(exportToolbar({ name: 'drift-steps', svg: () => stepHolder.querySelector('svg'), rows: () => consecutive.flatMap((s) => s.values.map((p) => ({ layer: s.name, from: labels[p.x], to: labels[p.x + 1], geodesic: p.y }))) }));
    });
  }
}
