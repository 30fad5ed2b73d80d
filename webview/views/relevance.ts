/**
 * Relevance: layer-wise relevance propagation (src/relevance/lrp.ts, the CLI's `relevance`) of
 * the Run tab's text, from the true next token at every position, with the chosen linear rule
 * and gate policy. Shows
 *  - the input tokens coloured by their relevance (token-embedding part + position part),
 *    diverging around 0 in the theme's red/blue, the exact value on hover and focus;
 *  - the signed account (start = input + biases + eps + rounding) and the conservation table per stage;
 *  - per layer: the branch split, the window offsets' shares (all layers), and for the chosen
 *    layer bars of FFN neuron, z dimension, Plücker pair and (under the `half` policy) gate
 *    dimension relevance.
 * Numbers are shown by the one formatter (../format.ts) and carry their full precision in data
 * attributes (String(v)), as the CLI's --json has them.
 */
import type { RelevanceReport } from '../../src/core/relevance';
import { RELEVANCE_GATES, RELEVANCE_RULES } from '../../src/protocol/editor';
import type { GatePolicy, LayerRelevance, LinearRule } from '../../src/relevance/types';
import { drawBars, drawGroupedBars, formatValue, widthOf } from '../charts';
import { clear, h, rebuildKeepingPlace, select } from '../dom';
import { exportJson, exportToolbar } from '../export';
import { formatPercent, formatSeconds, formatSetting, tokenAt, tokenLabel } from '../format';
import type { AppState, Store } from '../store';

const RULE_LABELS: Record<LinearRule, string> = { epsilon: 'epsilon', zplus: 'z-plus', gamma: 'gamma' };
const GATE_LABELS: Record<GatePolicy, string> = { 'signal-take-all': 'signal takes all', half: 'half (AttnLRP)' };

const percent = (v: number): string => formatPercent(v, 4);

/** Relevance that reached input token i: its token-embedding part plus its position-embedding part. */
export function tokenRelevance(report: RelevanceReport, i: number): number {
  return report.tokens[i] + report.positionEmbedding[i];
}

export class RelevanceView {
  readonly element = h('section', { class: 'view', id: 'relevance-view', 'aria-label': 'Relevance' });
  private readonly button = h('vscode-button', { id: 'relevance-button', title: 'Explain the Run tab\'s text with these rules' }, 'Explain');
  private readonly textNote = h('p', { class: 'note', id: 'relevance-text' });
  private readonly results = h('div', { id: 'relevance-results', 'aria-live': 'polite' });

  constructor(
    private readonly store: Store,
    private readonly explain: () => void,
    private readonly cancel: (requestId: number) => void,
  ) {
    const s = store.state;
    // The controls stay put (their focus too); a change of rule re-explains a text already explained.
    const rule = select('relevance-rule', 'Rule', RELEVANCE_RULES.map((r) => ({ value: r, label: RULE_LABELS[r] })), s.relevanceRule, (v) => this.choose({ relevanceRule: v as LinearRule }));
    const gate = select('relevance-gate', 'Gate', RELEVANCE_GATES.map((g) => ({ value: g, label: GATE_LABELS[g] })), s.relevanceGate, (v) => this.choose({ relevanceGate: v as GatePolicy }));
    this.button.addEventListener('click', () => this.explain());
    this.element.append(
      h('p', { class: 'note' }, 'Layer-wise relevance propagation from the true next token\'s logit at every position, down to the input tokens (as the CLI\'s relevance command; ε = 1e-6, γ = 0.25). The rule is used for every linear map; the gate policy decides whether the gate α shares the relevance of each product with it (α ⊙ h and (1 − α) ⊙ g in a blend, α ⊙ g where the mixing returns h + α ⊙ g or α ⊙ g).'),
      this.textNote,
      h('div', { class: 'controls' }, rule, gate, this.button),
      this.results,
    );
  }

  private choose(patch: Partial<Pick<AppState, 'relevanceRule' | 'relevanceGate'>>): void {
    const before = this.store.state;
    this.store.update(patch);
    const after = this.store.state;
    if (before.relevance && (after.relevanceRule !== before.relevanceRule || after.relevanceGate !== before.relevanceGate)) this.explain();
  }

  update(state: AppState, previous: AppState | null): void {
    if (!previous || state.text !== previous.text) {
      this.textNote.textContent = state.text ? `Text (from the Run tab): “${state.text.length > 160 ? `${state.text.slice(0, 160)}…` : state.text}”` : '';
      this.button.toggleAttribute('disabled', !state.text);
    }
    if (!previous || state.relevance !== previous.relevance || state.text !== previous.text || state.layer !== previous.layer) rebuildKeepingPlace(this.results, () => this.render(state));
  }

