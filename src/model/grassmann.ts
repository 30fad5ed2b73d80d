/**
 * GrassmannGPT forward pass in TensorFlow.js (eval mode), built from a Checkpoint and a
 * GrassmannSpec (./spec.ts). The caller picks and initialises the backend.
 *
 * Per block l (x: [T, d] residual stream; shapes for one sequence, the batch is folded into T):
 *   h      = LayerNorm_ln1(x)                                        [T, d]   tap layers.l.mix_in
 *   z_t    = W_red h_t + b_red                                       [T, r]   tap layers.l.z
 *   for each offset d in the window list with d < T, partner s = t - d ('previous' pairing,
 *   the paper) or s = t + d ('next'), valid where 0 <= s < T:
 *     p_ij(t) = z_t,i z_s,j - z_t,j z_s,i   (i < j)                   [T-d, r(r-1)/2]
 *     p_hat   = p / max(||p||, 1e-8)                                 tap layers.l.plucker.d,
 *                                                                    ||p||: layers.l.plucker_norm.d
 *   g_t    = mean over offsets valid at t of (W_plu p_hat + b_plu), 0 where none   [T, d]  tap .g
 *   alpha  = sigmoid(W_gate [h ; g] + b_gate)                        [T, d]   tap layers.l.alpha
 *   mixed  = alpha * h + (1 - alpha) * g   ('blend', the paper)  or  h + alpha * g ('additive')
 *   x      = x + LayerNorm_mix(mixed)                                [T, d]   tap layers.l.mix_out
 *   x      = x + W_ffn3 GELU(W_ffn0 LayerNorm_ln2(x) + b0) + b3      [T, d]   tap layers.l.block_out
 * then logits = LayerNorm_f(x) E^T (E = token embedding when tied)   [T, V]   tap logits
 *
 * How the Plücker stage is computed (batched over all offsets; no per-pair or per-offset matmul):
 *  - the K distinct offsets' partners q_k(t) are stacked as [T, K, r] (zero rows where the partner
 *    is outside the sequence; their weight is 0);
 *  - plane areas ||p|| = ||z_t ^ q_k|| = |z_t| |q_k - (z_t.q_k/|z_t|^2) z_t| (Gram-Schmidt);
 *  - p is bilinear and z_t is shared by every offset at t, so the weighted mean of the normalised
 *    planes is one wedge: mean_d(p_hat) = z_t ^ m_t with m_t = sum_k c_k q_k and
 *    c_k = (multiplicity_k / total multiplicity valid at t) / max(||p_k||, 1e-8);
 *  - by linearity mean_d(W_plu p_hat_d + b_plu) = W_plu mean_d(p_hat_d) + b_plu, and W_plu (d x
 *    r(r-1)/2) is stored antisymmetrically on the outer product z_t m_t^T, so g is one
 *    [T, r^2] x [r^2, d] matmul per layer.
 * The explicit Plücker coordinates [T-d, r(r-1)/2] are built only for the plucker.{d} taps.
 * Taps are computed only when asked; everything stays on the backend inside tf.tidy until the end.
 *
 * Sequences longer than the position table are refused (InputError): the model has no position
 * vector for them, and silently windowing would change what the user is inspecting. evaluate()
 * cuts long texts into chunks of at most Tmax tokens, like the reference protocol.
 */
import * as tf from '@tensorflow/tfjs-core';
// Gradient functions of the core ops (tf.grad in gradient()); tfjs-core registers none by default.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { readFloat32 } from '../checkpoint/tensorData';
import type { Checkpoint } from '../checkpoint/types';
import { InputError } from '../util/errors';
import type { GrassmannSpec, LayerRoles, PairingRule } from './spec';

export interface TapValue {
  shape: number[];
  data: Float32Array;
}

/** true: every tap; a list: exact tap names, or prefixes ending in '*' ('layers.0.*'). */
export type TapSelection = boolean | readonly string[];

export interface ForwardOptions {
  taps?: TapSelection;
}

export interface ForwardResult {
  /** Row-major [T, V]. */
  logits: Float32Array;
  logitsShape: [number, number];
  taps: Map<string, TapValue>;
}

