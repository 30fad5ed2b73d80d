/**
 * `textAnalysis`: any text (a document in a text editor, or its selection) through a model, for
 * hovers and colours on the text itself. The text is cut into windows the position table holds
 * (./textWindows.ts); each window is encoded and run on its own and gives, per token: its span in
 * the text, next-token loss, plane area per layer and offset, gate openness per layer, LRP input
 * relevance, and its nearest planes at one (layer, offset). Every number is the one the CLI's
 * `features` / `relevance` / `distances` print for `--text <the window's text>`: the same functions
 * on the same token ids.
 *
 * The worker keeps the last windows it computed per opened model, so an edit re-runs only the
 * windows whose text changed.
 */
import * as tf from '@tensorflow/tfjs-core';
import { isGrassmannMetric, type GrassmannMetric } from '../geometry/angles';
import { nearestPlanes, tokenPlanes, type Neighbour } from '../geometry/planes';
import { planOffsets } from '../model/offsets';
import { createBlockOps } from '../model/blockOps';
import type { GrassmannModel, TapValue } from '../model/grassmann';
import { hostKernelsAvailable } from '../model/hostKernels';
import { recordForward, recordForwardStepwise, relevanceOfAsync, type Recording } from '../relevance/lrp';
import { DEFAULT_RELEVANCE_OPTIONS, type RelevanceAccounting } from '../relevance/types';
import { InputError, UsageError } from '../util/errors';
import type { AnalysisCache, ModelRef } from './analysis';
import { pauseFor, throwIfCancelled, type Cancellation } from './cancellation';
import { layerFeatures, offsetsFor } from './features';
import { tokensForModel } from './input';
import type { ModelSession } from './session';
import { splitTextIntoWindows, type TextWindow } from './textWindows';

export interface TextAnalysisParams extends ModelRef {
  text: string;
  /** The layer and window offset of the nearest planes (default: layer 0, its smallest offset). */
  layer?: number;
  offset?: number;
  /** Distance of the nearest planes (default geodesic). */
  metric?: GrassmannMetric;
  /** How many nearest planes per token (default 3). */
  neighbours?: number;
  /** Analyse at most this many windows, the first ones (default: all); the rest are reported, not run. */
  maxWindows?: number;
}

export interface WindowToken {
  text: string;
  id: number;
  /** [start, end) in the analysed text (not the window), UTF-16 code units; empty for special tokens. */
  start: number;
  end: number;
  special: boolean;
}

export interface WindowLayer {
  layer: number;
  /** Gate openness per position: mean of alpha over the model dimensions. */
  alphaMean: number[];
  /** The offsets of this block valid in the window; each array is indexed like `positions`. */
  offsets: { offset: number; positions: number[]; area: number[]; degenerate: boolean[]; share: (number | null)[] }[];
}

export interface WindowNearest {
  layer: number;
  offset: number;
  metric: GrassmannMetric;
  /** Per position: the nearest planes of the window (positions in the window), or null where the token has no plane (t < offset). */
  neighbours: (Neighbour[] | null)[];
}

export interface TextWindowAnalysis extends TextWindow {
  /** 0-based index of the window, and how many windows the text has. */
  index: number;
  count: number;
  /** The window's encoding, special tokens included (position t = index in this list). */
  tokens: WindowToken[];
  /** Next-token loss (nats) at positions 0..T-2: loss[t] = -log p(token t+1 | tokens <= t). */
  loss: number[];
  layers: WindowLayer[];
  /** LRP from the true next token at every position (epsilon rule, the CLI's defaults); null for a one-token window. */
  relevance: { tokens: number[]; positionEmbedding: number[]; accounting: RelevanceAccounting } | null;
  nearest: WindowNearest | null;
  /** Time spent on the window in this request, and whether its results came from the cache (the same text before). */
  ms: number;
  cached: boolean;
}