  private render(state: AppState): void {
    // Keep the keyboard where it was across a redraw (a token, the layer picker).
    const active = this.element.ownerDocument.activeElement as HTMLElement | null;
    const focusKey = active && this.results.contains(active) ? (active.id ? `#${active.id}` : active.dataset.position !== undefined ? `#relevance-tokens [data-position="${active.dataset.position}"]` : null) : null;
    clear(this.results);
    if (!state.text) {
      this.results.append(h('p', { class: 'status' }, 'Run some text first (Run tab): this view explains its next-token predictions.'));
      return;
    }
    const r = state.relevance;
    if (!r) {
      this.results.append(h('p', { class: 'status' }, 'Press Explain to propagate the relevance of every next-token prediction down to the tokens.'));
      return;
    }
    if (r.error) return void this.results.append(h('p', { class: 'error', id: 'relevance-error', role: 'alert' }, r.error));
    if (!r.data) {
      const stop = h('vscode-button', { id: 'relevance-cancel', secondary: true }, 'Cancel');
      stop.addEventListener('click', () => this.cancel(r.requestId));
      this.results.append(h('div', { class: 'buttons' }, h('p', { class: 'status', id: 'relevance-status', 'data-pending': true }, `Explaining with the ${RULE_LABELS[r.rule]} rule, gate ${GATE_LABELS[r.gate]}…`), stop));
      return;
    }
    this.renderReport(state, r.data, r.requestId);
    if (focusKey) this.results.querySelector<HTMLElement>(focusKey)?.focus();
  }

