/**
 * The non-matmul stages of a GrassmannGPT block, in two interchangeable implementations:
 *
 *  - `composite`: TensorFlow.js ops. Differentiable (gradients go through it) and what the native
 *    backends (tensorflow, tensorflow-gpu) run, where data stays on the device.
 *  - `host`: the single-pass kernels of ./hostKernels.ts, for the backends whose tensors live in
 *    host memory (wasm, cpu). Forward only.
 *
 * Both compute the same functions; the parity tests run the reference fixture through each.
 * Shapes: one row per position, sequences of T positions one after another ([B*T, ...]).
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  GATE_BLEND_NORM_KERNEL,
  GELU_KERNEL,
  LAYER_NORM_KERNEL,
  NEXT_TOKEN_NLL_KERNEL,
  PLUCKER_MEAN_KERNEL,
  registerHostKernels,
} from './hostKernels';
import { ACTIVATION_KERNELS, AGGREGATION_KERNELS, MIX_OUTPUT_KERNELS, PAIRING_SHIFTS } from './layout';
import type { OffsetPlan } from './offsets';
import type { GrassmannSpec } from './spec';

export type BlockOpsKind = 'host' | 'composite';

/** W_plu and b_plu, laid out for each implementation (built once when the model loads). */
export interface PluckerWeights {
  /** [P + 1, d]: W_plu^T, then b_plu as the last row (host: features are [p_mean, 1]). */
  onPairs: tf.Tensor2D;
  /**
   * [r*r + 1, d] (composite): W_plu on the outer product z m^T, row i*r+j = +W_plu[:, pair(i,j)]
   * for i < j, -W_plu[:, pair(j,i)] for i > j, 0 on the diagonal; then b_plu as the last row.
   */
  onOuter: tf.Tensor2D;
}

export interface BlockOps {
  readonly kind: BlockOpsKind;
  /** LayerNorm over the last axis: (x - mean) / sqrt(var + eps) * weight + bias (biased variance). */
  layerNorm(x: tf.Tensor2D, weight: tf.Tensor1D, bias: tf.Tensor1D, eps: number): tf.Tensor2D;
  /** Exact (erf) GELU. */
  gelu(x: tf.Tensor2D): tf.Tensor2D;
  /** The FFN activation of the spec (exact GELU, tanh GELU or ReLU). */
  activation(x: tf.Tensor2D): tf.Tensor2D;
  /**
   * g_t from the offsets valid at t (spec.variant.aggregation): mean_d(W_plu p_hat_t^(d) + b_plu),
   * 0 where none, or W_plu mean_d(p_hat) + b_plu, b_plu where none; p_hat = p / max(||p||,
   * pluckerEps). z: [BT, r] -> [BT, d]; r is the block's own (z's columns), `plan` the block's
   * offsets and `weights` its W_plu.
   */
  grassmannFeatures(z: tf.Tensor2D, weights: PluckerWeights, plan: OffsetPlan, batch: number, T: number): tf.Tensor2D;
  /**
   * The mixing module's output (spec.variant.mixOutput: alpha h + (1 - alpha) g, h + alpha g or
   * alpha g), through its own LayerNorm when `norm` is given.
   */
  mixOutput(h: tf.Tensor2D, g: tf.Tensor2D, alpha: tf.Tensor2D, norm: { weight: tf.Tensor1D; bias: tf.Tensor1D } | null, eps: number): tf.Tensor2D;
  /** -log softmax(logits_t)[id_{t+1}] for t < T-1 of each sequence: [B*(T-1)]. */
  nextTokenNll(logits: tf.Tensor2D, batch: readonly (readonly number[])[]): tf.Tensor1D;
}

/** Repeats a per-position array (row-major [T, ...]) for each sequence of a batch. */
export function tileRows(values: Float32Array, batch: number): Float32Array {
  if (batch === 1) return values;
  const out = new Float32Array(values.length * batch);
  for (let b = 0; b < batch; b++) out.set(values, b * values.length);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Composite (TensorFlow.js ops)
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

function compositeLayerNorm(x: tf.Tensor2D, weight: tf.Tensor1D, bias: tf.Tensor1D, eps: number): tf.Tensor2D {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps))), weight), bias);
}

/** The activation of `spec` given the exact GELU of an implementation of the block ops. */
function activationOf(spec: GrassmannSpec, exactGelu: (x: tf.Tensor2D) => tf.Tensor2D): (x: tf.Tensor2D) => tf.Tensor2D {
  const kind = spec.variant.activation;
  return kind === 'gelu' ? exactGelu : ACTIVATION_KERNELS[kind];
}

/** g where no offset is valid anywhere (T = 1, every offset >= T, or no offsets): 0 or b_plu. */
function featuresWithoutPlanes(spec: GrassmannSpec, weights: PluckerWeights, rows: number): tf.Tensor2D {
  const d = spec.dims.modelDim;
  if (!AGGREGATION_KERNELS[spec.variant.aggregation].biasEverywhere) return tf.zeros([rows, d]);
  const P = weights.onPairs.shape[0] - 1;
  return tf.tile(tf.slice(weights.onPairs, [P, 0], [1, d]), [rows, 1]) as tf.Tensor2D;
}