export interface EvaluationResult {
  /** Mean next-token negative log-likelihood over all predictions of all chunks (nats). */
  mean_nll: number;
  perplexity: number;
  /** Non-overlapping chunks of seqLen tokens; the remainder is dropped. */
  chunks: number;
  /** Next-token predictions scored: chunks * (seqLen - 1). */
  predictions: number;
  seqLen: number;
}

// ---------------------------------------------------------------------------------------------
// Exact GELU on every backend
// ---------------------------------------------------------------------------------------------

/**
 * Coefficients of the Chebyshev fit of erfc (Numerical Recipes, `erfcc`): for u >= 0,
 * erfc(u) = t exp(-u^2 + c0 + t(c1 + t(c2 + ... + t c9))), t = 1 / (1 + u/2),
 * with fractional error below 1.2e-7 everywhere (so also accurate in the tail).
 */
const ERFC_COEFFICIENTS = [
  -1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277,
];

/** erfc(u) for u >= 0, from basic ops only (no Erf kernel needed). */
export function erfcNonNegative(u: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const t = tf.div(1, tf.add(1, tf.mul(0.5, u)));
    const last = ERFC_COEFFICIENTS.length - 1;
    let poly = tf.add(tf.mul(t, ERFC_COEFFICIENTS[last]), ERFC_COEFFICIENTS[last - 1]);
    for (let k = last - 2; k >= 0; k--) poly = tf.add(tf.mul(poly, t), ERFC_COEFFICIENTS[k]);
    return tf.mul(t, tf.exp(tf.sub(poly, tf.square(u))));
  });
}

/** erf(x) = sign(x) (1 - erfc(|x|)). */
export function erf(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.sign(x), tf.sub(1, erfcNonNegative(tf.abs(x)))));
}

const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/**
 * Exact GELU: x Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2 = (1 + sign(x)(1 - erfc(|x|/sqrt 2))) / 2.
 * Gradient: Phi(x) + x phi(x), phi(x) = exp(-x^2/2) / sqrt(2 pi) (written out, so it does not
 * depend on differentiating the erfc fit).
 */
export const gelu = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const x = args[0] as tf.Tensor;
  const save = args[1] as tf.GradSaveFunc;
  const tail = erfcNonNegative(tf.mul(tf.abs(x), Math.SQRT1_2));
  const cdf = tf.mul(0.5, tf.add(1, tf.mul(tf.sign(x), tf.sub(1, tail))));
  save([x, cdf]);
  return {
    value: tf.mul(x, cdf),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [input, inputCdf] = saved;
      const density = tf.mul(INV_SQRT_2PI, tf.exp(tf.mul(-0.5, tf.square(input))));
      return tf.mul(dy, tf.add(inputCdf, tf.mul(input, density)));
    },
  };
}) as (x: tf.Tensor) => tf.Tensor;

// ---------------------------------------------------------------------------------------------
// Building blocks
// ---------------------------------------------------------------------------------------------

/** LayerNorm over the last axis: (x - mean) / sqrt(var + eps) * weight + bias (biased variance). */
function layerNorm(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor, eps: number): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps))), weight), bias);
}

/** y = x W^T + b with W stored pre-transposed as [in, out] (the fast layout on every backend). */
function linear(x: tf.Tensor2D, weightT: tf.Tensor2D, bias?: tf.Tensor1D): tf.Tensor2D {
  return bias ? (tf.fused.matMul({ a: x, b: weightT, bias }) as tf.Tensor2D) : tf.matMul(x, weightT);
}

interface LayerWeights {
  norm1Weight: tf.Tensor1D;
  norm1Bias: tf.Tensor1D;
  /** W_red^T [d, r] */
  reduceT: tf.Tensor2D;
  reduceBias: tf.Tensor1D;
  /** W_plu laid out on the outer product z m^T: [r*r, d], row i*r+j = +W_plu[:, (i,j)] for i < j, -W_plu[:, (j,i)] for i > j, 0 on the diagonal. */
  pluckerOnOuter: tf.Tensor2D;
  pluckerBias: tf.Tensor1D;
  /** W_gate^T [2d, d] (rows 0..d-1 act on h, d..2d-1 on g) */
  gateT: tf.Tensor2D;
  gateBias: tf.Tensor1D;
  mixNormWeight: tf.Tensor1D;
  mixNormBias: tf.Tensor1D;
  norm2Weight: tf.Tensor1D;
  norm2Bias: tf.Tensor1D;
  /** ffn.0^T [d, f] */
  ffnInT: tf.Tensor2D;
  ffnInBias: tf.Tensor1D;
  /** ffn.3^T [f, d] */
  ffnOutT: tf.Tensor2D;
  ffnOutBias: tf.Tensor1D;
}

