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
import { throwIfCancelled, type Cancellation } from './cancellation';
import { checkLayer, layerFeatures, offsetsFor, type LayerFeatures, type TokenInfo } from './features';
import { inspectSession, type InspectReport } from './inspect';
import { tokensForModel } from './input';
import { nextTokens, type NextToken } from './run';
import { ModelSession, type SessionOptions } from './session';

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

const SESSIONS_KEPT = 2;
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

export class AnalysisCache {
  private readonly sessions = new Map<string, Promise<ModelSession>>();
  private readonly runs = new Map<string, Promise<CachedRun>>();

  private sessionKey(ref: ModelRef): string {
    return JSON.stringify([ref.path, ref.config ?? '', ref.tokenizer ?? '', ref.arch ?? '']);
  }

  /** The opened model for `ref` (kept for the next request; the two most recent stay open). */
  async session(ref: ModelRef): Promise<ModelSession> {
    const key = this.sessionKey(ref);
    let session = this.sessions.get(key);
    if (!session) {
      const options: SessionOptions = { config: ref.config, arch: ref.arch, tokenizer: ref.tokenizer };
      session = ModelSession.open(ref.path, options);
      session.catch(() => this.sessions.delete(key));
      this.sessions.set(key, session);
      while (this.sessions.size > SESSIONS_KEPT) {
        const [oldest, old] = this.sessions.entries().next().value as [string, Promise<ModelSession>];
        this.sessions.delete(oldest);
        this.dropRuns(oldest);
        void old.then((s) => s.close(), () => undefined);
      }
    } else {
      // most recently used last
      this.sessions.delete(key);
      this.sessions.set(key, session);
    }
    return session;
  }

  private dropRuns(sessionKey: string): void {
    for (const key of [...this.runs.keys()]) if (key.startsWith(sessionKey)) this.runs.delete(key);
  }

  /** Closes and forgets everything opened from `path` (it changed on disk). */
  async forget(path: string): Promise<void> {
    for (const [key, session] of [...this.sessions]) {
      if (JSON.parse(key)[0] !== path) continue;
      this.sessions.delete(key);
      this.dropRuns(key);
      await session.then((s) => s.close(), () => undefined);
    }
  }

  async inspect(ref: ModelRef): Promise<InspectReport> {
    return inspectSession(await this.session(ref));
  }

  async tensor(ref: ModelRef & { name: string }): Promise<TensorSummary> {
    const session = await this.session(ref);
    const info = session.checkpoint.tensors.get(ref.name);
    if (!info) throw new InputError(session.checkpoint.path, `has no tensor ${ref.name}`);
    return summariseTensor(info.name, info.dtype, info.shape, await readFloat32(info));
  }

  /** One forward pass of `text` (cached): tokens, next tokens, loss, and the taps the views need. */
  private async textRun(ref: TextRef): Promise<CachedRun> {
    const key = this.sessionKey(ref) + '\0' + ref.text;
    let run = this.runs.get(key);
    if (!run) {
      run = this.computeRun(ref);
      run.catch(() => this.runs.delete(key));
      this.runs.set(key, run);
      while (this.runs.size > RUNS_KEPT) this.runs.delete(this.runs.keys().next().value as string);
    }
    return run;
  }

  private async computeRun(ref: TextRef): Promise<CachedRun> {
    const session = await this.session(ref);
    const spec = session.spec;
    const { tokens, ids, truncated, warnings } = tokensForModel(session, ref.text);
    const model = await session.loadModel();
    const tapNames = ['nll', ...Array.from({ length: spec.dims.layers }, (_, l) => ['z', 'mix_in', 'g', 'alpha'].map((n) => `layers.${l}.${n}`)).flat()];
    const result = await model.forward(ids, { taps: tapNames });
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
   * layers. Cancelled between layers.
   */
  async analyze(ref: TextRef, control?: Cancellation): Promise<{ run: TextRun; layers: LayerFeatures[] }> {
    const cached = await this.textRun(ref);
    throwIfCancelled(control);
    const first: AnalysisPiece = { kind: 'run', run: cached.run };
    control?.partial?.(first);
    const session = await this.session(ref);
    const model = await session.loadModel();
    const T = cached.run.ids.length;
    const plans = layerOffsetPlans(session.spec, T); // each block's own offsets
    const layers: LayerFeatures[] = [];
    for (let l = 0; l < cached.run.layers; l++) {
      throwIfCancelled(control);
      let features = cached.features.get(l);
      if (!features) {
        features = await layerFeatures(model, cached.taps, T, l, plans[l].offsets, { alphaPerDimension: false, coordinates: false, residuals: false });
        cached.features.set(l, features);
      }
      layers.push(features);
      const piece: AnalysisPiece = { kind: 'layer', layer: features };
      control?.partial?.(piece);
      control?.progress({ done: l + 1, total: cached.run.layers, message: `layer ${l}` });
    }
    return { run: cached.run, layers };
  }

  /**
   * z of (text, layer), the block's reduced dimension, and the offset checked against the block's
   * window list and the text's length.
   */
  private async layerStates(ref: TextRef & { layer: number; offset: number }): Promise<{ session: ModelSession; z: Float32Array; T: number; offset: number; r: number }> {
    const session = await this.session(ref);
    checkLayer(session, ref.layer);
    const cached = await this.textRun(ref);
    const T = cached.run.ids.length;
    const [offset] = offsetsFor(session, T, ref.offset, ref.layer);
    return { session, z: cached.taps.get(`layers.${ref.layer}.z`)!.data, T, offset, r: session.spec.layerShapes[ref.layer].reducedDim };
  }

  /** The planes of one (layer, offset) of a text: p_hat, areas, residuals. */
  async planes(ref: TextRef & { layer: number; offset: number }): Promise<PlaneSet> {
    const { session, z, T, offset, r } = await this.layerStates(ref);
    const planes = planesAtOffset(z, T, offset, planeLayoutOf(session.spec, ref.layer));
    const P = pairCount(r);
    const residual = new Float64Array(planes.count);
    for (let i = 0; i < planes.count; i++) residual[i] = pluckerResidual(planes.coordinates, i * P, r);
    return {
      layer: ref.layer, offset, positions: Array.from({ length: planes.count }, (_, i) => planes.first + i), reducedDim: r, pairCount: P,
      coordinates: planes.coordinates, norms: planes.norms, residual, degenerate: planes.degenerate,
    };
  }

  /** The T x T distance matrix of one (layer, offset) of a text. */
  async distances(ref: TextRef & { layer: number; offset: number; metric: GrassmannMetric }): Promise<PlaneDistances> {
    const { session, z, T, offset, r } = await this.layerStates(ref);
    const m = planeDistanceMatrix(tokenPlanes(z, T, r, offset, session.spec.variant.pairing), ref.metric);
    return { layer: ref.layer, offset, metric: ref.metric, positions: m.positions, matrix: m.matrix, angles: m.angles, degenerate: m.degenerate };
  }

  /** The k planes nearest to the plane at `position` (without the whole matrix). */
  async nearest(ref: TextRef & { layer: number; offset: number; position: number; k: number; metric: GrassmannMetric }): Promise<Neighbour[]> {
    const { session, z, T, offset, r } = await this.layerStates(ref);
    const planes = tokenPlanes(z, T, r, offset, session.spec.variant.pairing);
    return planes.positions.includes(ref.position) ? nearestPlanes(planes, ref.position, ref.k, ref.metric) : [];
  }

  async dispose(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    this.runs.clear();
    for (const s of all) await s.then((x) => x.close(), () => undefined);
  }
}