export interface TextAnalysis {
  checkpoint: string;
  tokenizer: string;
  backend: string;
  maxPositions: number;
  /** Tokens of the text per window (the position table less the special tokens of an encoding). */
  capacity: number;
  layers: number;
  /** The nearest planes asked for, as resolved; `nearestProblem` says why there are none. */
  nearest: { layer: number; offset: number; metric: GrassmannMetric; neighbours: number };
  nearestProblem: string | null;
  windows: TextWindowAnalysis[];
  /** Windows the text has (more than `windows.length` when `maxWindows` cut it short). */
  windowCount: number;
  warnings: string[];
  ms: number;
}

/** What `textAnalysis` streams before its result: each window as soon as it is done. */
export interface TextAnalysisPiece {
  kind: 'window';
  window: TextWindowAnalysis;
  nearestProblem: string | null;
}

/** A window's results with spans relative to the window's own text (what the cache keeps). */
type LocalWindow = Omit<TextWindowAnalysis, keyof TextWindow | 'index' | 'count' | 'ms' | 'cached'>;

const WINDOWS_KEPT = 64;

export class TextAnalyses {
  /** Per opened model (the AnalysisCache's session: a re-read file is a new session), window text -> results. */
  private readonly windows = new WeakMap<ModelSession, Map<string, LocalWindow>>();

  constructor(private readonly analyses: AnalysisCache) {}

  async analyze(p: TextAnalysisParams, control?: Cancellation): Promise<TextAnalysis> {
    const started = performance.now();
    if (p.metric !== undefined && !isGrassmannMetric(p.metric)) throw new UsageError(`unknown metric '${p.metric}'`);
    return this.analyses.use(p, (session) => this.analyzeInSession(session, p, started, control));
  }

  private async analyzeInSession(session: ModelSession, p: TextAnalysisParams, started: number, control?: Cancellation): Promise<TextAnalysis> {
    const spec = session.spec;
    const model = await session.loadModel();
    const plan = planTextWindows(session, p.text);
    const nearest = resolveNearest(session, p);
    const warnings = [...session.notices, ...model.warnings];
    if (plan.windows.length > 1) {
      warnings.push(`the text has ${plan.tokenCount} tokens and the model ${spec.dims.maxPositions} positions: it is analysed in ${plan.windows.length} windows of up to ${plan.capacity} tokens, each on its own`);
    }
    const limit = p.maxWindows === undefined ? plan.windows.length : Math.max(1, Math.floor(p.maxWindows));
    const run = plan.windows.slice(0, limit);
    if (run.length < plan.windows.length) {
      const last = run[run.length - 1];
      warnings.push(`only the first ${run.length} of the ${plan.windows.length} windows are analysed (up to character ${last.end} of ${p.text.length}): the limit is ${limit} windows; select a part of the text to analyse another`);
    }
    let cache = this.windows.get(session);
    if (!cache) this.windows.set(session, (cache = new Map()));
    const out: TextWindowAnalysis[] = [];
    for (const [index, window] of run.entries()) {
      throwIfCancelled(control);
      const text = p.text.slice(window.start, window.end);
      const key = JSON.stringify([nearest.request, text]);
      let local = cache.get(key);
      const cached = local !== undefined;
      const windowStarted = performance.now();
      if (local) {
        cache.delete(key); // most recently used last
      } else {
        local = await analyzeWindow(session, text, nearest.request, control);
      }
      cache.set(key, local);
      while (cache.size > WINDOWS_KEPT) cache.delete(cache.keys().next().value as string);
      const result: TextWindowAnalysis = {
        ...window,
        index,
        count: plan.windows.length,
        ...local,
        tokens: local.tokens.map((t) => ({ ...t, start: t.start + window.start, end: t.end + window.start })),
        ms: performance.now() - windowStarted,
        cached,
      };
      out.push(result);
      const piece: TextAnalysisPiece = { kind: 'window', window: result, nearestProblem: nearest.problem };
      control?.partial?.(piece);
      control?.progress({ done: index + 1, total: run.length, message: `window ${index + 1} of ${run.length}` });
      // Lets a cancel message reach the worker between windows.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return {
      checkpoint: session.checkpoint.path,
      tokenizer: session.tokenizer.path,
      backend: tf.getBackend(),
      maxPositions: spec.dims.maxPositions,
      capacity: plan.capacity,
      layers: spec.dims.layers,
      nearest: nearest.request,
      nearestProblem: nearest.problem,
      windows: out,
      windowCount: plan.windows.length,
      warnings,
      ms: performance.now() - started,
    };
  }
}