/** Which window offsets apply where, for one sequence length. */
export interface OffsetPlan {
  /** Distinct offsets d < T, ascending (K of them). */
  offsets: number[];
  /** [T, K]: multiplicity of offset k / total multiplicity of the offsets valid at t; 0 if invalid. */
  weights: Float32Array;
  /** [T]: 1 where at least one offset is valid, else 0 (g_t = 0 there). */
  hasOffset: Float32Array;
}

/** First position and number of positions at which offset d has a partner inside [0, T). */
export function validPositions(offset: number, seqLen: number, pairing: PairingRule): { first: number; count: number } {
  const count = Math.max(0, seqLen - offset);
  return { first: pairing === 'previous' ? offset : 0, count };
}

export function planOffsets(windowSizes: readonly number[], seqLen: number, pairing: PairingRule): OffsetPlan {
  const multiplicity = new Map<number, number>();
  for (const w of windowSizes) if (w < seqLen) multiplicity.set(w, (multiplicity.get(w) ?? 0) + 1);
  const offsets = [...multiplicity.keys()].sort((a, b) => a - b);
  const K = offsets.length;
  const weights = new Float32Array(seqLen * K);
  const hasOffset = new Float32Array(seqLen);
  const totals = new Float64Array(seqLen);
  offsets.forEach((d) => {
    const { first, count } = validPositions(d, seqLen, pairing);
    for (let t = first; t < first + count; t++) totals[t] += multiplicity.get(d)!;
  });
  offsets.forEach((d, k) => {
    const { first, count } = validPositions(d, seqLen, pairing);
    for (let t = first; t < first + count; t++) weights[t * K + k] = multiplicity.get(d)! / totals[t];
  });
  for (let t = 0; t < seqLen; t++) hasOffset[t] = totals[t] > 0 ? 1 : 0;
  return { offsets, weights, hasOffset };
}

/** Collects intermediate tensors by tap name when the caller asked for them. */
class TapSink {
  readonly tensors: Record<string, tf.Tensor> = {};
  constructor(private readonly selection: TapSelection) {}

  wants(name: string): boolean {
    if (this.selection === true) return true;
    if (this.selection === false) return false;
    return this.selection.some((s) => (s.endsWith('*') ? name.startsWith(s.slice(0, -1)) : s === name));
  }

  /** Records `make()` under `name` if wanted (make is only called then). */
  put(name: string, make: () => tf.Tensor): void {
    if (this.wants(name)) this.tensors[name] = make();
  }
}

/** Largest batch of chunks evaluated at once: keeps the [B*T, V] logits under ~64 MB. */
const EVAL_LOGITS_BUDGET = 1 << 24;

// ---------------------------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------------------------

export class GrassmannModel {
  private disposed = false;
  /** Problems found in the weights while loading (NaN/Inf values): the model still runs. */
  readonly warnings: string[] = [];

  private constructor(
    readonly spec: GrassmannSpec,
    /** The checkpoint path, named in input errors. */
    readonly source: string,
    private readonly tokenEmbedding: tf.Tensor2D,
    private readonly positionEmbedding: tf.Tensor2D,
    private readonly layers: LayerWeights[],
    private readonly finalNormWeight: tf.Tensor1D,
    private readonly finalNormBias: tf.Tensor1D,
    /** lm_head^T [d, V] (the transposed token embedding when tied). */
    private readonly lmHeadT: tf.Tensor2D,
    /** Flat index i*r + j of each Plücker pair k in an r x r matrix, for the plucker taps. */
    private readonly pairFlatIndex: tf.Tensor1D,
  ) {}

