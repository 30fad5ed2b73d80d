/**
 * Entry of the comparison report's webview (dist/webview/compare.js, built by scripts/build.mjs):
 * two checkpoints side by side, as the CLI's `compare A B --text T --json` reports them.
 *  - Weights: per layer, the principal angles between the W_red row spaces of A and B (a D3 chart:
 *    the largest angle as a bar, every angle as a dot) and a table with the geodesic and projection
 *    distances and the effective ranks; the geodesic distance of every layer of A to every layer of B.
 *  - The same text through both: for a chosen quantity (plane area at a layer and offset, gate
 *    openness at a layer, input relevance) the tokens coloured by B − A (the theme's red where B
 *    is larger, blue where A is), A and B per token as lines and B − A as bars, and a table of A,
 *    B and B − A per token; the mean |B − A| per layer and offset.
 * Numbers carry their full precision in data attributes (String(v)). Charts export as SVG/PNG and
 * their data as CSV/JSON; the whole report as JSON. The host side is src/extension/compare.ts.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import './styles.css';
import './compare.css';
import * as d3 from 'd3';
import type { ComparedToken, CompareTextReport, Difference } from '../src/core/compareText';
import type { CompareProtocol } from '../src/protocol/compare';
import { createSvg, drawBars, drawLines, formatValue, widthOf } from './charts';
import { clear, h, rebuildKeepingPlace, select } from './dom';
import { exportJson, exportToolbar } from './export';
import { formatAngle, formatDegrees, formatNumber, formatSeconds, formatSetting, tokenAt, tokenLabel } from './format';
import { connect } from './host';

const host = connect<CompareProtocol>();

type Quantity = 'area' | 'gate' | 'relevance';

interface Choice {
  quantity: Quantity;
  layer: number;
  offset: number;
}

const QUANTITY_LABELS: Record<Quantity, string> = { area: 'plane area', gate: 'gate openness', relevance: 'input relevance' };
const degrees = (radians: number): number => (radians * 180) / Math.PI;
const name = (path: string): string => path.slice(path.lastIndexOf('/') + 1);
const stem = (path: string): string => name(path).replace(/\.[^.]+$/, '');
/** A number as a data attribute: the full double (the CLI's JSON has the same digits), nothing when absent. */
const exact = (v: number | null | undefined): string | undefined => (v === null || v === undefined ? undefined : String(v));

/** Principal angles per layer: the largest as a bar, each one as a dot; y in degrees. */
function drawAngles(container: HTMLElement, report: CompareTextReport, width: number): void {
  const height = 260;
  const m = { top: 12, right: 24, bottom: 40, left: 56 };
  const svg = createSvg(container, width, height, 'Principal angles between the W_red row spaces of A and B, per layer');
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const x = d3.scaleBand<number>().domain(report.layers.map((l) => l.layer)).range([0, pw]).padding(0.35);
  const y = d3.scaleLinear().domain([0, 90]).range([ph, 0]);
  const g = svg.append('g').attr('transform', `translate(${m.left},${m.top})`);
  g.append('g').attr('class', 'axis').attr('transform', `translate(0,${ph})`).call(d3.axisBottom(x).tickFormat((l) => `layer ${l}`));
  g.append('g').attr('class', 'axis').call(d3.axisLeft(y).tickValues([0, 15, 30, 45, 60, 75, 90]).tickFormat((v) => `${v}°`));
  for (const { layer, reduce } of report.layers) {
    const x0 = x(layer)!;
    g.append('rect').attr('class', 'bar angle-bar').attr('data-layer', layer).attr('data-max-angle', String(reduce.maxAngle))
      .attr('x', x0).attr('width', x.bandwidth()).attr('y', y(degrees(reduce.maxAngle))).attr('height', ph - y(degrees(reduce.maxAngle)))
      .append('title').text(`layer ${layer}: largest angle ${formatAngle(reduce.maxAngle)}, geodesic ${formatValue(reduce.geodesic)}`);
    g.append('g').selectAll('circle').data(reduce.angles).join('circle').attr('class', 'angle-dot')
      .attr('r', 2.5).attr('cx', x0 + x.bandwidth() / 2).attr('cy', (a) => y(degrees(a)))
      .append('title').text((a, i) => `layer ${layer}, angle ${i + 1}: ${formatAngle(a)}`);
  }
  svg.append('text').attr('class', 'axis-title').attr('transform', `translate(12,${m.top + ph / 2}) rotate(-90)`).attr('text-anchor', 'middle').text('principal angle');
  svg.append('text').attr('class', 'axis-title').attr('x', m.left + pw / 2).attr('y', height - 4).attr('text-anchor', 'middle').text('bar: largest angle; dots: every angle');
}

