/**
 * The checkpoint editor's analyses, served by the compute worker. One cache keeps the opened
 * models and the last texts run through each, so that hovering a token, switching a view or a
 * picker never re-reads a checkpoint or re-runs a forward pass; `forget` drops a file's entries
 * when it changes on disk.
 *
 * Results hold typed arrays where they are large (Plücker coordinates, distance matrices): they
 * cross to the worker's caller and on to the webview as binary, not as JSON.
 */
import * as tf from '@tensorflow/tfjs-core';
import { readFloat32 } from '../checkpoint/tensorData';
import type { GrassmannMetric } from '../geometry/angles';
import { pluckerResidual } from '../geometry/features';
import { symmetricEigenvalues, matrix } from '../geometry/linalg';
import { nearestPlanes, planeDistanceMatrix, tokenPlanes, type Neighbour } from '../geometry/planes';
import { pairCount, planesAtOffset } from '../model/plucker';
import type { TapValue } from '../model/grassmann';
import { layerOffsetPlans, planeLayoutOf } from '../model/offsets';
import { InputError } from '../util/errors';
import { OperationCancelled, pauseFor, throwIfCancelled, type Cancellation } from './cancellation';
import { checkLayer, layerFeatures, offsetsFor, type LayerFeatures, type TokenInfo } from './features';
import { inspectSession, type InspectReport } from './inspect';
import { tokensForModel } from './input';
import { nextTokens, type NextToken } from './run';
import { ModelSession, type SessionOptions, type SessionProvider } from './session';

export interface ModelRef {
  path: string;
  config?: string;
  /** An architecture description file (--arch); otherwise one found beside the checkpoint, or the built-ins. */
  arch?: string;
  tokenizer?: string;
}

export interface TextRef extends ModelRef {
  text: string;
}

/** What one text through the model gives the Run view (features stream separately, layer by layer). */
export interface TextRun {
  tokens: TokenInfo[];
  ids: number[];
  /** Top-5 next tokens at each position. */
  next: NextToken[][];
  /** Next-token loss at positions 0..T-2 (nats). */
  loss: number[];
  truncated: { total: number; kept: number } | null;
  warnings: string[];
  backend: string;
  layers: number;
  windowSizes: number[];
  windowSource: 'config' | 'assumed';
}

export interface TensorSummary {
  name: string;
  dtype: string;
  shape: number[];
  count: number;
  min: number;
  max: number;
  mean: number;
  std: number;
  nan: number;
  infinite: number;
  zeros: number;
  /** Equal-width bins over [min, max] of the finite values: edges (bins + 1) and counts. */
  histogram: { edges: number[]; counts: number[] };
  /** Singular values, descending (2-D tensors with min(m, n) <= 1024); null otherwise. */
  spectrum: number[] | null;
  spectrumNote: string;
}

export interface PlaneSet {
  layer: number;
  offset: number;
  /** Position t of each plane. */
  positions: number[];
  reducedDim: number;
  pairCount: number;
  /** [positions, P] normalised Plücker coordinates (pairs row-major). */
  coordinates: Float32Array;
  /** Plane areas ||p||. */
  norms: Float32Array;
  /** Plücker-relation residual per plane. */
  residual: Float64Array;
  degenerate: boolean[];
}

export interface PlaneDistances {
  layer: number;
  offset: number;
  metric: GrassmannMetric;
  positions: number[];
  /** [N, N] row-major; NaN for degenerate planes. */
  matrix: Float64Array;
  /** [N, N, 2] principal angles. */
  angles: Float64Array;
  degenerate: number[];
}

/** What `analyze` streams ahead of its result (Cancellation.partial). */
export type AnalysisPiece = { kind: 'run'; run: TextRun } | { kind: 'layer'; layer: LayerFeatures };

interface CachedRun {
  run: TextRun;
  taps: Map<string, TapValue>;
  features: Map<number, LayerFeatures>;
}

/** The editor's model, and a Compare's two beside it. */
const SESSIONS_KEPT = 3;
const RUNS_KEPT = 4;
const HISTOGRAM_BINS = 60;
const SPECTRUM_MAX_SIDE = 1024;