function createCompositeOps(spec: GrassmannSpec): BlockOps {
  const { vocabSize: V } = spec.dims;
  const aggregation = AGGREGATION_KERNELS[spec.variant.aggregation];
  const planeEpsSquared = spec.variant.pluckerEps * spec.variant.pluckerEps;
  const exactGelu = (x: tf.Tensor2D): tf.Tensor2D => gelu(x) as tf.Tensor2D;
  return {
    kind: 'composite',
    layerNorm: compositeLayerNorm,
    gelu: exactGelu,
    activation: activationOf(spec, exactGelu),
    grassmannFeatures(z, weights, plan, batch, T) {
      const rows = batch * T;
      const r = z.shape[1]; // this block's reduced dimension r_l
      const K = plan.offsets.length;
      if (K === 0) return featuresWithoutPlanes(spec, weights, rows);
      // Partner states q_k(t) = z_{t-d_k} (or z_{t+d_k}), zero rows where the partner is outside
      // the sequence (their weight below is 0).   [BT, K, r]
      const zSeq = tf.reshape(z, [batch, T, r]) as tf.Tensor3D;
      const partners = tf.reshape(
        tf.stack(
          plan.offsets.map((offset) => PAIRING_SHIFTS[spec.variant.pairing](zSeq, offset)),
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
      // max(||p||, eps) as sqrt(max(||p||^2, eps^2)): same value, finite gradient at p = 0
      const clampedArea = tf.sqrt(tf.maximum(areaSquared, planeEpsSquared));
      // p is bilinear, and z_t is shared by all offsets, so the weighted mean of the normalised
      // planes is itself a wedge:  sum_k c_k (z_t ^ q_k) = z_t ^ m_t,  m_t = sum_k c_k q_k,
      // c_k = (multiplicity of d_k / total multiplicity valid at t) / max(||p_k||, eps).
      const coefficients = tf.div(tf.tensor2d(tileRows(plan.weights, batch), [rows, K]), clampedArea); // [BT, K]
      const meanPartner = tf.sum(tf.mul(tf.expandDims(coefficients, 2), partners), 1); // m_t   [BT, r]
      // Outer product z_t m_t^T [BT, r*r] against the antisymmetric layout of W_plu:
      // outer . W = sum_{i<j} W_plu[:, (i,j)] (z_i m_j - z_j m_i) = W_plu mean_d(p_hat); the last
      // column (the aggregation's bias weight: 1 where an offset is valid, else 0; or 1) picks up b_plu.
      const outer = tf.reshape(tf.mul(tf.reshape(z, [rows, r, 1]), tf.reshape(meanPartner, [rows, 1, r])), [rows, r * r]);
      const biasWeight = tf.tensor2d(tileRows(aggregation.biasWeight(plan, T), batch), [rows, 1]);
      return tf.matMul(tf.concat([outer, biasWeight], 1) as tf.Tensor2D, weights.onOuter);
    },
    mixOutput(h, g, alpha, norm, eps) {
      const mixed = MIX_OUTPUT_KERNELS[spec.variant.mixOutput].combine(h, g, alpha);
      return norm ? compositeLayerNorm(mixed, norm.weight, norm.bias, eps) : mixed;
    },
    nextTokenNll(logits, batch) {
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
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Host kernels (wasm, cpu)
// ---------------------------------------------------------------------------------------------

function createHostOps(spec: GrassmannSpec): BlockOps {
  registerHostKernels();
  const run = (name: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, number | number[] | string> = {}) =>
    tf.engine().runKernel(name, inputs as tf.NamedTensorMap, attrs) as tf.Tensor;
  const mix = MIX_OUTPUT_KERNELS[spec.variant.mixOutput];
  const layerNorm = (x: tf.Tensor2D, weight: tf.Tensor1D, bias: tf.Tensor1D, eps: number): tf.Tensor2D => run(LAYER_NORM_KERNEL, { x, weight, bias }, { eps }) as tf.Tensor2D;
  const exactGelu = (x: tf.Tensor2D): tf.Tensor2D => run(GELU_KERNEL, { x }) as tf.Tensor2D;
  return {
    kind: 'host',
    layerNorm,
    gelu: exactGelu,
    activation: activationOf(spec, exactGelu),
    grassmannFeatures(z, weights, plan, batch, T) {
      const K = plan.offsets.length;
      if (K === 0) return featuresWithoutPlanes(spec, weights, batch * T); // no offset valid anywhere (or an empty window list)
      const features = run(PLUCKER_MEAN_KERNEL, { z, weights: tf.tensor2d(tileRows(plan.weights, batch), [batch * T, K]) }, {
        offsets: plan.offsets,
        pairing: spec.variant.pairing,
        seqLen: T,
        planeEps: spec.variant.pluckerEps,
        biasEverywhere: AGGREGATION_KERNELS[spec.variant.aggregation].biasEverywhere ? 1 : 0,
      }) as tf.Tensor2D; // [BT, P + 1]
      return tf.matMul(features, weights.onPairs);
    },
    mixOutput(h, g, alpha, norm, eps) {
      if (norm && mix.host) return run(GATE_BLEND_NORM_KERNEL, { h, g, alpha, weight: norm.weight, bias: norm.bias }, { eps, gating: mix.host }) as tf.Tensor2D;
      const mixed = mix.combine(h, g, alpha);
      return norm ? layerNorm(mixed, norm.weight, norm.bias, eps) : mixed;
    },
    nextTokenNll(logits, batch) {
      const T = batch[0].length;
      if (T < 2) return tf.zeros([0]);
      // softmax is one vectorised kernel on wasm (XNNPACK); the kernel reads the targets' entries.
      return run(NEXT_TOKEN_NLL_KERNEL, { probabilities: tf.softmax(logits), logits, ids: tf.tensor1d(batch.flat() as number[], 'int32') }, { seqLen: T }) as tf.Tensor1D;
    },
  };
}

export function createBlockOps(spec: GrassmannSpec, kind: BlockOpsKind): BlockOps {
  return kind === 'host' ? createHostOps(spec) : createCompositeOps(spec);
}