  /** Reads every weight once (readFloat32) into backend tensors. */
  static async load(checkpoint: Checkpoint, spec: GrassmannSpec): Promise<GrassmannModel> {
    const created: tf.Tensor[] = [];
    const nonFinite: string[] = [];
    const read = async (name: string): Promise<Float32Array> => {
      const info = checkpoint.tensors.get(name);
      if (!info) throw new InputError(checkpoint.path, `tensor ${name} is missing`);
      const data = await readFloat32(info);
      let nan = 0;
      let inf = 0;
      for (let i = 0; i < data.length; i++) {
        const v = data[i];
        if (v !== v) nan++;
        else if (v === Infinity || v === -Infinity) inf++;
      }
      if (nan || inf) nonFinite.push(`${name} has ${nan} NaN and ${inf} infinite values of ${data.length}: outputs that depend on them will be NaN`);
      return data;
    };
    const keep = <T extends tf.Tensor>(t: T): T => {
      created.push(t);
      return t;
    };
    const vector = async (name: string): Promise<tf.Tensor1D> => keep(tf.tensor1d(await read(name)));
    /** A [out, in] weight stored transposed as [in, out]. */
    const transposed = async (name: string, rows: number, cols: number): Promise<tf.Tensor2D> => {
      const data = await read(name);
      return keep(tf.tidy(() => tf.transpose(tf.tensor2d(data, [rows, cols]))));
    };

    try {
      const { vocabSize: V, modelDim: d, reducedDim: r, pairCount: P, ffDim: f, maxPositions: Tmax } = spec.dims;
      const roles = spec.roles;
      const embeddingData = await read(roles.global.tokenEmbedding);
      const tokenEmbedding = keep(tf.tensor2d(embeddingData, [V, d]));
      const positionEmbedding = keep(tf.tensor2d(await read(roles.global.positionEmbedding), [Tmax, d]));
      const lmHeadT = roles.global.lmHead
        ? await transposed(roles.global.lmHead, V, d)
        : keep(tf.tidy(() => tf.transpose(tokenEmbedding)));

      const layers: LayerWeights[] = [];
      for (const layer of roles.layers) {
        layers.push(await GrassmannModel.loadLayer(layer, spec, read, keep, transposed, vector, { d, r, P, f }));
      }
      const pairFlatIndex = keep(tf.tensor1d(spec.pairFirst.map((i, k) => i * r + spec.pairSecond[k]), 'int32'));
      const model = new GrassmannModel(
        spec,
        checkpoint.path,
        tokenEmbedding,
        positionEmbedding,
        layers,
        await vector(roles.global.finalNormWeight),
        await vector(roles.global.finalNormBias),
        lmHeadT,
        pairFlatIndex,
      );
      model.warnings.push(...nonFinite);
      return model;
    } catch (e) {
      for (const t of created) t.dispose();
      throw e;
    }
  }

  private static async loadLayer(
    roles: LayerRoles,
    spec: GrassmannSpec,
    read: (name: string) => Promise<Float32Array>,
    keep: <T extends tf.Tensor>(t: T) => T,
    transposed: (name: string, rows: number, cols: number) => Promise<tf.Tensor2D>,
    vector: (name: string) => Promise<tf.Tensor1D>,
    { d, r, P, f }: { d: number; r: number; P: number; f: number },
  ): Promise<LayerWeights> {
    // W_plu [d, P] -> [r*r, d] on the outer product z m^T: column k of W_plu, for pair (i, j),
    // goes to row i*r+j with sign + and to row j*r+i with sign - (the diagonal stays 0).
    const plucker = await read(roles.pluckerWeight);
    const onOuter = new Float32Array(r * r * d);
    for (let k = 0; k < P; k++) {
      const upper = (spec.pairFirst[k] * r + spec.pairSecond[k]) * d;
      const lower = (spec.pairSecond[k] * r + spec.pairFirst[k]) * d;
      for (let o = 0; o < d; o++) {
        onOuter[upper + o] = plucker[o * P + k];
        onOuter[lower + o] = -plucker[o * P + k];
      }
    }
    return {
      norm1Weight: await vector(roles.norm1Weight),
      norm1Bias: await vector(roles.norm1Bias),
      reduceT: await transposed(roles.reduceWeight, r, d),
      reduceBias: await vector(roles.reduceBias),
      pluckerOnOuter: keep(tf.tensor2d(onOuter, [r * r, d])),
      pluckerBias: await vector(roles.pluckerBias),
      gateT: await transposed(roles.gateWeight, d, 2 * d),
      gateBias: await vector(roles.gateBias),
      mixNormWeight: await vector(roles.mixNormWeight),
      mixNormBias: await vector(roles.mixNormBias),
      norm2Weight: await vector(roles.norm2Weight),
      norm2Bias: await vector(roles.norm2Bias),
      ffnInT: await transposed(roles.ffnInWeight, f, d),
      ffnInBias: await vector(roles.ffnInBias),
      ffnOutT: await transposed(roles.ffnOutWeight, d, f),
      ffnOutBias: await vector(roles.ffnOutBias),
    };
  }