/** Statistics, histogram and spectrum of one tensor's values. */
export async function summariseTensor(name: string, dtype: string, shape: number[], values: Float32Array): Promise<TensorSummary> {
  let min = Infinity, max = -Infinity, sum = 0, squares = 0, nan = 0, infinite = 0, zeros = 0, finite = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v !== v) nan++;
    else if (v === Infinity || v === -Infinity) infinite++;
    else {
      finite++;
      if (v < min) min = v;
      if (v > max) max = v;
      sum += v;
      squares += v * v;
      if (v === 0) zeros++;
    }
  }
  const mean = finite ? sum / finite : NaN;
  const std = finite ? Math.sqrt(Math.max(0, squares / finite - mean * mean)) : NaN;
  const bins = finite ? HISTOGRAM_BINS : 0;
  const width = max > min ? (max - min) / bins : 1;
  const counts = new Array<number>(bins).fill(0);
  for (let i = 0; i < values.length && bins; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    counts[Math.min(bins - 1, Math.floor((v - min) / width))]++;
  }
  const edges = Array.from({ length: bins + 1 }, (_, k) => min + k * width);
  let spectrum: number[] | null = null;
  let spectrumNote: string;
  if (shape.length !== 2) spectrumNote = `no spectrum: the tensor has ${shape.length} dimension${shape.length === 1 ? '' : 's'}`;
  else if (Math.min(...shape) > SPECTRUM_MAX_SIDE) spectrumNote = `no spectrum: both sides exceed ${SPECTRUM_MAX_SIDE}`;
  else if (nan || infinite) spectrumNote = 'no spectrum: the tensor has non-finite values';
  else {
    spectrum = await singularValuesOnBackend(values, shape[0], shape[1]);
    spectrumNote = 'singular values from the eigenvalues of the smaller Gram matrix (formed in float32 on the compute backend, eigenvalues in float64): values below ~3e-4 of the largest are not resolved';
  }
  return { name, dtype, shape, count: values.length, min, max, mean, std, nan, infinite, zeros, histogram: { edges, counts }, spectrum, spectrumNote };
}

/** sigma of W [m, n]: the Gram matrix of the smaller side by the backend's matrix product, its eigenvalues in float64. */
async function singularValuesOnBackend(values: Float32Array, m: number, n: number): Promise<number[]> {
  const k = Math.min(m, n);
  // G = A A^T with A [k, max(m, n)] = W (m <= n) or W^T (m > n); A^T is formed on the host so
  // the backend multiplies without transposing (the wasm backend's transposed product is slow).
  let a = values;
  if (m > n) {
    a = new Float32Array(values.length);
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) a[j * m + i] = values[i * n + j];
  }
  const long = Math.max(m, n);
  const at = new Float32Array(values.length);
  for (let i = 0; i < k; i++) for (let j = 0; j < long; j++) at[j * k + i] = a[i * long + j];
  const gram = tf.tidy(() => tf.matMul(tf.tensor2d(a, [k, long]), tf.tensor2d(at, [long, k])));
  const g = (await gram.data()) as Float32Array;
  gram.dispose();
  const eigen = symmetricEigenvalues(matrix(k, k, g));
  return Array.from(eigen, (v) => Math.sqrt(Math.max(0, v))).reverse();
}

/** An opened model in the cache, and the requests using it (it is closed once dropped and unused). */
interface HeldSession {
  session: Promise<ModelSession>;
  users: number;
  dropped: boolean;
}

export class AnalysisCache {
  private readonly sessions = new Map<string, HeldSession>();
  private readonly runs = new Map<string, Promise<CachedRun>>();

  private sessionKey(ref: ModelRef): string {
    return JSON.stringify([ref.path, ref.config ?? '', ref.tokenizer ?? '', ref.arch ?? '']);
  }

  /** The cache entry of `ref`, opened if need be (most recently used last; the oldest beyond SESSIONS_KEPT dropped). */
  private held(ref: ModelRef): HeldSession {
    const key = this.sessionKey(ref);
    let held = this.sessions.get(key);
    if (held) {
      this.sessions.delete(key);
      this.sessions.set(key, held);
      return held;
    }
    const options: SessionOptions = { config: ref.config, arch: ref.arch, tokenizer: ref.tokenizer };
    const opened: HeldSession = { session: ModelSession.open(ref.path, options), users: 0, dropped: false };
    opened.session.catch(() => {
      if (this.sessions.get(key) === opened) this.sessions.delete(key);
    });
    this.sessions.set(key, opened);
    while (this.sessions.size > SESSIONS_KEPT) {
      const [oldest, old] = this.sessions.entries().next().value as [string, HeldSession];
      void this.drop(oldest, old);
    }
    held = opened;
    return held;
  }

  /** Forgets an entry; it is closed now, or when the last request using it is done. */
  private async drop(key: string, held: HeldSession): Promise<void> {
    if (this.sessions.get(key) === held) this.sessions.delete(key);
    this.dropRuns(key);
    held.dropped = true;
    if (held.users === 0) await held.session.then((s) => s.close(), () => undefined);
  }

