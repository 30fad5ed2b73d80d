/**
 * The checkpoint editor's webview app: layout (header, tabs, token strip), the store, and the
 * routing of host messages into it and of view needs into requests. Views only read the state
 * and call back; requests that the state makes stale are cancelled or their answers dropped.
 */
import type { GrassmannMetric } from '../src/geometry/angles';
import { isGrassmannMetric } from '../src/geometry/angles';
import type { AnalysisPiece } from '../src/core/analysis';
import { isGatePolicy, isLinearRule, VIEWS, type EditorProtocol, type ViewName } from '../src/protocol/editor';
import { RequestFailed, type SentRequest } from '../src/protocol/rpc';
import { DEFAULT_RELEVANCE_OPTIONS } from '../src/relevance/types';
import type { DriftReport } from '../src/core/drift';
import { clear, h } from './dom';
import { formatNumber } from './format';
import { connect, savedState, saveState } from './host';
import { selectionKey, Store, type AppState } from './store';
import { TokenStrip } from './tokens';
import { DriftView } from './views/drift';
import { DistanceView, GatesView, PluckerView } from './views/geometry';
import { RelevanceView } from './views/relevance';
import { OverviewView } from './views/overview';
import { RunView } from './views/run';
import { chooseButtons, type ChooseFile } from './modelFiles';

const TAB_TITLES: Record<ViewName, string> = { overview: 'Overview', run: 'Run', plucker: 'Plücker', distances: 'Distances', gates: 'Gates', relevance: 'Relevance', drift: 'Drift' };
/** Views that show the analysed text's tokens above them. */
const TEXT_VIEWS: ReadonlySet<ViewName> = new Set(['run', 'plucker', 'distances', 'gates']);

/** The parts of the state that hold one request and its answer. */
type RequestSlot = 'analysis' | 'tensor' | 'planes' | 'distances' | 'nearest' | 'drift' | 'relevance';

/** Something the user asked for is still being computed. */
function busy(s: AppState): boolean {
  const pending = (p: { data: unknown; error: string | null } | null) => p !== null && p.data === null && p.error === null;
  return (s.analysis !== null && !s.analysis.done) || pending(s.tensor) || pending(s.distances) || pending(s.drift) || pending(s.relevance);
}

interface View {
  element: HTMLElement;
  update(state: AppState, previous: AppState | null): void;
}

export class App {
  private readonly store: Store;
  private readonly views: Record<ViewName, View>;
  private readonly strip: TokenStrip;
  private readonly run: RunView;
  /** Choose Config… / Choose Tokenizer… (the host asks the user). */
  private readonly chooseFile: ChooseFile;
  private readonly header = h('header', { class: 'header' });
  private readonly tabs = h('vscode-tabs', { id: 'tabs', panel: true });
  /** A token to pin once the run of its text arrives (a text editor's "Open in checkpoint view"). */
  private pinWhenRun: { text: string; position: number } | null = null;
  private readonly stripHolder = h('div', { class: 'strip-holder' });
  private readonly host = connect<EditorProtocol>();

  constructor(private readonly root: HTMLElement) {
    const saved = savedState();
    const view = (VIEWS as readonly string[]).includes(saved.view ?? '') ? (saved.view as ViewName) : 'overview';
    this.store = new Store({
      model: null, modelError: null, notice: null, view, text: saved.text ?? '', analysis: null,
      pinned: null, hovered: null, highlighted: new Set(), layer: saved.layer ?? 0, offset: saved.offset ?? 1,
      metric: isGrassmannMetric(saved.metric ?? '') ? (saved.metric as GrassmannMetric) : 'geodesic',
      planes: null, distances: null, nearest: null, tensor: null, drift: null,
      relevanceRule: isLinearRule(saved.relevanceRule) ? saved.relevanceRule : DEFAULT_RELEVANCE_OPTIONS.rule,
      relevanceGate: isGatePolicy(saved.relevanceGate) ? saved.relevanceGate : DEFAULT_RELEVANCE_OPTIONS.gate,
      relevance: null,
    });
    const choose: ChooseFile = (kind) => this.host.send('chooseFile', { kind });
    this.chooseFile = choose;
    this.run = new RunView(this.store, (text) => this.analyze(text), () => this.host.send('useSelection', {}), choose);
    this.strip = new TokenStrip(this.store, (t) => this.requestNearest(t));
    this.views = {
      overview: new OverviewView(this.store, (name) => this.requestTensor(name), choose),
      run: this.run,
      plucker: new PluckerView(this.store),
      distances: new DistanceView(this.store),
      gates: new GatesView(this.store),
      relevance: new RelevanceView(this.store, () => this.requestRelevance(), (requestId) => this.host.cancel(requestId)),
      drift: new DriftView(() => this.requestDrift()),
    };
  }