  /** Releases every weight tensor. The model cannot be used afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const all: tf.Tensor[] = [this.tokenEmbedding, this.positionEmbedding, this.finalNormWeight, this.finalNormBias, this.lmHeadT, this.pairFlatIndex];
    for (const layer of this.layers) all.push(...Object.values(layer));
    // lmHeadT may be the only owner of the transposed embedding; dispose each tensor once.
    for (const t of new Set(all)) t.dispose();
  }

  // -------------------------------------------------------------------------------------------
  // Public API
  // -------------------------------------------------------------------------------------------

  /**
   * Logits [T, V] for one sequence, and the requested taps (shapes without a batch axis):
   * embeddings [T,d]; layers.l.mix_in [T,d], .z [T,r], .plucker.D [T-D, P] and .plucker_norm.D
   * [T-D] for each distinct offset D < T, .g, .alpha, .mix_out, .block_out [T,d]; logits [T,V];
   * nll [T-1] (next-token negative log-likelihood).
   */
  async forward(ids: readonly number[], opts: ForwardOptions = {}): Promise<ForwardResult> {
    this.checkIds(ids);
    const T = ids.length;
    const V = this.spec.dims.vocabSize;
    const sink = new TapSink(opts.taps ?? false);
    const { logits, taps } = tf.tidy(() => {
      const embeddings = this.embed([ids]);
      sink.put('embeddings', () => embeddings);
      const hidden = this.runBlocks(embeddings, 1, T, sink);
      const logits = this.project(hidden);
      sink.put('logits', () => logits);
      sink.put('nll', () => this.nextTokenNll(logits, [ids]));
      return { logits, taps: sink.tensors };
    });
    try {
      const result: ForwardResult = { logits: (await logits.data()) as Float32Array, logitsShape: [T, V], taps: new Map() };
      for (const [name, tensor] of Object.entries(taps)) {
        result.taps.set(name, { shape: tensor.shape.slice(), data: (await tensor.data()) as Float32Array });
      }
      return result;
    } finally {
      logits.dispose();
      for (const t of Object.values(taps)) t.dispose();
    }
  }

  /** d logit[position, targetId] / d embeddings (token + position), shape [T, d]. */
  async gradient(ids: readonly number[], position: number, targetId: number): Promise<TapValue> {
    this.checkIds(ids);
    const T = ids.length;
    const { modelDim: d, vocabSize: V } = this.spec.dims;
    if (!Number.isInteger(position) || position < 0 || position >= T) {
      throw new RangeError(`gradient position ${position} is outside the sequence (0..${T - 1})`);
    }
    if (!Number.isInteger(targetId) || targetId < 0 || targetId >= V) {
      throw new RangeError(`gradient target id ${targetId} is outside the vocabulary (0..${V - 1})`);
    }
    const grad = tf.tidy(() => {
      const embeddings = this.embed([ids]);
      const headColumn = tf.slice(this.lmHeadT, [0, targetId], [d, 1]); // [d, 1]
      const targetLogit = (x: tf.Tensor): tf.Tensor => {
        const hidden = this.runBlocks(x as tf.Tensor2D, 1, T, null); // [T, d]
        const row = tf.slice(hidden, [position, 0], [1, d]); // LayerNorm is per row
        const normed = layerNorm(row, this.finalNormWeight, this.finalNormBias, this.spec.layerNormEps) as tf.Tensor2D;
        return tf.reshape(tf.matMul(normed, headColumn), []); // logit[position, targetId]
      };
      return tf.grad(targetLogit)(embeddings);
    });
    try {
      return { shape: [T, d], data: (await grad.data()) as Float32Array };
    } finally {
      grad.dispose();
    }
  }