  /**
   * Runs `fn` with the opened model for `ref`, kept for the next request. While `fn` runs the
   * model stays open even if the file changes (forget) or newer models push it out: it is
   * closed when `fn` is done.
   */
  async use<T>(ref: ModelRef, fn: (session: ModelSession) => Promise<T>): Promise<T> {
    const held = this.held(ref);
    held.users++;
    try {
      return await fn(await held.session);
    } finally {
      held.users--;
      if (held.dropped && held.users === 0) await held.session.then((s) => s.close(), () => undefined);
    }
  }

  /** The opened model for `ref`, kept for the next request (not held: `use` holds it across awaits). */
  session(ref: ModelRef): Promise<ModelSession> {
    return this.held(ref).session;
  }

  /** The cache as a SessionProvider (./session.ts), for the operations that take one. */
  readonly provider: SessionProvider = (path, options, fn) => this.use({ path, config: options.config, arch: options.arch, tokenizer: options.tokenizer }, fn);

  /** Whether `ref`'s model is open with its weights loaded (the next request reads no weights). */
  async loaded(ref: ModelRef): Promise<boolean> {
    const held = this.sessions.get(this.sessionKey(ref));
    return held ? held.session.then((s) => s.modelLoaded, () => false) : false;
  }

  private dropRuns(sessionKey: string): void {
    for (const key of [...this.runs.keys()]) if (key.startsWith(sessionKey)) this.runs.delete(key);
  }

  /** Closes and forgets everything opened from `path` (it changed on disk); one in use closes after its last request. */
  async forget(path: string): Promise<void> {
    for (const [key, held] of [...this.sessions]) {
      if (JSON.parse(key)[0] !== path) continue;
      await this.drop(key, held);
    }
  }

  async inspect(ref: ModelRef): Promise<InspectReport> {
    return this.use(ref, async (session) => inspectSession(session));
  }

  async tensor(ref: ModelRef & { name: string }, control?: Cancellation): Promise<TensorSummary> {
    return this.use(ref, async (session) => {
      const info = session.checkpoint.tensors.get(ref.name);
      if (!info) throw new InputError(session.checkpoint.path, `has no tensor ${ref.name}`);
      const values = await readFloat32(info);
      await pauseFor(control)?.();
      return summariseTensor(info.name, info.dtype, info.shape, values);
    });
  }

  /**
   * One forward pass of `text` (cached): tokens, next tokens, loss, and the taps the views need.
   * The pass belongs to every request that waits on it: if the request that started it is
   * cancelled, a waiting request that is not starts it again.
   */
  private async textRun(session: ModelSession, ref: TextRef, control?: Cancellation): Promise<CachedRun> {
    const key = this.sessionKey(ref) + '\0' + ref.text;
    for (;;) {
      let run = this.runs.get(key);
      if (!run) {
        const computing = this.computeRun(session, ref, control);
        run = computing;
        computing.catch(() => {
          if (this.runs.get(key) === computing) this.runs.delete(key);
        });
        this.runs.set(key, computing);
        while (this.runs.size > RUNS_KEPT) this.runs.delete(this.runs.keys().next().value as string);
      }
      try {
        return await run;
      } catch (e) {
        if (e instanceof OperationCancelled && !control?.cancelled) continue;
        throw e;
      }
    }
  }

  private async computeRun(session: ModelSession, ref: TextRef, control?: Cancellation): Promise<CachedRun> {
    const spec = session.spec;
    const { tokens, ids, truncated, warnings } = tokensForModel(session, ref.text);
    const model = await session.loadModel();
    const tapNames = ['nll', ...Array.from({ length: spec.dims.layers }, (_, l) => ['z', 'mix_in', 'g', 'alpha'].map((n) => `layers.${l}.${n}`)).flat()];
    const result = await model.forward(ids, { taps: tapNames, pause: pauseFor(control) });
    const [T, V] = result.logitsShape;
    const tokenizer = session.tokenizer.tokenizer;
    const next = nextTokens(result.logits, T, V, 5, (id) => tokenizer.idToToken(id));
    const taps = result.taps;
    const loss = Array.from(taps.get('nll')!.data);
    taps.delete('nll');
    return {
      run: {
        tokens: tokens.map(({ text, id, start, end }) => ({ text, id, start, end })),
        ids,
        next,
        loss,
        truncated,
        warnings: [...session.notices, ...model.warnings, ...warnings],
        backend: tf.getBackend(),
        layers: spec.dims.layers,
        windowSizes: spec.windowSizes,
        windowSource: spec.windowSource,
      },
      taps,
      features: new Map(),
    };
  }

