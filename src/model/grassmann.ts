/**
 * Grassmann language model forward pass in TensorFlow.js (eval mode), built from a Checkpoint and
 * a GrassmannSpec (./spec.ts), for every implementation the spec's architecture description
 * covers (./architecture.ts). The caller picks and initialises the backend.
 *
 * Per block l (x: [T, d] residual stream; shapes for one sequence, the batch is folded into T;
 * r, P, f and the window list are block l's own, spec.layerShapes[l]: uniform in a trained
 * checkpoint, per block in a structurally pruned one). Where the LayerNorms sit and whether x is
 * added back around the mixing is the block layout (./layout.ts BLOCK_LAYOUT_KERNELS):
 *   pre-norm:   h = LN_a(x), x' = x + Mix(h),      out = x' + FFN(LN_f(x'))   (alphaXiv; LMConfig pre_norm)
 *   post-norm:  h = x,       x' = LN_a(x + Mix(h)), out = LN_f(x' + FFN(x'))  (LMConfig)
 *   post-norm-no-mix-residual: h = x, x' = LN_a(Mix(h)), out = LN_f(x' + FFN(x'))  (GrassLM)
 * The mixing module Mix(h), h its input:                                     tap layers.l.mix_in
 *   z_t    = W_red h_t + b_red                                       [T, r]   tap layers.l.z
 *   for each offset d in the block's window list with d < T, partner s = t - d ('previous' pairing,
 *   the paper) or s = t + d ('next'), valid where 0 <= s < T:
 *     p_ij(t) = z_t,i z_s,j - z_t,j z_s,i   (i < j)                   [T-d, r(r-1)/2]
 *     p_hat   = p / max(||p||, pluckerEps)                           tap layers.l.plucker.d,
 *                                                                    ||p||: layers.l.plucker_norm.d
 *   g_t    = mean over offsets valid at t of (W_plu p_hat + b_plu), 0 where none (project then
 *            average), or W_plu mean(p_hat) + b_plu, b_plu where none (average then project)
 *                                                                    [T, d]   tap .g
 *   alpha  = sigmoid(W_gate [h ; g] + b_gate)                        [T, d]   tap layers.l.alpha
 *   Mix(h) = alpha h + (1 - alpha) g, h + alpha g or alpha g (mixOutput), through the mixing's
 *            own LayerNorm when it has one (mixNorm)                [T, d]   tap layers.l.mix_out
 *   FFN(u) = W_out act(W_in u + b_in) + b_out (act: exact GELU, tanh GELU or ReLU)
 *                                                          block output [T, d] tap layers.l.block_out
 * then logits = LayerNorm_f(x) E^T (E = token embedding when tied)   [T, V]   tap logits
 *
 * The Plücker stage is never computed offset by offset: since z_t is shared by every offset at t
 * and the wedge is bilinear, mean_d(p_hat_d) is one wedge z_t ^ m_t (m_t a weighted sum of the
 * partners), and by linearity mean_d(W_plu p_hat_d + b_plu) = W_plu mean_d(p_hat_d) + b_plu: one
 * matrix product per layer (./blockOps.ts). The per-offset coordinates exist only as taps, and
 * are computed on the host from the downloaded z (./plucker.ts), which is far cheaper
 * than forming and downloading [T-d, r(r-1)/2] per offset on the backend.
 *
 * Matrix products run on the backend (XNNPACK on wasm). The other stages (LayerNorm, GELU, the
 * Plücker mean, the gate blend, the next-token NLL) run through BlockOps: single-pass host kernels
 * on wasm and cpu, TensorFlow.js ops elsewhere and whenever a gradient is taken.
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
import { pairCount, planesAtOffset } from './plucker';
import { InputError } from '../util/errors';
import { createBlockOps, type BlockOps, type BlockOpsKind, type PluckerWeights } from './blockOps';
import { hostKernelsAvailable } from './hostKernels';
import { BLOCK_LAYOUT_KERNELS, type BoundNorm } from './layout';
import { layerOffsetPlans, planeLayoutOf } from './offsets';
import type { GrassmannSpec, LayerRoles, LayerShape } from './spec';

export interface TapValue {
  shape: number[];
  data: Float32Array;
}

/** true: every tap; a list: exact tap names, or prefixes ending in '*' ('layers.0.*'). */
export type TapSelection = boolean | readonly string[];