/**
 * The windows of `text` for the session's model: cut from its tokens without special tokens, then
 * each window's own encoding checked against the position table (a cut could in principle change
 * the tokens beside it; such a window is cut again, smaller).
 */
export function planTextWindows(session: ModelSession, text: string): { windows: TextWindow[]; capacity: number; tokenCount: number } {
  const { tokenizer } = session.tokenizer;
  const Tmax = session.spec.dims.maxPositions;
  const specials = tokenizer.encode('').length;
  const capacity = Tmax - specials;
  if (capacity < 1) throw new InputError(session.checkpoint.path, `the model has ${Tmax} positions and its tokenizer adds ${specials} special tokens: no room for text`);
  const tokens = tokenizer.encode(text, { addSpecialTokens: false });
  const pending = splitTextIntoWindows(text, tokens, capacity);
  const windows: TextWindow[] = [];
  while (pending.length) {
    const w = pending.shift()!;
    const count = tokenizer.encode(text.slice(w.start, w.end)).length;
    if (count <= Tmax || w.tokenCount <= 1) {
      windows.push(w);
      continue;
    }
    const inside = tokens.slice(w.firstToken, w.firstToken + w.tokenCount);
    const smaller = splitTextIntoWindows(text.slice(0, w.end), inside, Math.max(1, w.tokenCount - (count - Tmax)))
      .map((s, k) => ({ ...s, start: k === 0 ? w.start : s.start, firstToken: w.firstToken + s.firstToken }));
    pending.unshift(...smaller);
  }
  return { windows, capacity, tokenCount: tokens.filter((t) => !t.special).length };
}

function resolveNearest(session: ModelSession, p: TextAnalysisParams): { request: TextAnalysis['nearest']; problem: string | null } {
  const spec = session.spec;
  const layer = p.layer ?? 0;
  const metric = p.metric ?? 'geodesic';
  const neighbours = Math.max(1, Math.floor(p.neighbours ?? 3));
  if (!Number.isInteger(layer) || layer < 0 || layer >= spec.dims.layers) {
    return { request: { layer, offset: p.offset ?? 1, metric, neighbours }, problem: `layer ${layer} does not exist: the model has ${spec.dims.layers} layers (0..${spec.dims.layers - 1})` };
  }
  const windowSizes = spec.layerShapes[layer].windowSizes;
  const offset = p.offset ?? windowSizes.reduce((m, w) => Math.min(m, w), Infinity);
  if (!windowSizes.includes(offset)) {
    const list = windowSizes.length ? `[${windowSizes.join(', ')}]` : 'empty';
    return { request: { layer, offset, metric, neighbours }, problem: `offset ${offset} is not in layer ${layer}'s window list (${list})` };
  }
  return { request: { layer, offset, metric, neighbours }, problem: null };
}

/** The stages of every block that the window's features read (taps of the same names). */
const WINDOW_STAGES = ['z', 'mix_in', 'g', 'alpha'] as const;

/**
 * The taps of `features` (layers.l.z, .mix_in, .g, .alpha) and the next-token loss ('nll') from a
 * recorded forward pass (../relevance/lrp.ts recordForward): the same tensors forward() taps,
 * and the loss by the same head (final LayerNorm, lm_head, next-token NLL of ../model/blockOps.ts).
 */