  /**
   * Runs `text` and streams its results: first the run (tokens, next tokens, loss), then the
   * features of each layer as soon as it is computed (control.partial), then resolves with all
   * layers. Cancelled between layers (of the forward pass too).
   */
  async analyze(ref: TextRef, control?: Cancellation): Promise<{ run: TextRun; layers: LayerFeatures[] }> {
    return this.use(ref, async (session) => {
      const cached = await this.textRun(session, ref, control);
      throwIfCancelled(control);
      const first: AnalysisPiece = { kind: 'run', run: cached.run };
      control?.partial?.(first);
      const model = await session.loadModel();
      const T = cached.run.ids.length;
      const plans = layerOffsetPlans(session.spec, T); // each block's own offsets
      const pause = pauseFor(control);
      const layers: LayerFeatures[] = [];
      for (let l = 0; l < cached.run.layers; l++) {
        throwIfCancelled(control);
        let features = cached.features.get(l);
        if (!features) {
          await pause?.();
          features = await layerFeatures(model, cached.taps, T, l, plans[l].offsets, { alphaPerDimension: false, coordinates: false, residuals: false });
          cached.features.set(l, features);
        }
        layers.push(features);
        const piece: AnalysisPiece = { kind: 'layer', layer: features };
        control?.partial?.(piece);
        control?.progress({ done: l + 1, total: cached.run.layers, message: `layer ${l}` });
      }
      return { run: cached.run, layers };
    });
  }

  /**
   * z of (text, layer), the block's reduced dimension, and the offset checked against the block's
   * window list and the text's length.
   */
  private async layerStates<T>(ref: TextRef & { layer: number; offset: number }, control: Cancellation | undefined, fn: (s: { session: ModelSession; z: Float32Array; T: number; offset: number; r: number }) => T): Promise<T> {
    return this.use(ref, async (session) => {
      checkLayer(session, ref.layer);
      const cached = await this.textRun(session, ref, control);
      const T = cached.run.ids.length;
      const [offset] = offsetsFor(session, T, ref.offset, ref.layer);
      await pauseFor(control)?.();
      return fn({ session, z: cached.taps.get(`layers.${ref.layer}.z`)!.data, T, offset, r: session.spec.layerShapes[ref.layer].reducedDim });
    });
  }

  /** The planes of one (layer, offset) of a text: p_hat, areas, residuals. */
  async planes(ref: TextRef & { layer: number; offset: number }, control?: Cancellation): Promise<PlaneSet> {
    return this.layerStates(ref, control, ({ session, z, T, offset, r }) => {
      const planes = planesAtOffset(z, T, offset, planeLayoutOf(session.spec, ref.layer));
      const P = pairCount(r);
      const residual = new Float64Array(planes.count);
      for (let i = 0; i < planes.count; i++) residual[i] = pluckerResidual(planes.coordinates, i * P, r);
      return {
        layer: ref.layer, offset, positions: Array.from({ length: planes.count }, (_, i) => planes.first + i), reducedDim: r, pairCount: P,
        coordinates: planes.coordinates, norms: planes.norms, residual, degenerate: planes.degenerate,
      };
    });
  }

  /** The T x T distance matrix of one (layer, offset) of a text. */
  async distances(ref: TextRef & { layer: number; offset: number; metric: GrassmannMetric }, control?: Cancellation): Promise<PlaneDistances> {
    return this.layerStates(ref, control, ({ session, z, T, offset, r }) => {
      const m = planeDistanceMatrix(tokenPlanes(z, T, r, offset, session.spec.variant.pairing), ref.metric);
      return { layer: ref.layer, offset, metric: ref.metric, positions: m.positions, matrix: m.matrix, angles: m.angles, degenerate: m.degenerate };
    });
  }

  /** The k planes nearest to the plane at `position` (without the whole matrix). */
  async nearest(ref: TextRef & { layer: number; offset: number; position: number; k: number; metric: GrassmannMetric }, control?: Cancellation): Promise<Neighbour[]> {
    return this.layerStates(ref, control, ({ session, z, T, offset, r }) => {
      const planes = tokenPlanes(z, T, r, offset, session.spec.variant.pairing);
      return planes.positions.includes(ref.position) ? nearestPlanes(planes, ref.position, ref.k, ref.metric) : [];
    });
  }

  async dispose(): Promise<void> {
    const all = [...this.sessions];
    this.runs.clear();
    for (const [key, held] of all) await this.drop(key, held);
  }
}