  start(): void {
    clear(this.root);
    VIEWS.forEach((name) => {
      this.tabs.append(h('vscode-tab-header', { slot: 'header', 'data-view': name }, TAB_TITLES[name]));
      this.tabs.append(h('vscode-tab-panel', { 'data-view': name }, this.views[name].element));
    });
    this.tabs.setAttribute('selected-index', String(VIEWS.indexOf(this.store.state.view)));
    this.tabs.addEventListener('vsc-tabs-select', (e) => {
      const index = (e as CustomEvent<{ selectedIndex: number }>).detail.selectedIndex;
      this.store.update({ view: VIEWS[index] });
    });
    this.root.append(this.header, this.stripHolder, this.tabs);
    document.body.append(this.strip.tooltip);
    this.stripHolder.append(this.strip.element, this.strip.legend);
    // The token strip's height, for what sits below it when the page scrolls (styles.css: --strip-height).
    // One observer for the page's life: nothing to unobserve.
    new ResizeObserver(() => {
      const height = this.stripHolder.hidden ? 0 : this.stripHolder.getBoundingClientRect().height;
      document.documentElement.style.setProperty('--strip-height', `${Math.ceil(height)}px`);
    }).observe(this.stripHolder);
    this.store.subscribe((state, previous) => this.render(state, previous));
    this.listen();
    let resize: number | undefined;
    window.addEventListener('resize', () => {
      clearTimeout(resize);
      resize = window.setTimeout(() => this.redrawAll(), 200);
    });
    this.render(this.store.state, null);
    this.host.send('ready', {});
  }

  private redrawAll(): void {
    for (const v of Object.values(this.views)) v.update(this.store.state, null);
  }

  private render(state: AppState, previous: AppState | null): void {
    if (state.model !== previous?.model || state.modelError !== previous?.modelError || state.notice !== previous?.notice || busy(state) !== (previous ? busy(previous) : false)) this.renderHeader(state);
    this.tabs.hidden = !state.model;
    this.stripHolder.hidden = !state.model || !TEXT_VIEWS.has(state.view) || !state.analysis?.run;
    this.strip.update(state, previous);
    // Only the visible view draws (hidden charts would measure 0 px); it redraws in full when shown.
    const shown = this.views[state.view];
    shown.update(state, previous?.view === state.view ? previous : null);
    this.requestWhatTheViewsNeed(state);
    if (!previous || state.text !== previous.text || state.view !== previous.view || state.layer !== previous.layer || state.offset !== previous.offset || state.metric !== previous.metric || state.relevanceRule !== previous.relevanceRule || state.relevanceGate !== previous.relevanceGate) {
      saveState({ text: state.text, view: state.view, layer: state.layer, offset: state.offset, metric: state.metric, relevanceRule: state.relevanceRule, relevanceGate: state.relevanceGate });
    }
  }

  private renderHeader(state: AppState): void {
    clear(this.header);
    const title = this.root.dataset.title ?? '';
    if (state.modelError) {
      this.header.append(h('h1', {}, title), h('p', { id: 'error', class: 'error', role: 'alert' }, state.modelError), chooseButtons(this.chooseFile));
      return;
    }
    if (!state.model) {
      this.header.append(h('h1', {}, title), h('p', { class: 'status' }, 'Reading the checkpoint…'));
      return;
    }
    const m = state.model;
    this.header.append(
      h('div', { class: 'title-row' }, h('h1', {}, m.name), busy(state) ? h('vscode-progress-ring', { class: 'busy', 'aria-label': 'Working' }) : null),
      h('div', { class: 'path' }, m.report.path, ` · backend ${m.backend}`),
    );
    if (state.notice) this.header.append(h('p', { class: 'notice', id: 'notice', role: 'status' }, state.notice));
  }

  // ---------------------------------------------------------------------------------------------
  // requests
  // ---------------------------------------------------------------------------------------------