  /**
   * Perplexity protocol of the reference (manifest `eval.note`): the token ids of the whole text
   * (encoded once, with [CLS]/[SEP]) are cut into non-overlapping chunks of seqLen tokens, the
   * remainder is dropped, and the next-token NLL is averaged over all predictions of all chunks.
   */
  async evaluate(ids: readonly number[], seqLen: number = this.spec.dims.maxPositions): Promise<EvaluationResult> {
    const Tmax = this.spec.dims.maxPositions;
    if (!Number.isInteger(seqLen) || seqLen < 2 || seqLen > Tmax) {
      throw new RangeError(`evaluation chunk length ${seqLen} must be an integer in 2..${Tmax} (the model's position table)`);
    }
    const chunks = Math.floor(ids.length / seqLen);
    if (chunks === 0) {
      throw new InputError(this.source, `the text has ${ids.length} tokens, fewer than one chunk of ${seqLen}: nothing to evaluate`);
    }
    this.checkIds(ids.slice(0, chunks * seqLen), false);
    const batchSize = Math.max(1, Math.min(chunks, Math.floor(EVAL_LOGITS_BUDGET / (seqLen * this.spec.dims.vocabSize))));
    let nllSum = 0;
    for (let start = 0; start < chunks; start += batchSize) {
      const batch: number[][] = [];
      for (let c = start; c < Math.min(chunks, start + batchSize); c++) batch.push(ids.slice(c * seqLen, (c + 1) * seqLen) as number[]);
      const nll = tf.tidy(() => {
        const hidden = this.runBlocks(this.embed(batch), batch.length, seqLen, null);
        return this.nextTokenNll(this.project(hidden), batch);
      });
      const values = await nll.data();
      nll.dispose();
      for (let i = 0; i < values.length; i++) nllSum += values[i];
    }
    const predictions = chunks * (seqLen - 1);
    const meanNll = nllSum / predictions;
    return { mean_nll: meanNll, perplexity: Math.exp(meanNll), chunks, predictions, seqLen };
  }

  // -------------------------------------------------------------------------------------------
  // The computation (called inside tf.tidy)
  // -------------------------------------------------------------------------------------------

  private checkIds(ids: readonly number[], checkLength = true): void {
    if (this.disposed) throw new Error('the model has been disposed');
    const { vocabSize: V, maxPositions: Tmax } = this.spec.dims;
    if (ids.length === 0) throw new RangeError('empty input: at least one token id is needed');
    if (checkLength && ids.length > Tmax) {
      throw new InputError(this.source, `the input has ${ids.length} tokens but the model has positions for at most ${Tmax} (position_embedding.weight); shorten the text or evaluate it in chunks`);
    }
    const bad = ids.findIndex((id) => !Number.isInteger(id) || id < 0 || id >= V);
    if (bad >= 0) throw new RangeError(`token id ${ids[bad]} at position ${bad} is outside the vocabulary (0..${V - 1})`);
  }

  /** x_t = E[id_t] + P[t] for a batch of equal-length sequences: [B*T, d]. */
  private embed(batch: readonly (readonly number[])[]): tf.Tensor2D {
    const T = batch[0].length;
    const ids = tf.tensor1d(batch.flat() as number[], 'int32');
    const tokens = tf.gather(this.tokenEmbedding, ids); // [B*T, d]
    const positions = tf.slice(this.positionEmbedding, [0, 0], [T, this.spec.dims.modelDim]); // [T, d]
    const perRow = batch.length === 1 ? positions : tf.tile(positions, [batch.length, 1]); // [B*T, d]
    return tf.add(tokens, perRow);
  }

