/**
 * Run: text in (typed, or the active editor's selection), tokens, next-token top-5 and per-token
 * loss out. Features of every layer stream in behind the run and feed the token tooltip and the
 * other views.
 */
import * as d3 from 'd3';
import { drawBars, formatValue, widthOf } from '../charts';
import { clear, h, rebuildKeepingPlace } from '../dom';
import { exportToolbar } from '../export';
import { formatProbability, tokenLabel, tokenList } from '../format';
import type { AppState, Store } from '../store';
import { chooseButton, type ChooseFile } from '../modelFiles';

export class RunView {
  readonly element = h('section', { class: 'view', id: 'run-view', 'aria-label': 'Run' });
  private readonly textarea = h('vscode-textarea', { id: 'run-text', rows: 4, placeholder: 'Text to run through the model', 'aria-label': 'Text to run through the model', resize: 'vertical' });
  private readonly results = h('div', { id: 'run-results', 'aria-live': 'polite' });

  constructor(
    private readonly store: Store,
    private readonly analyze: (text: string) => void,
    private readonly useSelection: () => void,
    private readonly chooseFile: ChooseFile,
  ) {
    const run = h('vscode-button', { id: 'run-button' }, 'Run');
    run.addEventListener('click', () => this.submit());
    const selection = h('vscode-button', { id: 'use-selection', secondary: true, title: 'Run the selection (or the current line) of the last text editor' }, 'Use editor selection');
    selection.addEventListener('click', () => this.useSelection());
    this.textarea.addEventListener('keydown', (e) => {
      if ((e as KeyboardEvent).key === 'Enter' && ((e as KeyboardEvent).ctrlKey || (e as KeyboardEvent).metaKey)) {
        e.preventDefault();
        this.submit();
      }
    });
    this.element.append(this.textarea, h('div', { class: 'buttons' }, run, selection, h('span', { class: 'hint' }, 'Ctrl+Enter runs')), this.results);
  }

  private submit(): void {
    const text = (this.textarea as unknown as { value: string }).value;
    if (text.trim()) this.analyze(text);
  }

  /** Puts text in the box (from the editor selection) and runs it. */
  setText(text: string): void {
    (this.textarea as unknown as { value: string }).value = text;
    this.submit();
  }

  update(state: AppState, previous: AppState | null): void {
    if (!previous || state.text !== previous.text) {
      const box = this.textarea as unknown as { value: string };
      if (box.value !== state.text) box.value = state.text;
    }
    if (state.analysis !== previous?.analysis) rebuildKeepingPlace(this.results, () => this.render(state));
  }

  private render(state: AppState): void {
    clear(this.results);
    const a = state.analysis;
    if (!a) {
      this.results.append(h('p', { class: 'status' }, 'Type a sentence and press Run: you get the tokens, the next-token predictions, the loss per token, and every layer\'s geometry in the other views.'));
      return;
    }
    if (a.error) {
      // A checkpoint without its tokenizer can be given one from here.
      this.results.append(h('p', { class: 'error', id: 'run-error' }, a.error, /no tokenizer found|no tokenizer\.json or vocab\.txt in this folder/.test(a.error) ? chooseButton('tokenizer', this.chooseFile, false) : null));
    }
    const run = a.run;
    if (!run) {
      if (!a.error) this.results.append(h('p', { class: 'status', 'data-pending': true }, 'Running…'));
      return;
    }
    for (const w of run.warnings) this.results.append(h('p', { class: 'warning' }, w));
    const done = a.layers.filter(Boolean).length;
    const meanLoss = run.loss.length ? d3.mean(run.loss)! : NaN;
    this.results.append(h('p', { id: 'run-summary' },
      `${run.tokens.length} tokens · mean next-token loss ${formatValue(meanLoss)} nats (perplexity ${formatValue(Math.exp(meanLoss))}) · backend ${run.backend} · `,
      a.done ? `features of ${done} layers` : `features: layer ${done} of ${run.layers}…`));
    const lossHolder = h('div', { class: 'chart-holder', id: 'loss-chart' });
    this.results.append(h('h3', {}, 'Loss of each token (predicting it from the tokens before)'), lossHolder);
    const bars = run.tokens.slice(1).map((tok, i) => ({ label: tokenLabel(tok.text, i + 1), value: run.loss[i] }));
    requestAnimationFrame(() => {
      drawBars(lossHolder, 'Next-token loss per token', bars, { width: widthOf(this.results), height: 200, xTitle: 'token', yTitle: 'loss (nats)' });
      lossHolder.append(exportToolbar({ name: 'loss', svg: () => lossHolder.querySelector('svg'), rows: () => run.tokens.map((tok, t) => ({ position: t, token: tok.text, id: tok.id, loss: t > 0 ? run.loss[t - 1] : null })) }));
    });
    const rows = run.tokens.map((tok, t) => h('tr', { 'data-t': t },
      h('td', { class: 'num' }, String(t)),
      h('td', { class: 'mono' }, tok.text),
      h('td', { class: 'num' }, String(tok.id)),
      h('td', { class: 'num' }, t > 0 ? formatValue(run.loss[t - 1]) : '—'),
      h('td', {}, tokenList(run.next[t].map((n) => ({ token: n.token, value: formatProbability(n.probability) }))))));
    this.results.append(h('h3', {}, 'Tokens and next-token predictions'), h('table', { class: 'data', id: 'run-table' },
      h('thead', {}, h('tr', {}, ...['t', 'token', 'id', 'loss', 'next (top 5)'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, ...rows)));
  }
}