  private renderReport(state: AppState, report: RelevanceReport, requestId: number): void {
    const T = report.length;
    const tokens = report.tokens_text.slice(0, T);
    const input = tokens.reduce((sum, _, i) => sum + tokenRelevance(report, i), 0);
    const o = report.options;
    const out = this.results;
    for (const w of report.warnings) out.append(h('p', { class: 'warning' }, w));
    out.append(h('p', { id: 'relevance-summary', 'data-rule': o.rule, 'data-gate': o.gate, 'data-backend': report.backend, 'data-seconds': String(report.seconds), 'data-request-id': requestId },
      `Rule ${RULE_LABELS[o.rule]} (${formatSetting('ε', o.epsilon)}${o.rule === 'gamma' ? `, ${formatSetting('γ', o.gamma)}` : ''}), gate ${GATE_LABELS[o.gate]}, ${T - 1} targets: relevance `,
      h('span', { id: 'relevance-start', 'data-value': String(report.start) }, formatValue(report.start)), ' at the logits, ',
      h('span', { id: 'relevance-input', 'data-value': String(input) }, formatValue(input)), ' reaching the input tokens',
      ` · backend ${report.backend}, ${formatSeconds(report.seconds)}`));
    // The signed account: start = input + biases + eps + rounding (no "leak" ratio: it hides the sign).
    const a = report.accounting;
    const term = (id: string, label: string, v: number): HTMLElement[] => [h('span', {}, ` ${label} `), h('strong', { id, 'data-value': String(v) }, formatValue(v))];
    out.append(h('p', { id: 'relevance-accounting', 'data-meaningful': String(a.ratiosMeaningful) },
      'Where the start went: ', h('strong', { id: 'relevance-account-start', 'data-value': String(a.start) }, formatValue(a.start)), ' =',
      ...term('relevance-account-input', 'input', a.input), ' +', ...term('relevance-account-bias', 'biases', a.bias), ' +',
      ...term('relevance-account-epsilon', 'ε', a.epsilon), ' +', ...term('relevance-account-remainder', 'float rounding', a.remainder),
      a.shares
        ? h('span', { id: 'relevance-shares' }, ` (of the start: input ${percent(a.shares.input)}, biases ${percent(a.shares.bias)}, ε ${percent(a.shares.epsilon)})`)
        : h('span', { id: 'relevance-shares', class: 'note' }, `. ${a.note ?? ''}`)));
    const whole = h('vscode-button', { id: 'relevance-export-report', secondary: true, title: 'Save the whole report as JSON (the CLI\'s relevance --json)' }, 'Report JSON');
    whole.addEventListener('click', () => exportJson(`relevance-${o.rule}-${o.gate}`, report));
    out.append(h('div', { class: 'buttons' }, whole));

    // input tokens
    out.append(h('h3', {}, 'Relevance of each input token (token embedding + position embedding)'));
    const readout = h('div', { class: 'readout', id: 'relevance-token-readout', 'aria-live': 'polite' }, 'Point at a token, or focus one and use the arrow keys.');
    const strip = this.tokenStrip(report, readout);
    const tokenChart = h('div', { class: 'chart-holder', id: 'relevance-token-chart' });
    out.append(strip, readout, tokenChart);

    // conservation
    out.append(h('h3', {}, 'Conservation: entering = leaving + biases + ε + float rounding, per stage (signed)'));
    const rows = report.conservation.map((s) => h('tr', { 'data-stage': s.stage, 'data-upper': String(s.upper), 'data-lower': String(s.lower), 'data-bias': String(s.bias), 'data-epsilon': String(s.epsilon), 'data-remainder': String(s.remainder),
      title: s.biases.length > 0 ? s.biases.map((b) => `${b.name}: ${formatValue(b.relevance)}`).join('\n') : 'no bias in this stage' },
      h('th', { scope: 'row' }, s.stage), ...[s.upper, s.lower, s.bias, s.epsilon, s.remainder].map((v) => h('td', { class: 'num' }, formatValue(v)))));
    out.append(h('table', { class: 'data', id: 'relevance-conservation' },
      h('thead', {}, h('tr', {}, ...['stage', 'entering', 'leaving', 'biases', 'ε', 'rounding'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, ...rows)));
    out.append(exportToolbar({ name: `relevance-conservation-${o.rule}`, rows: () => report.conservation.map((s) => ({ stage: s.stage, upper: s.upper, lower: s.lower, bias: s.bias, epsilon: s.epsilon, remainder: s.remainder })) }));

    // layers: branch split and offset shares
    out.append(h('h3', {}, 'Layers: relevance at the block input and output, and into each branch'));
    out.append(h('table', { class: 'data', id: 'relevance-layers' },
      h('thead', {}, h('tr', {}, ...['layer', 'input', 'output', 'mixing branch', 'FFN branch'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, ...report.layers.map((l) => h('tr', { 'data-layer': l.layer },
        h('th', { scope: 'row' }, String(l.layer)), ...[l.input, l.output, l.mixing, l.ffn].map((v) => h('td', { class: 'num', 'data-value': String(v) }, formatValue(v))))))));
    const offsetChart = h('div', { class: 'chart-holder', id: 'relevance-offsets' });
    out.append(h('h3', {}, 'Share of each window offset in the layer\'s Grassmann features (relevance / Σ|relevance|)'), offsetChart);

    // units of one layer
    const layer = Math.min(Math.max(0, state.layer), report.layers.length - 1);
    const l = report.layers[layer];
    out.append(h('h3', {}, 'Units of one layer'), h('div', { class: 'controls' },
      select('relevance-layer', 'Layer', report.layers.map((x) => ({ value: String(x.layer), label: String(x.layer) })), String(layer), (v) => this.store.update({ layer: Number(v) }))));
    const units = unitCharts(l);
    const holders = units.map((u) => h('div', { class: 'chart-holder', id: u.id }));
    units.forEach((u, i) => out.append(h('h4', {}, `${u.title}, layer ${l.layer} (summed over positions)`), holders[i]));
    if (!units.some((u) => u.key === 'gate')) {
      out.append(h('p', { class: 'note', id: 'relevance-gate-note' }, o.gate === 'signal-take-all'
        ? 'Gate dimensions: none under “signal takes all” (the signal of each product with α takes all its relevance); choose the half policy to see them.'
        : 'Gate dimensions: no relevance reached the gate in this layer.'));
    }

    requestAnimationFrame(() => {
      const width = widthOf(this.element);
      drawBars(tokenChart, 'Relevance per input token', tokens.map((t, i) => ({ label: tokenLabel(t.text, i), value: tokenRelevance(report, i) })), { width, height: 220, xTitle: 'token', yTitle: 'relevance', signed: true });
      tokenChart.append(exportToolbar({
        name: `relevance-tokens-${o.rule}`, svg: () => tokenChart.querySelector('svg'),
        rows: () => tokens.map((t, i) => ({ position: i, token: t.text, id: t.id, token_part: report.tokens[i], position_part: report.positionEmbedding[i], relevance: tokenRelevance(report, i) })),
      }));
      drawGroupedBars(offsetChart, 'Offset shares per layer', report.layers.map((x) => ({ label: `layer ${x.layer}`, bars: x.offsets.map((off) => ({ name: `δ=${off.offset}`, value: off.share })) })),
        { width: Math.min(width, 160 + report.layers.length * 140), height: 220, xTitle: 'layer', yTitle: 'share' });
      offsetChart.append(exportToolbar({
        name: `relevance-offsets-${o.rule}`, svg: () => offsetChart.querySelector('svg'),
        rows: () => report.layers.flatMap((x) => x.offsets.map((off) => ({ layer: x.layer, offset: off.offset, relevance: off.relevance, share: off.share }))),
      }));
      units.forEach((u, i) => {
        const holder = holders[i];
        drawBars(holder, `${u.title}, layer ${l.layer}`, u.values.map((v, k) => ({ label: u.label(k), value: v })), { width, height: 200, xTitle: u.axis, yTitle: 'relevance', signed: true });
        holder.append(exportToolbar({
          name: `relevance-${u.key}-layer${l.layer}-${o.rule}`, svg: () => holder.querySelector('svg'),
          rows: () => u.values.map((v, k) => ({ layer: l.layer, [u.axis]: k, label: u.label(k), relevance: v })),
        }));
      });
    });
  }

  /** The tokens, coloured by relevance; roving focus with the arrow keys, Home and End. */
  private tokenStrip(report: RelevanceReport, readout: HTMLElement): HTMLElement {
    const T = report.length;
    const strip = h('div', { class: 'token-strip relevance-tokens', id: 'relevance-tokens', role: 'listbox', 'aria-label': 'Input tokens coloured by relevance' });
    const values = Array.from({ length: T }, (_, i) => tokenRelevance(report, i));
    const limit = Math.max(1e-30, ...values.map(Math.abs));
    const describe = (i: number): string => {
      const t = report.tokens_text[i];
      return `${tokenAt(t.text, i)}: relevance ${formatValue(values[i])} (token embedding ${formatValue(report.tokens[i])}, position ${formatValue(report.positionEmbedding[i])})`;
    };
    values.forEach((v, i) => {
      const span = h('span', {
        class: `token rel-token ${v < 0 ? 'negative' : 'positive'}`, role: 'option', tabindex: i === 0 ? 0 : -1, 'aria-selected': 'false',
        'data-position': i, 'data-relevance': String(v), 'data-token-part': String(report.tokens[i]), 'data-position-part': String(report.positionEmbedding[i]),
        title: describe(i), 'aria-label': `token ${i}: ${report.tokens_text[i].text}, relevance ${formatValue(v)}`,
      }, report.tokens_text[i].text);
      // strength of the colour: |relevance| / max |relevance| (the theme's red above 0, blue below)
      // (at most 70%: the theme's foreground stays readable on it)
      span.style.setProperty('--relevance-strength', `${((Math.abs(v) / limit) * 70).toFixed(1)}%`);
      const show = (): void => {
        readout.textContent = describe(i);
        readout.setAttribute('data-position', String(i));
      };
      span.addEventListener('mouseenter', show);
      span.addEventListener('focus', show);
      span.addEventListener('keydown', (e) => {
        const next = e.key === 'ArrowRight' ? i + 1 : e.key === 'ArrowLeft' ? i - 1 : e.key === 'Home' ? 0 : e.key === 'End' ? T - 1 : null;
        if (next === null) return;
        e.preventDefault();
        const target = strip.querySelector<HTMLElement>(`[data-position="${Math.min(T - 1, Math.max(0, next))}"]`);
        if (!target) return;
        span.setAttribute('tabindex', '-1');
        target.setAttribute('tabindex', '0');
        target.focus();
      });
      strip.append(span);
    });
    return strip;
  }
}

interface UnitChart {
  key: 'ffn' | 'z' | 'pairs' | 'gate';
  id: string;
  title: string;
  axis: string;
  /** Label of unit k (unique: the bars' categories). */
  label: (k: number) => string;
  values: readonly number[];
}

/** The unit bar charts of a layer: FFN neurons, z dimensions, Plücker pairs, and gate dimensions when any got relevance. */
function unitCharts(l: LayerRelevance): UnitChart[] {
  // Plücker pairs in row-major order: (0,1), (0,2), ..., (r-2, r-1)
  const pairs: string[] = [];
  for (let i = 0; i < l.reducedDims.length; i++) for (let j = i + 1; j < l.reducedDims.length; j++) pairs.push(`${i},${j}`);
  const charts: UnitChart[] = [
    { key: 'ffn', id: 'relevance-ffn', title: 'FFN neurons', axis: 'neuron', label: (k) => `#${k}`, values: l.ffnNeurons },
    { key: 'z', id: 'relevance-z', title: 'Reduced dimensions of z', axis: 'z dimension', label: (k) => `z${k}`, values: l.reducedDims },
    { key: 'pairs', id: 'relevance-pairs', title: 'Plücker pairs (all offsets)', axis: 'pair', label: (k) => pairs[k] ?? `p${k}`, values: l.pairs },
  ];
  if (l.gate.some((v) => v !== 0)) charts.push({ key: 'gate', id: 'relevance-gate-dims', title: 'Gate dimensions', axis: 'gate dimension', label: (k) => `α${k}`, values: l.gate });
  return charts;
}