class CompareApp {
  private report: CompareTextReport | undefined;
  private choice: Choice = { quantity: 'area', layer: 0, offset: 1 };
  private readonly tokenSection = h('div', { id: 'compare-token-section' });
  private readonly notice = h('p', { class: 'notice', id: 'compare-notice', 'aria-live': 'polite' });

  constructor(private readonly root: HTMLElement) {}

  start(): void {
    host.on('report', ({ report }) => {
      this.report = report;
      const first = report.text.planes[0];
      this.choice = first ? { quantity: 'area', layer: first.layer, offset: first.offset } : { quantity: 'gate', layer: 0, offset: 1 };
      this.render();
    });
    host.on('exported', ({ path }) => {
      this.notice.textContent = `Saved ${path}`;
    });
    host.send('ready', {});
  }

  private render(): void {
    const r = this.report!;
    const c = r.text;
    clear(this.root);
    const whole = h('vscode-button', { id: 'compare-export-report', secondary: true, title: 'Save the whole report as JSON (the CLI\'s compare --text --json)' }, 'Report JSON');
    whole.addEventListener('click', () => exportJson(`compare-${stem(r.a)}-${stem(r.b)}`, r));
    const o = c.relevanceOptions;
    this.root.append(
      h('h1', {}, `${name(r.a)} ↔ ${name(r.b)}`),
      h('table', { id: 'compare-summary', class: 'data' }, h('tbody', {},
        ...([
          ['A', r.a, 'a'],
          ['B', r.b, 'b'],
          ['Text', `${c.source === 'text' ? 'typed or selected text' : c.source}: ${c.tokens.length} tokens${c.truncated ? ` (the first ${c.truncated.kept} of ${c.truncated.total})` : ''}`, 'text'],
          ['Tokenizer', c.tokenizers[0] === c.tokenizers[1] ? c.tokenizers[0] : `${c.tokenizers[0]} (A), ${c.tokenizers[1]} (B): the same vocabulary`, 'tokenizer'],
          ['Relevance', `LRP from the true next token at every position: ${o.rule} rule (${formatSetting('ε', o.epsilon)}), gate ${o.gate}`, 'relevance'],
          ['Backend / time', `${c.backend}, ${formatSeconds(c.seconds)}`, 'backend'],
        ] as [string, string, string][]).map(([k, v, key]) => h('tr', {}, h('td', {}, k), h('td', { 'data-key': key }, v))),
      )),
      ...[...r.warnings, ...c.warnings].map((w) => h('p', { class: 'warning' }, w)),
      h('div', { class: 'buttons' }, whole),
      this.notice,
    );
    this.renderWeights(r);
    this.root.append(h('h2', {}, 'The same text through both: B − A per token'), this.tokenSection);
    this.renderTokens();
    this.renderMeans(r);
  }