  /** All blocks on the residual stream x [B*T, d]; returns the final residual stream. */
  private runBlocks(embeddings: tf.Tensor2D, batch: number, T: number, sink: TapSink | null): tf.Tensor2D {
    const plan = planOffsets(this.spec.windowSizes, T, this.spec.variant.pairing);
    const eps = this.spec.layerNormEps;
    let x = embeddings;
    this.layers.forEach((w, l) => {
      const tap = (name: string, make: () => tf.Tensor): void => sink?.put(`layers.${l}.${name}`, make);

      const h = layerNorm(x, w.norm1Weight, w.norm1Bias, eps) as tf.Tensor2D; // [BT, d]
      tap('mix_in', () => h);
      const z = linear(h, w.reduceT, w.reduceBias); // z_t = W_red h_t + b_red   [BT, r]
      tap('z', () => z);
      const g = this.grassmannFeatures(z, w, batch, T, plan, sink ? (name, make) => tap(name, make) : null); // [BT, d]
      tap('g', () => g);

      // alpha = sigmoid(W_gate [h ; g] + b_gate)   [BT, d]
      const alpha = tf.sigmoid(linear(tf.concat([h, g], 1), w.gateT, w.gateBias));
      tap('alpha', () => alpha);
      const mixed =
        this.spec.variant.gating === 'blend'
          ? tf.add(g, tf.mul(alpha, tf.sub(h, g))) // alpha h + (1 - alpha) g
          : tf.add(h, tf.mul(alpha, g)); // h + alpha g
      const mixOut = layerNorm(mixed, w.mixNormWeight, w.mixNormBias, eps) as tf.Tensor2D; // [BT, d]
      tap('mix_out', () => mixOut);
      x = tf.add(x, mixOut);

      // x = x + W_3 GELU(W_0 LN2(x) + b_0) + b_3
      const ffIn = layerNorm(x, w.norm2Weight, w.norm2Bias, eps) as tf.Tensor2D;
      const hiddenFf = gelu(linear(ffIn, w.ffnInT, w.ffnInBias)) as tf.Tensor2D; // [BT, f]
      x = tf.add(x, linear(hiddenFf, w.ffnOutT, w.ffnOutBias));
      tap('block_out', () => x);
    });
    return x;
  }

  /**
   * g_t = mean over offsets d valid at t of (W_plu p_hat_t^(d) + b_plu), 0 where none.   [BT, d]
   * z: [BT, r]. See the file comment for the formulation.
   */
  private grassmannFeatures(
    z: tf.Tensor2D,
    w: LayerWeights,
    batch: number,
    T: number,
    plan: OffsetPlan,
    tap: ((name: string, make: () => tf.Tensor) => void) | null,
  ): tf.Tensor2D {
    const { reducedDim: r, modelDim: d } = this.spec.dims;
    const rows = batch * T;
    const K = plan.offsets.length;
    if (K === 0) return tf.zeros([rows, d]); // T = 1 or every offset >= T: no plane anywhere

    // Partner states q_k(t) = z_{t-d_k} (or z_{t+d_k}), zero rows where the partner is outside
    // the sequence (their weight below is 0).   [BT, K, r]
    const zSeq = tf.reshape(z, [batch, T, r]);
    const partners = tf.reshape(
      tf.stack(
        plan.offsets.map((offset) =>
          this.spec.variant.pairing === 'previous'
            ? tf.pad(tf.slice(zSeq, [0, 0, 0], [batch, T - offset, r]), [[0, 0], [offset, 0], [0, 0]])
            : tf.pad(tf.slice(zSeq, [0, offset, 0], [batch, T - offset, r]), [[0, 0], [0, offset], [0, 0]]),
        ),
        2,
      ),
      [rows, K, r],
    );
    const current = tf.reshape(z, [rows, 1, r]); // z_t   [BT, 1, r]

    // Plane area ||p|| = ||z_t ^ q|| = |z_t| |q_perp|, q_perp = q - (z_t.q / |z_t|^2) z_t
    // (Gram-Schmidt: relative error ~ eps / sin(angle), like forming p itself).   [BT, K]
    const currentSq = tf.sum(tf.square(current), 2); // |z_t|^2   [BT, 1]
    const projection = tf.div(tf.sum(tf.mul(current, partners), 2), tf.maximum(currentSq, 1e-30)); // [BT, K]
    const partnersPerp = tf.sub(partners, tf.mul(tf.expandDims(projection, 2), current)); // [BT, K, r]
    const areaSquared = tf.mul(currentSq, tf.sum(tf.square(partnersPerp), 2)); // ||p||^2   [BT, K]
    // max(||p||, 1e-8) as sqrt(max(||p||^2, 1e-16)): same value, finite gradient at p = 0
    const clampedArea = tf.sqrt(tf.maximum(areaSquared, 1e-16));

    if (tap) {
      // Per-offset taps (one sequence): rows = positions with a partner.
      plan.offsets.forEach((offset, k) => {
        const { first, count } = validPositions(offset, T, this.spec.variant.pairing);
        tap(`plucker_norm.${offset}`, () => tf.reshape(tf.slice(tf.sqrt(areaSquared), [first, k], [count, 1]), [count]));
        tap(`plucker.${offset}`, () => {
          // p_ij = z_t,i q_j - z_t,j q_i from the skew matrix z_t q^T - q z_t^T, pairs in spec order
          const a = tf.reshape(tf.slice(z, [first, 0], [count, r]), [count, r, 1]);
          const b = tf.reshape(tf.slice(partners, [first, k, 0], [count, 1, r]), [count, 1, r]);
          const outer = tf.mul(a, b); // [count, r, r]
          const skew = tf.reshape(tf.sub(outer, tf.transpose(outer, [0, 2, 1])), [count, r * r]);
          const normalised = tf.div(skew, tf.slice(clampedArea, [first, k], [count, 1])); // p / max(||p||, 1e-8)
          return tf.gather(normalised, this.pairFlatIndex, 1); // [count, r(r-1)/2]
        });
      });
    }

    // p is bilinear, and z_t is shared by all offsets, so the weighted mean of the normalised
    // planes is itself a wedge:  sum_k c_k (z_t ^ q_k) = z_t ^ m_t,  m_t = sum_k c_k q_k,
    // c_k = (multiplicity of d_k / total multiplicity valid at t) / max(||p_k||, 1e-8).
    const weights = tf.tensor2d(tileRows(plan.weights, batch), [rows, K]);
    const coefficients = tf.div(weights, clampedArea); // [BT, K]
    const meanPartner = tf.sum(tf.mul(tf.expandDims(coefficients, 2), partners), 1); // m_t   [BT, r]
    // Outer product z_t m_t^T [BT, r*r]; W_plu is laid out antisymmetrically on it (row i*r+j is
    // +W_plu[:, pair(i,j)] for i < j and -W_plu[:, pair(j,i)] for i > j), so
    // outer . W = sum_{i<j} W_plu[:, (i,j)] (z_i m_j - z_j m_i) = W_plu mean_d(p_hat).
    const outer = tf.reshape(tf.mul(tf.reshape(z, [rows, r, 1]), tf.reshape(meanPartner, [rows, 1, r])), [rows, r * r]);
    // g = W_plu mean(p_hat) + b_plu where an offset is valid, else 0   [BT, d]
    const hasOffset = tf.tensor2d(tileRows(plan.hasOffset, batch), [rows, 1]);
    return tf.add(tf.matMul(outer as tf.Tensor2D, w.pluckerOnOuter), tf.mul(hasOffset, w.pluckerBias));
  }