export async function tapsOfRecording(model: GrassmannModel, record: Recording, ids: readonly number[]): Promise<Map<string, TapValue>> {
  const taps = new Map<string, TapValue>();
  // Read asynchronously (every backend, webgpu included), in one batch.
  const stages = record.blocks.flatMap((s, l) => WINDOW_STAGES.map((name) => ({ name: `layers.${l}.${name}`, t: s[name] })));
  const values = await Promise.all(stages.map(({ t }) => t.data()));
  stages.forEach(({ name, t }, k) => taps.set(name, { shape: t.shape.slice(), data: values[k] as Float32Array }));
  const ops = createBlockOps(model.spec, hostKernelsAvailable(tf.getBackend()) ? 'host' : 'composite');
  const w = model.internals();
  const nll = tf.tidy(() => {
    const hidden = record.blocks[record.blocks.length - 1].block_out;
    const logits = tf.matMul(ops.layerNorm(hidden, w.finalNormWeight, w.finalNormBias, model.spec.layerNormEps), w.lmHeadT) as tf.Tensor2D;
    return ops.nextTokenNll(logits, [ids]);
  });
  try {
    taps.set('nll', { shape: nll.shape.slice(), data: (await nll.data()) as Float32Array });
  } finally {
    nll.dispose();
  }
  return taps;
}

/**
 * One window's text through the model: the computations of `features`, `relevance` and `nearest`,
 * on one forward pass (LRP's recording gives the taps), cancelled between blocks.
 */
async function analyzeWindow(session: ModelSession, text: string, nearest: TextAnalysis['nearest'], control?: Cancellation): Promise<LocalWindow> {
  const spec = session.spec;
  const model = await session.loadModel();
  const { tokens, ids } = tokensForModel(session, text);
  const T = ids.length;
  const L = spec.dims.layers;
  const pause = pauseFor(control);
  let taps: Map<string, TapValue>;
  let relevance: LocalWindow['relevance'] = null;
  if (T >= 2) {
    const recording = pause ? await recordForwardStepwise(model, ids, pause) : recordForward(model, ids);
    try {
      taps = await tapsOfRecording(model, recording, ids);
      const r = await relevanceOfAsync(model, ids, { kind: 'next-token' }, DEFAULT_RELEVANCE_OPTIONS, { recording, pause });
      relevance = { tokens: r.tokens, positionEmbedding: r.positionEmbedding, accounting: r.accounting };
    } finally {
      recording.dispose();
    }
  } else {
    // One token: nothing to explain, the taps from a plain forward pass.
    const tapNames = ['nll', ...Array.from({ length: L }, (_, l) => WINDOW_STAGES.map((n) => `layers.${l}.${n}`)).flat()];
    taps = (await model.forward(ids, { taps: tapNames, pause })).taps;
  }
  const offsets = offsetsFor(session, T);
  const layers: WindowLayer[] = [];
  for (let l = 0; l < L; l++) {
    const f = await layerFeatures(model, taps, T, l, offsets, { alphaPerDimension: false, coordinates: false, residuals: false });
    layers.push({
      layer: l,
      alphaMean: f.alphaMean,
      offsets: f.offsets.map(({ offset, positions, area, degenerate, share }) => ({ offset, positions, area, degenerate, share })),
    });
  }
  let nearestResult: WindowNearest | null = null;
  const layerPlan = nearest.layer >= 0 && nearest.layer < L ? planOffsets(spec.layerShapes[nearest.layer].windowSizes, T, spec.variant.pairing) : undefined;
  if (layerPlan?.offsets.includes(nearest.offset)) {
    const planes = tokenPlanes(taps.get(`layers.${nearest.layer}.z`)!.data, T, spec.layerShapes[nearest.layer].reducedDim, nearest.offset, spec.variant.pairing);
    const has = new Set(planes.positions);
    nearestResult = {
      layer: nearest.layer,
      offset: nearest.offset,
      metric: nearest.metric,
      neighbours: Array.from({ length: T }, (_, t) => (has.has(t) ? nearestPlanes(planes, t, nearest.neighbours, nearest.metric) : null)),
    };
  }
  return {
    tokens: tokens.map(({ text: t, id, start, end, special }) => ({ text: t, id, start, end, special })),
    loss: Array.from(taps.get('nll')!.data),
    layers,
    relevance,
    nearest: nearestResult,
  };
}