export interface ForwardOptions {
  taps?: TapSelection;
  /**
   * Implementation of the non-matmul stages: 'auto' (default) runs the host kernels on the wasm
   * and cpu backends and TensorFlow.js ops elsewhere; 'composite' forces TensorFlow.js ops (to
   * compare the two); 'host' forces the host kernels (wasm and cpu only).
   */
  ops?: 'auto' | BlockOpsKind;
  /**
   * Awaited before each block (and, in evaluate(), before each batch of chunks) when given: the
   * blocks then run one tf.tidy each, so the caller's event loop turns between them (a cancel
   * message can arrive) and a throw from `pause` stops the pass. Without it the pass is one
   * synchronous tf.tidy, as before.
   */
  pause?: LayerPause;
}

/** See ForwardOptions.pause: yields to the event loop, throws to stop. */
export type LayerPause = () => Promise<void>;

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
  /** Next-token top-1 accuracy over the same predictions. */
  accuracy: number;
  /** Non-overlapping chunks of seqLen tokens; the remainder is dropped. */
  chunks: number;
  /** Next-token predictions scored: chunks * (seqLen - 1). */
  predictions: number;
  seqLen: number;
  /**
   * Per chunk, in text order: the sum of its seqLen - 1 next-token NLLs (nats, summed in float64)
   * and its number of top-1 hits. Summed over the chunks they give mean_nll and accuracy (up to
   * the order of the float64 sums); the pruning report bootstraps over them (../pruning/bootstrap.ts).
   */
  perChunk: { nll: number[]; correct: number[] };
}

/** y = x W^T + b with W stored pre-transposed as [in, out] (the fast layout on every backend). */
function linear(x: tf.Tensor2D, weightT: tf.Tensor2D, bias: tf.Tensor1D, activation: 'linear' | 'sigmoid' = 'linear'): tf.Tensor2D {
  return tf.fused.matMul({ a: x, b: weightT, bias, activation }) as tf.Tensor2D;
}

interface LayerWeights {
  norm1Weight: tf.Tensor1D;
  norm1Bias: tf.Tensor1D;
  /** W_red^T [d, r] */
  reduceT: tf.Tensor2D;
  reduceBias: tf.Tensor1D;
  plucker: PluckerWeights;
  /** W_gate^T [2d, d] (rows 0..d-1 act on h, d..2d-1 on g) */
  gateT: tf.Tensor2D;
  gateBias: tf.Tensor1D;
  /** The LayerNorm inside the mixing module, or null when the architecture has none. */
  mixNormWeight: tf.Tensor1D | null;
  mixNormBias: tf.Tensor1D | null;
  norm2Weight: tf.Tensor1D;
  norm2Bias: tf.Tensor1D;
  /** ffn.0^T [d, f] */
  ffnInT: tf.Tensor2D;
  ffnInBias: tf.Tensor1D;
  /** ffn.3^T [f, d] */
  ffnOutT: tf.Tensor2D;
  ffnOutBias: tf.Tensor1D;
}

/**
 * Collects intermediate tensors by tap name when the caller asked for them, in the order the
 * forward pass produces them. The Plücker taps are derived on the host: for them the sink keeps
 * the layer's z and the names, in place.
 */
class TapSink {
  readonly tensors: Record<string, tf.Tensor> = {};
  /** z [T, r] of each layer (by index) whose Plücker taps were asked for. */
  readonly planeStates: Record<string, tf.Tensor> = {};
  readonly order: string[] = [];
  /**
   * `kept`: the pass runs one tf.tidy per block (ForwardOptions.pause), so each tensor recorded is
   * a kept clone (same data, its own handle): the block's tidy and the pass's disposal of its
   * residual streams leave it alone.
   */
  constructor(private readonly selection: TapSelection, private readonly kept = false) {}

  private hold(t: tf.Tensor): tf.Tensor {
    return this.kept ? tf.keep(tf.clone(t)) : t;
  }

  wants(name: string): boolean {
    if (this.selection === true) return true;
    if (this.selection === false) return false;
    return this.selection.some((s) => (s.endsWith('*') ? name.startsWith(s.slice(0, -1)) : s === name));
  }