  /** logits = LayerNorm_f(x) lm_head^T   [BT, V] */
  private project(hidden: tf.Tensor2D): tf.Tensor2D {
    const normed = layerNorm(hidden, this.finalNormWeight, this.finalNormBias, this.spec.layerNormEps) as tf.Tensor2D;
    return tf.matMul(normed, this.lmHeadT);
  }

  /** -log softmax(logits_t)[id_{t+1}] for t < T-1 of each sequence: [B*(T-1)]. */
  private nextTokenNll(logits: tf.Tensor2D, batch: readonly (readonly number[])[]): tf.Tensor1D {
    const V = this.spec.dims.vocabSize;
    const T = batch[0].length;
    if (T < 2) return tf.zeros([0]);
    const rowIndex: number[] = [];
    const flatTarget: number[] = [];
    batch.forEach((ids, b) => {
      for (let t = 0; t < T - 1; t++) {
        rowIndex.push(b * T + t);
        flatTarget.push((b * T + t) * V + ids[t + 1]);
      }
    });
    const logNormaliser = tf.gather(tf.logSumExp(logits, 1), tf.tensor1d(rowIndex, 'int32')); // [B(T-1)]
    const targetLogit = tf.gather(tf.reshape(logits, [-1]), tf.tensor1d(flatTarget, 'int32'));
    return tf.sub(logNormaliser, targetLogit);
  }
}

/** Repeats a per-position array (row-major [T, ...]) for each sequence of a batch. */
function tileRows(values: Float32Array, batch: number): Float32Array {
  if (batch === 1) return values;
  const out = new Float32Array(values.length * batch);
  for (let b = 0; b < batch; b++) out.set(values, b * values.length);
  return out;
}

/** Loads a model for a recognised spec; convenience for callers holding a Checkpoint. */
export async function loadGrassmannModel(checkpoint: Checkpoint, spec: GrassmannSpec): Promise<GrassmannModel> {
  return GrassmannModel.load(checkpoint, spec);
}