  private analyze(text: string): void {
    // A relevance report of the previous text (or of weights since re-read) no longer applies.
    const relevance = this.store.state.relevance;
    if (relevance && relevance.data === null && relevance.error === null) this.host.cancel(relevance.requestId);
    const request = this.host.request('analyze', { text }, { partial: (piece) => this.onPiece(request.id, piece) });
    this.store.update({
      text, analysis: { requestId: request.id, text, run: null, layers: [], done: false, error: null },
      pinned: null, hovered: null, highlighted: new Set(), planes: null, distances: null, nearest: null, relevance: null,
    });
    request.answer.then(() => this.answer('analysis', request.id, { done: true }), (e) => this.failed(request.id, e));
  }

  /** Relevance of the Run tab's text under the view's rules (a newer request replaces the running one in the host). */
  private requestRelevance(): void {
    const s = this.store.state;
    if (!s.text) return;
    const request = this.host.request('relevance', { text: s.text, rule: s.relevanceRule, gate: s.relevanceGate });
    this.store.update({ relevance: { requestId: request.id, text: s.text, rule: s.relevanceRule, gate: s.relevanceGate, data: null, error: null } });
    request.answer.then((report) => this.answer('relevance', request.id, { data: report }), (e) => this.failed(request.id, e));
  }

  private requestTensor(name: string): void {
    const request = this.host.request('tensor', { name });
    this.store.update({ tensor: { requestId: request.id, name, data: null, error: null } });
    request.answer.then((summary) => this.answer('tensor', request.id, { data: summary }), (e) => this.failed(request.id, e));
  }

  private requestDrift(): void {
    const request: SentRequest<DriftReport> = this.host.request('drift', {}, {
      progress: (p) => this.answer('drift', request.id, { progress: `${p.done} of ${p.total}${p.message ? `: ${p.message}` : ''}` }),
    });
    this.store.update({ drift: { requestId: request.id, data: null, error: null, progress: null } });
    request.answer.then((report) => this.answer('drift', request.id, { data: report }), (e) => this.failed(request.id, e));
  }

  private requestNearest(position: number): void {
    const s = this.store.state;
    const text = s.analysis?.run ? s.analysis.text : null;
    if (text === null) return;
    // Not for an offset the selected layer does not have (a pruned model's blocks have their own lists).
    const features = s.analysis?.layers[s.layer];
    if (features && !features.offsets.some((o) => o.offset === s.offset)) return;
    const key = `${selectionKey(text, s.layer, s.offset, s.metric)}#${position}`;
    if (s.nearest?.key === key) return;
    // Deferred: called while the tooltip renders.
    queueMicrotask(() => {
      const request = this.host.request('nearest', { text, layer: s.layer, offset: s.offset, position, k: 5, metric: s.metric });
      this.store.update({ nearest: { key, requestId: request.id, data: null, error: null } });
      request.answer.then((neighbours) => this.answer('nearest', request.id, { data: neighbours }), (e) => this.failed(request.id, e));
    });
  }

  /** Planes and distances of the current (text, layer, offset), when a view shows them. */
  private requestWhatTheViewsNeed(state: AppState): void {
    const a = state.analysis;
    if (!a?.run || !a.layers.some(Boolean)) return;
    // Keep layer and offset inside what this text has (the offsets of the selected layer: each
    // block has its own window list in a pruned model).
    if (state.layer >= a.run.layers) {
      queueMicrotask(() => this.store.update({ layer: a.run!.layers - 1 }));
      return;
    }
    const features = a.layers[state.layer];
    if (!features) return; // that layer's features are still on their way
    const offsets = features.offsets.map((o) => o.offset);
    if (offsets.length === 0) return; // no planes in this layer for this text: the views say so
    if (!offsets.includes(state.offset)) {
      queueMicrotask(() => this.store.update({ offset: offsets[0] }));
      return;
    }
    const key = selectionKey(a.text, state.layer, state.offset);
    const wantsPlanes = state.view === 'plucker' || state.hovered !== null || state.pinned !== null;
    if (wantsPlanes && state.planes?.key !== key) {
      queueMicrotask(() => {
        const request = this.host.request('planes', { text: a.text, layer: state.layer, offset: state.offset });
        this.store.update({ planes: { key, requestId: request.id, data: null, error: null } });
        request.answer.then((planes) => this.answer('planes', request.id, { data: planes }), (e) => this.failed(request.id, e));
      });
    }
    if (state.view === 'distances' && state.distances?.key !== key) {
      queueMicrotask(() => {
        // geodesic: every metric is drawn from the principal angles that come with it
        const request = this.host.request('distances', { text: a.text, layer: state.layer, offset: state.offset, metric: 'geodesic' });
        this.store.update({ distances: { key, requestId: request.id, data: null, error: null } });
        request.answer.then((distances) => this.answer('distances', request.id, { data: distances }), (e) => this.failed(request.id, e));
      });
    }
  }