  private renderWeights(r: CompareTextReport): void {
    const holder = h('div', { id: 'compare-angles' });
    this.root.append(h('h2', {}, 'Weights: subspace angles per layer'),
      h('p', { class: 'note' }, 'Principal angles between the row spaces of W_red (what each layer reads of the residual stream) in A and in B: 0 where B reads the same subspace, 90° where it reads an orthogonal one. Independent of the basis training picked.'),
      holder);
    const chart = h('div', { class: 'chart-holder', id: 'compare-angles-chart' });
    holder.append(chart);
    const rows = r.layers.map(({ layer, reduce }) => {
      const [sa, sb] = [r.spectra.a[layer], r.spectra.b[layer]];
      return h('tr', {
        'data-layer': layer, 'data-max-angle': String(reduce.maxAngle), 'data-geodesic': String(reduce.geodesic),
        'data-projection': String(reduce.projection), 'data-angles': JSON.stringify(reduce.angles),
      },
      h('th', { scope: 'row' }, String(layer)),
      h('td', { class: 'num' }, formatValue(reduce.maxAngle)),
      h('td', { class: 'num' }, formatDegrees(reduce.maxAngle)),
      h('td', { class: 'num' }, formatValue(reduce.geodesic)),
      h('td', { class: 'num' }, formatValue(reduce.projection)),
      h('td', { class: 'num' }, sa && sb ? `${formatNumber(sa.reduce.effectiveRank, 3)} / ${formatNumber(sb.reduce.effectiveRank, 3)}` : '—'),
      h('td', { class: 'mono angles' }, reduce.angles.map((a) => formatNumber(a, 3)).join(' ')));
    });
    holder.append(h('table', { class: 'data', id: 'compare-angles-table' },
      h('thead', {}, h('tr', {}, ...['Layer', 'Largest angle (rad)', '(°)', 'Geodesic', 'Projection', 'Eff. rank A / B', 'Principal angles (rad)'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, ...rows)));
    holder.append(exportToolbar({
      name: `compare-angles-${stem(r.a)}-${stem(r.b)}`, svg: () => chart.querySelector('svg'),
      rows: () => r.layers.map(({ layer, reduce }) => ({ layer, max_angle: reduce.maxAngle, geodesic: reduce.geodesic, projection: reduce.projection, angles: reduce.angles.join(' ') })),
    }));
    if (r.crossLayer.length) {
      const cols = r.crossLayer[0].length;
      this.root.append(h('h3', {}, 'Geodesic distance between the W_red row spaces of every layer of A (rows) and of B (columns)'),
        h('table', { class: 'data', id: 'compare-cross' },
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'A \\ B'), ...Array.from({ length: cols }, (_, j) => h('th', { scope: 'col' }, `layer ${j}`)))),
          h('tbody', {}, ...r.crossLayer.map((row, i) => h('tr', { 'data-layer': i }, h('th', { scope: 'row' }, `layer ${i}`),
            ...row.map((v, j) => h('td', { class: i === j ? 'num diagonal' : 'num', 'data-b-layer': j, 'data-value': String(v) }, formatValue(v))))))));
    }
    requestAnimationFrame(() => drawAngles(chart, r, Math.min(widthOf(this.root), 140 + r.layers.length * 110)));
  }

  /** The chosen quantity of token t: A, B and B − A. */
  private valueOf(tok: ComparedToken): Difference | null {
    const { quantity, layer, offset } = this.choice;
    if (quantity === 'relevance') return tok.relevance;
    if (quantity === 'gate') return tok.gate.find((g) => g.layer === layer) ?? null;
    return tok.area.find((a) => a.layer === layer && a.offset === offset) ?? null;
  }

  private describeChoice(): string {
    const { quantity, layer, offset } = this.choice;
    return quantity === 'area' ? `plane area at layer ${layer}, offset ${offset}` : quantity === 'gate' ? `gate openness at layer ${layer}` : 'input relevance';
  }

  private choose(patch: Partial<Choice>): void {
    const r = this.report!;
    const next = { ...this.choice, ...patch };
    if (next.quantity === 'area') {
      const offsets = r.text.planes.filter((p) => p.layer === next.layer).map((p) => p.offset);
      if (!offsets.includes(next.offset)) next.offset = offsets[0] ?? next.offset;
    }
    this.choice = next;
    // Keep the keyboard on the picker that changed, and the page where it was.
    rebuildKeepingPlace(this.tokenSection, () => this.renderTokens());
  }

  private renderTokens(): void {
    const r = this.report!;
    const c = r.text;
    const section = this.tokenSection;
    clear(section);
    const { quantity, layer, offset } = this.choice;
    const controls = h('div', { class: 'controls' },
      select('compare-quantity', 'Quantity', (['area', 'gate', 'relevance'] as Quantity[]).filter((q) => q !== 'relevance' || c.summary.relevance).map((q) => ({ value: q, label: QUANTITY_LABELS[q] })), quantity, (v) => this.choose({ quantity: v as Quantity })));
    if (quantity !== 'relevance') {
      controls.append(select('compare-layer', 'Layer', c.layers.map((l) => ({ value: String(l), label: String(l) })), String(layer), (v) => this.choose({ layer: Number(v) })));
    }
    if (quantity === 'area') {
      const offsets = c.planes.filter((p) => p.layer === layer).map((p) => p.offset);
      controls.append(select('compare-offset', 'Offset d', offsets.map((d) => ({ value: String(d), label: String(d) })), String(offset), (v) => this.choose({ offset: Number(v) })));
    }
    section.append(controls);
    const tokens = c.tokens;
    const values = tokens.map((t) => this.valueOf(t));
    const diffs = values.map((v) => v?.diff ?? null);
    const limit = Math.max(1e-300, ...diffs.filter((d): d is number => d !== null).map(Math.abs));
    const what = this.describeChoice();
    section.append(
      h('p', { class: 'note', id: 'compare-choice', 'data-quantity': quantity, 'data-layer': quantity === 'relevance' ? undefined : layer, 'data-offset': quantity === 'area' ? offset : undefined },
        `Tokens coloured by B − A of the ${what}: `, h('span', { class: 'swatch positive' }), ' larger in B, ', h('span', { class: 'swatch negative' }), ` larger in A (full colour at |B − A| = ${formatValue(limit)}).`),
    );
    const readout = h('div', { class: 'readout', id: 'compare-readout', 'aria-live': 'polite' }, 'Point at a token, or focus one and use the arrow keys (Enter shows its row in the table).');
    const strip = h('div', { class: 'token-strip compare-tokens', id: 'compare-tokens', role: 'listbox', 'aria-label': `Tokens coloured by the difference B − A of the ${what}` });
    const describe = (i: number): string => {
      const v = values[i];
      const t = tokens[i];
      if (!v || v.diff === null) return `${tokenAt(t.text, i)}: no ${what} (no plane: t < d)`;
      return `${tokenAt(t.text, i)}: ${what} A ${formatValue(v.a!)}, B ${formatValue(v.b!)}, B − A ${formatValue(v.diff)}`;
    };
    const table = h('table', { class: 'data', id: 'compare-table', 'data-quantity': quantity });
    const tableBody = h('tbody');
    const showRow = (i: number): void => {
      tableBody.querySelectorAll('tr.selected').forEach((row) => row.classList.remove('selected'));
      const row = tableBody.children[i] as HTMLElement | undefined;
      row?.classList.add('selected');
      row?.scrollIntoView({ block: 'nearest' });
    };
    tokens.forEach((tok, i) => {
      const v = values[i];
      const d = diffs[i];
      const span = h('span', {
        class: `token cmp-token ${d === null ? 'none' : d < 0 ? 'negative' : 'positive'}`, role: 'option', tabindex: i === 0 ? 0 : -1, 'aria-selected': 'false',
        'data-position': i, 'data-a': exact(v?.a), 'data-b': exact(v?.b), 'data-diff': exact(d), title: describe(i),
        'aria-label': `token ${i}: ${tok.text}, B − A ${d === null ? 'none' : formatValue(d)}`,
      }, tok.text);
      // at most 70% of the theme's red or blue: the foreground stays readable on it
      if (d !== null) span.style.setProperty('--diff-strength', `${((Math.abs(d) / limit) * 70).toFixed(1)}%`);
      const show = (): void => {
        readout.textContent = describe(i);
        readout.setAttribute('data-position', String(i));
      };
      span.addEventListener('mouseenter', show);
      span.addEventListener('focus', () => {
        show();
        strip.querySelectorAll('[aria-selected="true"]').forEach((s) => s.setAttribute('aria-selected', 'false'));
        span.setAttribute('aria-selected', 'true');
      });
      span.addEventListener('click', () => showRow(i));
      span.addEventListener('keydown', (e) => {
        const k = e.key;
        const next = k === 'ArrowRight' ? i + 1 : k === 'ArrowLeft' ? i - 1 : k === 'Home' ? 0 : k === 'End' ? tokens.length - 1 : null;
        if (next !== null) {
          e.preventDefault();
          const target = strip.children[Math.max(0, Math.min(tokens.length - 1, next))] as HTMLElement;
          span.tabIndex = -1;
          target.tabIndex = 0;
          target.focus();
        } else if (k === 'Enter' || k === ' ') {
          e.preventDefault();
          showRow(i);
        }
      });
      strip.append(span);
      tableBody.append(h('tr', { 'data-position': i, 'data-a': exact(v?.a), 'data-b': exact(v?.b), 'data-diff': exact(d) },
        h('td', { class: 'num' }, String(i)), h('td', { class: 'mono' }, tok.text), h('td', { class: 'num' }, String(tok.id)),
        ...[v?.a, v?.b, d].map((x) => h('td', { class: 'num' }, x === null || x === undefined ? '—' : formatValue(x)))));
    });
    table.append(h('caption', {}, `${what}: A, B and B − A per token`),
      h('thead', {}, h('tr', {}, ...['Position', 'Token', 'Id', 'A', 'B', 'B − A'].map((t) => h('th', { scope: 'col' }, t)))), tableBody);
    const lines = h('div', { class: 'chart-holder', id: 'compare-series' });
    const bars = h('div', { class: 'chart-holder', id: 'compare-diff-chart' });
    const file = `compare-${quantity}${quantity === 'relevance' ? '' : `-layer${layer}`}${quantity === 'area' ? `-d${offset}` : ''}`;
    section.append(strip, readout, h('h3', {}, `A and B per token: ${what}`), lines, h('h3', {}, `B − A per token: ${what}`), bars, table,
      exportToolbar({
        name: `${file}-tokens`,
        rows: () => tokens.map((t, i) => ({ position: i, token: t.text, id: t.id, quantity, layer: quantity === 'relevance' ? '' : layer, offset: quantity === 'area' ? offset : '', a: values[i]?.a ?? null, b: values[i]?.b ?? null, diff: diffs[i] })),
      }));
    requestAnimationFrame(() => {
      const width = widthOf(this.root);
      const series = (key: 'a' | 'b') => values.map((v, i) => ({ x: i, y: v?.[key] ?? NaN }));
      drawLines(lines, `${what} per token in A and in B`, [{ name: `A ${name(r.a)}`, values: series('a') }, { name: `B ${name(r.b)}`, values: series('b') }], { width, height: 240, xTitle: 'token position', yTitle: QUANTITY_LABELS[quantity] });
      lines.append(exportToolbar({ name: `${file}-ab`, svg: () => lines.querySelector('svg'), rows: () => values.map((v, i) => ({ position: i, token: tokens[i].text, a: v?.a ?? null, b: v?.b ?? null })) }));
      drawBars(bars, `B − A of the ${what} per token`, tokens.flatMap((t, i) => (diffs[i] === null ? [] : [{ label: tokenLabel(t.text, i), value: diffs[i]! }])), { width, height: 220, xTitle: 'token', yTitle: 'B − A', signed: true });
      bars.append(exportToolbar({ name: `${file}-diff`, svg: () => bars.querySelector('svg'), rows: () => diffs.map((d, i) => ({ position: i, token: tokens[i].text, diff: d })) }));
    });
  }

  private renderMeans(r: CompareTextReport): void {
    const c = r.text;
    const offsets = [...new Set(c.planes.map((p) => p.offset))].sort((a, b) => a - b);
    this.root.append(h('h2', {}, 'Mean |B − A| per layer'),
      h('p', { class: 'note' }, 'Over the tokens that have the value (a plane at offset d needs t ≥ d).'));
    const table = h('table', { class: 'data', id: 'compare-means' },
      h('thead', {}, h('tr', {}, ...['Layer', 'Area (all offsets)', ...offsets.map((d) => `area d=${d}`), 'Gate openness'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, ...c.summary.layers.map((s) => h('tr', { 'data-layer': s.layer, 'data-area': String(s.area.meanAbsDiff), 'data-gate': String(s.gate.meanAbsDiff) },
        h('th', { scope: 'row' }, String(s.layer)),
        h('td', { class: 'num' }, formatValue(s.area.meanAbsDiff)),
        ...offsets.map((d) => {
          const o = s.areaByOffset.find((x) => x.offset === d);
          return h('td', { class: 'num', 'data-offset': d, 'data-value': exact(o?.meanAbsDiff) }, o ? formatValue(o.meanAbsDiff) : '—');
        }),
        h('td', { class: 'num' }, formatValue(s.gate.meanAbsDiff))))));
    this.root.append(table);
    if (c.summary.relevance) {
      const s = c.summary.relevance;
      this.root.append(h('p', { id: 'compare-means-relevance', 'data-value': String(s.meanAbsDiff), 'data-max': String(s.maxAbsDiff) },
        `Input relevance: mean |B − A| ${formatValue(s.meanAbsDiff)}, largest ${formatValue(s.maxAbsDiff)}.`));
    }
    this.root.append(exportToolbar({
      name: `compare-means-${stem(r.a)}-${stem(r.b)}`,
      rows: () => c.summary.layers.flatMap((s) => [
        ...s.areaByOffset.map((o) => ({ layer: s.layer, quantity: 'area', offset: o.offset, mean_abs_diff: o.meanAbsDiff, max_abs_diff: o.maxAbsDiff, count: o.count })),
        { layer: s.layer, quantity: 'gate', offset: '', mean_abs_diff: s.gate.meanAbsDiff, max_abs_diff: s.gate.maxAbsDiff, count: s.gate.count },
      ]),
    }));
  }
}

const root = document.getElementById('app');
if (root) new CompareApp(root).start();