  /** Records `make()` under `name` if wanted (make is only called then). */
  put(name: string, make: () => tf.Tensor): void {
    if (!this.wants(name)) return;
    this.tensors[name] = this.hold(make());
    this.order.push(name);
  }

  /** Keeps z of layer l for the wanted plucker / plucker_norm taps of the given offsets. */
  putPlanes(layer: number, z: tf.Tensor, offsets: readonly number[]): void {
    let wanted = false;
    for (const d of offsets) {
      for (const name of [`layers.${layer}.plucker_norm.${d}`, `layers.${layer}.plucker.${d}`]) {
        if (!this.wants(name)) continue;
        this.order.push(name);
        wanted = true;
      }
    }
    if (wanted) this.planeStates[layer] = this.hold(z);
  }
}

/** The stages of a block that StageHook sees, in order. */
export type BlockStage =
  | 'input' | 'mix_in' | 'z' | 'g' | 'alpha' | 'mix_out' | 'mix_sum' | 'mid'
  | 'ffn_in' | 'ffn_pre' | 'ffn_act' | 'ffn_out' | 'ffn_sum' | 'block_out';

/**
 * Sees each stage tensor of each block as the forward pass makes it (inside the caller's
 * tf.tidy); a returned tensor replaces the stage's value downstream (a gradient probe).
 */
export type StageHook = (layer: number, stage: BlockStage, value: tf.Tensor) => tf.Tensor | void;

/** The weights of one block as the runtime holds them (see LayerWeights). */
export type BlockWeights = Readonly<LayerWeights>;