  // ---------------------------------------------------------------------------------------------
  // host messages
  // ---------------------------------------------------------------------------------------------

  private listen(): void {
    const host = this.host;
    host.on('model', ({ model }) => {
      const s = this.store.state;
      this.store.update({ model, modelError: null, tensor: null, drift: null, relevance: null });
      // The last text runs again: after the view was rebuilt, or on the re-read weights.
      if (s.text) this.analyze(s.text);
    });
    host.on('modelError', ({ message }) => this.store.update({ model: null, modelError: message }));
    host.on('runCheckpoint', (m) => {
      const s = this.store.state;
      if (!s.model) return;
      const name = m.added.slice(m.added.lastIndexOf('/') + 1);
      const saved = ['epoch', 'val_loss', 'val_ppl'].filter((k) => typeof m.metadata[k] === 'number' || typeof m.metadata[k] === 'string').map((k) => `${k} ${typeof m.metadata[k] === 'number' ? formatNumber(m.metadata[k] as number) : m.metadata[k]}`).join(', ');
      this.store.update({ model: { ...s.model, siblings: m.siblings, watching: true }, notice: `${m.rewritten ? 'Rewritten' : 'New'} checkpoint in the watched run: ${name}${saved ? ` (${saved})` : ''}.` });
      // The drift view follows the run: read it again with the new checkpoint (weights only).
      if (m.siblings.length >= 2) this.requestDrift();
    });
    host.on('notice', ({ message }) => this.store.update({ notice: message }));
    host.on('selection', ({ text, source }) => {
      this.store.update({ notice: `Running the selection from ${source}.` });
      this.run.setText(text);
    });
    host.on('pinToken', (m) => {
      // Run the text on the Run tab; the token is pinned when its run arrives.
      this.tabs.setAttribute('selected-index', String(VIEWS.indexOf('run')));
      this.store.update({ view: 'run', notice: `Token ${m.position} of a window of ${m.source}.` });
      this.run.setText(m.text);
      this.pinWhenRun = { text: m.text, position: m.position };
    });
    host.on('exported', ({ path }) => this.store.update({ notice: `Saved ${path}` }));
  }

  /** A piece of the analysis of request `requestId`: the run first, then each layer's features. */
  private onPiece(requestId: number, piece: AnalysisPiece): void {
    if (piece.kind === 'run') {
      const pin = this.pinWhenRun;
      if (this.answer('analysis', requestId, { run: piece.run }) && pin && pin.text === this.store.state.analysis?.text) {
        if (pin.position < piece.run.tokens.length) this.store.update({ pinned: pin.position });
        this.pinWhenRun = null;
      }
      return;
    }
    const s = this.store.state;
    if (s.analysis?.requestId === requestId) {
      const layers = s.analysis.layers.slice();
      layers[piece.layer.layer] = piece.layer;
      this.store.update({ analysis: { ...s.analysis, layers } });
    }
  }

  private failed(requestId: number, e: unknown): void {
    this.onError(requestId, e instanceof RequestFailed && e.cancelled ? 'Cancelled.' : e instanceof Error ? e.message : String(e));
  }

  /** Merges `patch` into the request slot `key` if it still waits for `requestId` (else the answer is stale). */
  private answer<K extends RequestSlot>(key: K, requestId: number, patch: Partial<NonNullable<AppState[K]>>): boolean {
    const slot = this.store.state[key];
    if (slot?.requestId !== requestId) return false;
    this.store.update({ [key]: { ...slot, ...patch } } as Partial<AppState>);
    return true;
  }

  private onError(requestId: number, message: string): void {
    if (this.answer('analysis', requestId, { error: message, done: true })) return;
    for (const key of ['tensor', 'planes', 'distances', 'nearest', 'drift', 'relevance'] as const) {
      if (this.answer(key, requestId, { error: message })) return;
    }
  }
}