/** The model's weights, for the relevance engine (../relevance): read only. */
export interface ModelInternals {
  tokenEmbedding: tf.Tensor2D;
  positionEmbedding: tf.Tensor2D;
  layers: readonly BlockWeights[];
  finalNormWeight: tf.Tensor1D;
  finalNormBias: tf.Tensor1D;
  /** lm_head^T [d, V] */
  lmHeadT: tf.Tensor2D;
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
  ) {}

  private readonly opsByKind = new Map<BlockOpsKind, BlockOps>();

  /** Transposes made by `transposed`, kept (and disposed) with the weights. */
  private readonly transposes = new Map<tf.Tensor, Map<number, tf.Tensor2D>>();

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
    /** A bias the implementation may leave out (null): zeros of the given length. */
    const biasOrZeros = async (name: string | null, length: number): Promise<tf.Tensor1D> => (name ? vector(name) : keep(tf.zeros([length]) as tf.Tensor1D));
    /** A [out, in] weight stored transposed as [in, out]. */
    const transposed = async (name: string, rows: number, cols: number): Promise<tf.Tensor2D> => {
      const data = await read(name);
      return keep(tf.tidy(() => tf.transpose(tf.tensor2d(data, [rows, cols]))));
    };

    try {
      const { vocabSize: V, modelDim: d, maxPositions: Tmax } = spec.dims;
      const roles = spec.roles;
      const embeddingData = await read(roles.global.tokenEmbedding);
      const tokenEmbedding = keep(tf.tensor2d(embeddingData, [V, d]));
      // No learned positions: a table of zeros (embed() adds nothing).
      const positionEmbedding = roles.global.positionEmbedding
        ? keep(tf.tensor2d(await read(roles.global.positionEmbedding), [Tmax, d]))
        : keep(tf.zeros([Tmax, d]) as tf.Tensor2D);
      const lmHeadT = roles.global.lmHead
        ? await transposed(roles.global.lmHead, V, d)
        : keep(tf.tidy(() => tf.transpose(tokenEmbedding)));

      const layers: LayerWeights[] = [];
      for (const [l, layer] of roles.layers.entries()) {
        layers.push(await GrassmannModel.loadLayer(layer, spec.layerShapes[l], read, keep, transposed, vector, biasOrZeros, d));
      }
      const model = new GrassmannModel(
        spec,
        checkpoint.path,
        tokenEmbedding,
        positionEmbedding,
        layers,
        await vector(roles.global.finalNormWeight),
        await vector(roles.global.finalNormBias),
        lmHeadT,
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
    /** This block's sizes: r_l, P_l, f_l and its pair order. */
    shape: LayerShape,
    read: (name: string) => Promise<Float32Array>,
    keep: <T extends tf.Tensor>(t: T) => T,
    transposed: (name: string, rows: number, cols: number) => Promise<tf.Tensor2D>,
    vector: (name: string) => Promise<tf.Tensor1D>,
    biasOrZeros: (name: string | null, length: number) => Promise<tf.Tensor1D>,
    d: number,
  ): Promise<LayerWeights> {
    const { reducedDim: r, pairCount: P, ffDim: f } = shape;
    // W_plu [d, P] and b_plu [d], in the two layouts of PluckerWeights (./blockOps.ts):
    //  onPairs [P + 1, d]: row k = W_plu[:, k], last row b_plu;
    //  onOuter [r*r + 1, d]: column k of W_plu, for pair (i, j), goes to row i*r+j with sign +
    //  and to row j*r+i with sign - (the diagonal stays 0); last row b_plu.
    const plucker = await read(roles.pluckerWeight);
    const pluckerBias = roles.pluckerBias ? await read(roles.pluckerBias) : new Float32Array(d);
    const onPairs = new Float32Array((P + 1) * d);
    const onOuter = new Float32Array((r * r + 1) * d);
    for (let k = 0; k < P; k++) {
      const upper = (shape.pairFirst[k] * r + shape.pairSecond[k]) * d;
      const lower = (shape.pairSecond[k] * r + shape.pairFirst[k]) * d;
      for (let o = 0; o < d; o++) {
        const w = plucker[o * P + k];
        onPairs[k * d + o] = w;
        onOuter[upper + o] = w;
        onOuter[lower + o] = -w;
      }
    }
    onPairs.set(pluckerBias, P * d);
    onOuter.set(pluckerBias, r * r * d);
    return {
      norm1Weight: await vector(roles.norm1Weight),
      norm1Bias: await vector(roles.norm1Bias),
      reduceT: await transposed(roles.reduceWeight, r, d),
      reduceBias: await biasOrZeros(roles.reduceBias, r),
      plucker: { onPairs: keep(tf.tensor2d(onPairs, [P + 1, d])), onOuter: keep(tf.tensor2d(onOuter, [r * r + 1, d])) },
      gateT: await transposed(roles.gateWeight, d, 2 * d),
      gateBias: await biasOrZeros(roles.gateBias, d),
      mixNormWeight: roles.mixNormWeight ? await vector(roles.mixNormWeight) : null,
      mixNormBias: roles.mixNormWeight ? await biasOrZeros(roles.mixNormBias, d) : null,
      norm2Weight: await vector(roles.norm2Weight),
      norm2Bias: await vector(roles.norm2Bias),
      ffnInT: await transposed(roles.ffnInWeight, f, d),
      ffnInBias: await biasOrZeros(roles.ffnInBias, f),
      ffnOutT: await transposed(roles.ffnOutWeight, d, f),
      ffnOutBias: await biasOrZeros(roles.ffnOutBias, d),
    };
  }

  /** Releases every weight tensor. The model cannot be used afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const all: tf.Tensor[] = [this.tokenEmbedding, this.positionEmbedding, this.finalNormWeight, this.finalNormBias, this.lmHeadT];
    for (const { plucker, ...rest } of this.layers) all.push(plucker.onPairs, plucker.onOuter, ...(Object.values(rest) as (tf.Tensor | null)[]).filter((t): t is tf.Tensor => t !== null));
    for (const byRows of this.transposes.values()) all.push(...byRows.values());
    this.transposes.clear();
    // lmHeadT may be the only owner of the transposed embedding; dispose each tensor once.
    for (const t of new Set(all)) t.dispose();
  }

  // -------------------------------------------------------------------------------------------
  // Public API
  // -------------------------------------------------------------------------------------------

  /**
   * Logits [T, V] for one sequence, and the requested taps (shapes without a batch axis):
   * embeddings [T,d]; layers.l.mix_in [T,d], .z [T,r_l], .plucker.D [T-D, P_l] and .plucker_norm.D
   * [T-D] for each distinct offset D < T of block l's window list, .g, .alpha, .mix_out, .block_out [T,d]; logits [T,V];
   * nll [T-1] (next-token negative log-likelihood).
   */
  async forward(ids: readonly number[], opts: ForwardOptions = {}): Promise<ForwardResult> {
    this.checkIds(ids);
    const T = ids.length;
    const V = this.spec.dims.vocabSize;
    const ops = this.blockOps(opts.ops ?? 'auto');
    const { pause } = opts;
    const sink = new TapSink(opts.taps ?? false, pause !== undefined);
    let logits: tf.Tensor2D;
    if (!pause) {
      logits = tf.tidy(() => {
        const embeddings = this.embed([ids]);
        sink.put('embeddings', () => embeddings);
        const hidden = this.runBlocks(embeddings, 1, T, ops, sink);
        const logits = this.project(hidden, ops);
        sink.put('logits', () => logits);
        sink.put('nll', () => ops.nextTokenNll(logits, [ids]));
        return { logits, taps: sink.tensors, planeStates: sink.planeStates };
      }).logits;
    } else {
      const embeddings = tf.tidy(() => {
        const embeddings = this.embed([ids]);
        sink.put('embeddings', () => embeddings);
        return embeddings;
      });
      try {
        const hidden = await this.runBlocksStepwise(embeddings, 1, T, ops, sink, null, pause);
        logits = tf.tidy(() => {
          const logits = this.project(hidden, ops);
          sink.put('logits', () => logits);
          sink.put('nll', () => ops.nextTokenNll(logits, [ids]));
          return logits;
        });
        hidden.dispose();
      } catch (e) {
        for (const t of [...Object.values(sink.tensors), ...Object.values(sink.planeStates)]) t.dispose();
        throw e;
      } finally {
        embeddings.dispose();
      }
    }
    const { tensors: taps, planeStates } = sink;
    try {
      const logitsData = (await logits.data()) as Float32Array;
      const values = new Map<string, TapValue>();
      for (const [name, tensor] of Object.entries(taps)) {
        values.set(name, { shape: tensor.shape.slice(), data: name === 'logits' ? logitsData : ((await tensor.data()) as Float32Array) });
      }
      // Plücker taps, from each layer's z on the host (each block with its own r and offsets).
      const plans = layerOffsetPlans(this.spec, T);
      for (const [layer, zTensor] of Object.entries(planeStates)) {
        const layout = planeLayoutOf(this.spec, Number(layer));
        const r = layout.reducedDim;
        const z = values.get(`layers.${layer}.z`)?.data ?? ((await zTensor.data()) as Float32Array);
        for (const offset of plans[Number(layer)].offsets) {
          const planes = planesAtOffset(z, T, offset, layout);
          values.set(`layers.${layer}.plucker_norm.${offset}`, { shape: [planes.count], data: planes.norms });
          values.set(`layers.${layer}.plucker.${offset}`, { shape: [planes.count, pairCount(r)], data: planes.coordinates });
        }
      }
      const result: ForwardResult = { logits: logitsData, logitsShape: [T, V], taps: new Map() };
      for (const name of sink.order) result.taps.set(name, values.get(name)!);
      return result;
    } finally {
      logits.dispose();
      for (const t of Object.values(taps)) t.dispose();
      for (const t of Object.values(planeStates)) t.dispose();
    }
  }

  /**
   * W_plu p + b_plu of layer `layer` for `count` Plücker vectors p (row-major [count, P_l], pairs
   * in row-major order, P_l = spec.layerShapes[layer].pairCount): [count, d]. Each offset's term of g before the mean.
   */
  async pluckerProjection(layer: number, coordinates: Float32Array, count: number): Promise<Float32Array> {
    if (this.disposed) throw new Error('the model has been disposed');
    const w = this.layers[layer];
    if (!w) throw new RangeError(`layer ${layer} does not exist (the model has ${this.layers.length})`);
    const P = this.spec.layerShapes[layer].pairCount;
    if (count === 0) return new Float32Array(0);
    const out = tf.tidy(() => {
      const withOne = tf.concat([tf.tensor2d(coordinates, [count, P]), tf.ones([count, 1])], 1) as tf.Tensor2D; // [p, 1]
      return tf.matMul(withOne, w.plucker.onPairs); // [W_plu^T ; b_plu]
    });
    try {
      return (await out.data()) as Float32Array;
    } finally {
      out.dispose();
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
    const ops = this.blockOps('composite'); // the host kernels have no gradients
    const grad = tf.tidy(() => {
      const embeddings = this.embed([ids]);
      const headColumn = tf.slice(this.lmHeadT, [0, targetId], [d, 1]); // [d, 1]
      const targetLogit = (x: tf.Tensor): tf.Tensor => {
        const hidden = this.runBlocks(x as tf.Tensor2D, 1, T, ops, null); // [T, d]
        const row = tf.slice(hidden, [position, 0], [1, d]); // LayerNorm is per row
        const normed = ops.layerNorm(row, this.finalNormWeight, this.finalNormBias, this.spec.layerNormEps);
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

  /** The weights, for the relevance engine (../relevance). Do not dispose them. */
  /**
   * The transpose of one of this model's weight tensors (or of its first `rows` rows), made on
   * first use and kept until the model is disposed. Backward passes (LRP) multiply by W where
   * the forward pass holds W^T: a stored W keeps that product a plain one, which backends run
   * fastest (wasm: XNNPACK, with the packed weights cached).
   */
  transposed(weight: tf.Tensor2D, rows = weight.shape[0]): tf.Tensor2D {
    if (this.disposed) throw new Error('the model has been disposed');
    let byRows = this.transposes.get(weight);
    if (!byRows) this.transposes.set(weight, (byRows = new Map()));
    let t = byRows.get(rows);
    if (!t) {
      // Kept: a caller's tf.tidy must not dispose what the model holds.
      t = tf.keep(tf.tidy(() => tf.transpose(rows === weight.shape[0] ? weight : tf.slice(weight, [0, 0], [rows, weight.shape[1]])) as tf.Tensor2D));
      byRows.set(rows, t);
    }
    return t;
  }

  internals(): ModelInternals {
    if (this.disposed) throw new Error('the model has been disposed');
    return {
      tokenEmbedding: this.tokenEmbedding,
      positionEmbedding: this.positionEmbedding,
      layers: this.layers,
      finalNormWeight: this.finalNormWeight,
      finalNormBias: this.finalNormBias,
      lmHeadT: this.lmHeadT,
    };
  }

  /**
   * The final residual stream [T, d] of one sequence, with `hook` seeing every block stage; call
   * inside tf.tidy. 'composite' ops when a gradient is taken through it (the host kernels have
   * none). The relevance engine records the stages with it and probes them for gradients.
   */
  trace(ids: readonly number[], hook: StageHook, ops: 'auto' | BlockOpsKind = 'auto', embeddings?: tf.Tensor2D): tf.Tensor2D {
    this.checkIds(ids);
    return this.runBlocks(embeddings ?? this.embed([ids]), 1, ids.length, this.blockOps(ops), null, hook);
  }

  /**
   * Perplexity protocol of the reference (manifest `eval.note`): the token ids of the whole text
   * (encoded once, with [CLS]/[SEP]) are cut into non-overlapping chunks of seqLen tokens, the
   * remainder is dropped, and the next-token NLL is averaged over all predictions of all chunks.
   */
  async evaluate(ids: readonly number[], seqLen: number = this.spec.dims.maxPositions, opts: Pick<ForwardOptions, 'ops' | 'pause'> = {}): Promise<EvaluationResult> {
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
    const ops = this.blockOps(opts.ops ?? 'auto');
    let nllSum = 0;
    let correct = 0;
    const chunkNll: number[] = [];
    const chunkCorrect: number[] = [];
    for (let start = 0; start < chunks; start += batchSize) {
      const batch: number[][] = [];
      for (let c = start; c < Math.min(chunks, start + batchSize); c++) batch.push(ids.slice(c * seqLen, (c + 1) * seqLen) as number[]);
      const headOf = (hidden: tf.Tensor2D): tf.Tensor[] => {
        const logits = this.project(hidden, ops);
        return [ops.nextTokenNll(logits, batch), tf.argMax(logits, 1)];
      };
      let nll: tf.Tensor;
      let best: tf.Tensor;
      if (!opts.pause) {
        [nll, best] = tf.tidy(() => headOf(this.runBlocks(this.embed(batch), batch.length, seqLen, ops, null)));
      } else {
        // Block by block (ForwardOptions.pause), so a cancel is seen within one block of one batch.
        const embeddings = tf.tidy(() => this.embed(batch));
        try {
          const hidden = await this.runBlocksStepwise(embeddings, batch.length, seqLen, ops, null, null, opts.pause);
          [nll, best] = tf.tidy(() => headOf(hidden));
          hidden.dispose();
        } finally {
          embeddings.dispose();
        }
      }
      const values = await nll.data();
      const argmax = await best.data();
      nll.dispose();
      best.dispose();
      for (let i = 0; i < values.length; i++) nllSum += values[i];
      // Top-1: the most likely token at t is the token at t + 1 (ties go to the lowest id).
      // values holds seqLen - 1 NLLs per chunk of the batch, chunk after chunk.
      batch.forEach((chunk, b) => {
        let sum = 0;
        let hits = 0;
        for (let t = 0; t + 1 < seqLen; t++) {
          sum += values[b * (seqLen - 1) + t];
          if (argmax[b * seqLen + t] === chunk[t + 1]) hits++;
        }
        chunkNll.push(sum);
        chunkCorrect.push(hits);
        correct += hits;
      });
    }
    const predictions = chunks * (seqLen - 1);
    const meanNll = nllSum / predictions;
    return {
      mean_nll: meanNll, perplexity: Math.exp(meanNll), accuracy: correct / predictions, chunks, predictions, seqLen,
      perChunk: { nll: chunkNll, correct: chunkCorrect },
    };
  }

  // -------------------------------------------------------------------------------------------
  // The computation (called inside tf.tidy)
  // -------------------------------------------------------------------------------------------

  /** The implementation of the non-matmul stages (see ForwardOptions.ops). */
  private blockOps(choice: 'auto' | BlockOpsKind): BlockOps {
    const backend = tf.getBackend();
    const kind: BlockOpsKind = choice === 'auto' ? (hostKernelsAvailable(backend) ? 'host' : 'composite') : choice;
    if (kind === 'host' && !hostKernelsAvailable(backend)) {
      throw new Error(`the host kernels run on the wasm and cpu backends only (active backend: ${backend})`);
    }
    let ops = this.opsByKind.get(kind);
    if (!ops) this.opsByKind.set(kind, (ops = createBlockOps(this.spec, kind)));
    return ops;
  }

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

  /**
   * All blocks on the residual stream x [B*T, d]; returns the final residual stream. The block
   * layout (spec.variant.block: where the LayerNorms sit, whether x is added to the mixing
   * output) comes from ./layout.ts; stage 'mix_sum' / 'ffn_sum' is the sum before a post-norm
   * LayerNorm (the mixing output itself without a residual), absent in pre-norm.
   */
  private runBlocks(embeddings: tf.Tensor2D, batch: number, T: number, ops: BlockOps, sink: TapSink | null, hook: StageHook | null = null): tf.Tensor2D {
    const plans = layerOffsetPlans(this.spec, T); // each block's own window list
    let x = embeddings;
    for (let l = 0; l < this.layers.length; l++) x = this.runBlock(l, x, plans[l], batch, T, ops, sink, hook);
    return x;
  }

  /**
   * runBlocks with each block in its own tf.tidy and `pause` awaited before each (ForwardOptions.pause).
   * Returns the final residual stream (the caller disposes it; `embeddings` stays the caller's).
   * A hook that keeps a stage tensor past its block keeps a clone (tf.keep(tf.clone(value))).
   */
  private async runBlocksStepwise(embeddings: tf.Tensor2D, batch: number, T: number, ops: BlockOps, sink: TapSink | null, hook: StageHook | null, pause: LayerPause): Promise<tf.Tensor2D> {
    const plans = layerOffsetPlans(this.spec, T);
    let x = embeddings;
    try {
      for (let l = 0; l < this.layers.length; l++) {
        await pause();
        if (this.disposed) throw new Error('the model has been disposed');
        const input = x;
        x = tf.tidy(() => this.runBlock(l, input, plans[l], batch, T, ops, sink, hook));
        if (input !== embeddings) input.dispose();
      }
      return x;
    } catch (e) {
      if (x !== embeddings) x.dispose();
      throw e;
    }
  }

  /**
   * Like trace(), block by block with `pause` awaited before each (ForwardOptions.pause); the hook
   * runs inside each block's tf.tidy, so what it keeps it keeps as tf.keep(tf.clone(value)).
   * Returns the final residual stream, which the caller disposes; `embeddings` stays the caller's.
   */
  traceStepwise(ids: readonly number[], hook: StageHook, pause: LayerPause, embeddings: tf.Tensor2D): Promise<tf.Tensor2D> {
    this.checkIds(ids);
    return this.runBlocksStepwise(embeddings, 1, ids.length, this.blockOps('auto'), null, hook, pause);
  }

  /** Block l on the residual stream x [B*T, d] (inside the caller's tf.tidy). */
  private runBlock(l: number, input: tf.Tensor2D, plan: ReturnType<typeof layerOffsetPlans>[number], batch: number, T: number, ops: BlockOps, sink: TapSink | null, hook: StageHook | null): tf.Tensor2D {
    const eps = this.spec.layerNormEps;
    const layout = BLOCK_LAYOUT_KERNELS[this.spec.variant.block];
    const w = this.layers[l];
    let x = input;
    {
      const tap = (name: string, make: () => tf.Tensor): void => sink?.put(`layers.${l}.${name}`, make);
      const stage = <T extends tf.Tensor>(name: BlockStage, t: T): T => (hook ? ((hook(l, name, t) as T | undefined) ?? t) : t);
      const norm1: BoundNorm = (v) => ops.layerNorm(v, w.norm1Weight, w.norm1Bias, eps);
      const norm2: BoundNorm = (v) => ops.layerNorm(v, w.norm2Weight, w.norm2Bias, eps);

      x = stage('input', x);
      const h = stage('mix_in', layout.mixInput(x, norm1)); // the mixing module's input   [BT, d]
      tap('mix_in', () => h);
      const z = stage('z', linear(h, w.reduceT, w.reduceBias)); // z_t = W_red h_t + b_red   [BT, r]
      tap('z', () => z);
      sink?.putPlanes(l, z, plan.offsets); // plucker.{d}, plucker_norm.{d}: derived from z on the host
      const g = stage('g', ops.grassmannFeatures(z, w.plucker, plan, batch, T)); // [BT, d]
      tap('g', () => g);

      // alpha = sigmoid(W_gate [h ; g] + b_gate)   [BT, d]
      const alpha = stage('alpha', linear(tf.concat([h, g], 1), w.gateT, w.gateBias, 'sigmoid'));
      tap('alpha', () => alpha);
      // alpha h + (1 - alpha) g, h + alpha g or alpha g, through the mixing's own LayerNorm if any   [BT, d]
      const norm = w.mixNormWeight && w.mixNormBias ? { weight: w.mixNormWeight, bias: w.mixNormBias } : null;
      const mixOut = stage('mix_out', ops.mixOutput(h, g, alpha, norm, eps));
      tap('mix_out', () => mixOut);
      const afterMix = layout.afterMix(x, mixOut, norm1);
      if (afterMix.sum) stage('mix_sum', afterMix.sum);
      x = stage('mid', afterMix.out);

      // FFN: W_out act(W_in x_in + b_in) + b_out, x_in = LN_f(x) (pre-norm) or x
      const ffIn = stage('ffn_in', layout.ffnInput(x, norm2));
      const ffPre = stage('ffn_pre', linear(ffIn, w.ffnInT, w.ffnInBias)); // [BT, f]
      const hiddenFf = stage('ffn_act', ops.activation(ffPre));
      const ffOut = stage('ffn_out', linear(hiddenFf, w.ffnOutT, w.ffnOutBias));
      const afterFfn = layout.afterFfn(x, ffOut, norm2);
      if (afterFfn.sum) stage('ffn_sum', afterFfn.sum);
      x = stage('block_out', afterFfn.out);
      tap('block_out', () => x);
    }
    return x;
  }

  /** logits = LayerNorm_f(x) lm_head^T   [BT, V] */
  private project(hidden: tf.Tensor2D, ops: BlockOps): tf.Tensor2D {
    const normed = ops.layerNorm(hidden, this.finalNormWeight, this.finalNormBias, this.spec.layerNormEps);
    return tf.matMul(normed, this.lmHeadT);
  }
}

/** Loads a model for a recognised spec; convenience for callers holding a Checkpoint. */
export async function loadGrassmannModel(checkpoint: Checkpoint, spec: GrassmannSpec): Promise<GrassmannModel> {
  return GrassmannModel.load(checkpoint, spec);
}
