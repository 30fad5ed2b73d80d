/**
 * What each architecture option value computes in the forward pass: one table per option
 * (./architecture.ts names the values). Adding a value is one entry here and its relevance rule
 * in ../relevance/layoutRules.ts; the runtime (./grassmann.ts) only looks values up.
 *
 * Call inside tf.tidy. Shapes: one row per position ([B*T, d]).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Activation, Aggregation, BlockLayout, MixOutput, PairingRule } from './architecture';
import type { OffsetPlan } from './offsets';

/** LayerNorm with the block's weights bound (the sub-layer's own gain and bias). */
export type BoundNorm = (x: tf.Tensor2D) => tf.Tensor2D;

export interface SubLayerResult {
  /** The sum before a post-norm LayerNorm (stage mix_sum / ffn_sum), or null in pre-norm. */
  sum: tf.Tensor2D | null;
  /** The sub-layer's output: the next residual stream. */
  out: tf.Tensor2D;
}

export interface BlockLayoutKernel {
  /** Whether the mixing sub-layer's LayerNorm comes before the mixing (pre-norm). */
  normBeforeMix: boolean;
  /** Whether the FFN sub-layer's LayerNorm comes before the FFN. */
  normBeforeFfn: boolean;
  /** Whether x is added to the mixing output. */
  mixResidual: boolean;
  /** h, the mixing module's input, from the block input x. */
  mixInput(x: tf.Tensor2D, norm1: BoundNorm): tf.Tensor2D;
  /** The stream after the mixing sub-layer from x and the mixing output m. */
  afterMix(x: tf.Tensor2D, m: tf.Tensor2D, norm1: BoundNorm): SubLayerResult;
  /** The FFN's input from the stream x'. */
  ffnInput(x: tf.Tensor2D, norm2: BoundNorm): tf.Tensor2D;
  /** The block's output from x' and the FFN's output f. */
  afterFfn(x: tf.Tensor2D, f: tf.Tensor2D, norm2: BoundNorm): SubLayerResult;
}

const add = (a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D => tf.add(a, b) as tf.Tensor2D;

/** pre-norm: x + f(LN(x)); post-norm: LN(x + f(x)). */
const preNorm = {
  normBeforeFfn: true,
  ffnInput: (x: tf.Tensor2D, norm2: BoundNorm) => norm2(x),
  afterFfn: (x: tf.Tensor2D, f: tf.Tensor2D) => ({ sum: null, out: add(x, f) }),
};
const postNormFfn = {
  normBeforeFfn: false,
  ffnInput: (x: tf.Tensor2D) => x,
  afterFfn: (x: tf.Tensor2D, f: tf.Tensor2D, norm2: BoundNorm) => {
    const sum = add(x, f);
    return { sum, out: norm2(sum) };
  },
};

export const BLOCK_LAYOUT_KERNELS: Readonly<Record<BlockLayout, BlockLayoutKernel>> = {
  // x' = x + Mix(LN_a(x)); x'' = x' + FFN(LN_f(x'))   (alphaXiv; LMConfig pre_norm=True)
  'pre-norm': {
    normBeforeMix: true,
    mixResidual: true,
    mixInput: (x, norm1) => norm1(x),
    afterMix: (x, m) => ({ sum: null, out: add(x, m) }),
    ...preNorm,
  },
  // x' = LN_a(x + Mix(x)); x'' = LN_f(x' + FFN(x'))   (LMConfig pre_norm=False)
  'post-norm': {
    normBeforeMix: false,
    mixResidual: true,
    mixInput: (x) => x,
    afterMix: (x, m, norm1) => {
      const sum = add(x, m);
      return { sum, out: norm1(sum) };
    },
    ...postNormFfn,
  },
  // x' = LN_a(Mix(x)); x'' = LN_f(x' + FFN(x'))   (GrassLM)
  'post-norm-no-mix-residual': {
    normBeforeMix: false,
    mixResidual: false,
    mixInput: (x) => x,
    afterMix: (_x, m, norm1) => ({ sum: m, out: norm1(m) }),
    ...postNormFfn,
  },
};

export interface MixOutputKernel {
  /** The mixing module's output before its own LayerNorm (if any). */
  combine(h: tf.Tensor2D, g: tf.Tensor2D, alpha: tf.Tensor2D): tf.Tensor2D;
  /** The two terms whose sum is the output (relevance splits across them): [h-term, g-term]. */
  terms(h: tf.Tensor2D, g: tf.Tensor2D, alpha: tf.Tensor2D): [tf.Tensor2D | null, tf.Tensor2D];
  /** The host kernel's name for it (./hostKernels.ts gateBlendNormRows), when it has one. */
  host?: 'blend' | 'additive';
}

export const MIX_OUTPUT_KERNELS: Readonly<Record<MixOutput, MixOutputKernel>> = {
  // alpha h + (1 - alpha) g
  blend: {
    combine: (h, g, alpha) => tf.add(g, tf.mul(alpha, tf.sub(h, g))) as tf.Tensor2D,
    terms: (h, g, alpha) => [tf.mul(alpha, h) as tf.Tensor2D, tf.mul(tf.sub(1, alpha), g) as tf.Tensor2D],
    host: 'blend',
  },
  // h + alpha g
  additive: {
    combine: (h, g, alpha) => tf.add(h, tf.mul(alpha, g)) as tf.Tensor2D,
    terms: (h, g, alpha) => [h, tf.mul(alpha, g) as tf.Tensor2D],
    host: 'additive',
  },
  // alpha g
  'gated-geometry': {
    combine: (_h, g, alpha) => tf.mul(alpha, g) as tf.Tensor2D,
    terms: (_h, g, alpha) => [null, tf.mul(alpha, g) as tf.Tensor2D],
  },
};

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** The activations other than the exact GELU (which BlockOps runs, host or composite). */
export const ACTIVATION_KERNELS: Readonly<Record<Exclude<Activation, 'gelu'>, (x: tf.Tensor2D) => tf.Tensor2D>> = {
  // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))   (torch GELU(approximate='tanh'))
  'gelu-tanh': (x) =>
    tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(tf.mul(SQRT_2_OVER_PI, tf.add(x, tf.mul(0.044715, tf.pow(x, 3))))))) as tf.Tensor2D,
  relu: (x) => tf.relu(x) as tf.Tensor2D,
};

export interface AggregationKernel {
  /**
   * The weight of b_plu at each position ([T]): 1 where some offset is valid and 0 elsewhere
   * (project then average: g = 0 there), or 1 everywhere (average then project: g = b_plu there).
   */
  biasWeight(plan: OffsetPlan, seqLen: number): Float32Array;
  /** The same for the host kernel: whether the bias column is 1 at every position. */
  biasEverywhere: boolean;
}

export const AGGREGATION_KERNELS: Readonly<Record<Aggregation, AggregationKernel>> = {
  'project-then-mean': { biasWeight: (plan) => plan.hasOffset, biasEverywhere: false },
  'mean-then-project': { biasWeight: (_plan, seqLen) => new Float32Array(seqLen).fill(1), biasEverywhere: true },
};

/**
 * The partner states of every position as a tensor: zSeq [B, T, r] shifted so that row t holds
 * z_{t-d} ('previous') or z_{t+d} ('next'), zero where the partner is outside the sequence
 * (./offsets.ts PAIRING_POSITIONS is the same rule for host code).
 */
export const PAIRING_SHIFTS: Readonly<Record<PairingRule, (zSeq: tf.Tensor3D, offset: number) => tf.Tensor3D>> = {
  previous: (zSeq, d) => {
    const [B, T, r] = zSeq.shape;
    return tf.pad(tf.slice(zSeq, [0, 0, 0], [B, T - d, r]), [[0, 0], [d, 0], [0, 0]]);
  },
  next: (zSeq, d) => {
    const [B, T, r] = zSeq.shape;
    return tf.pad(tf.slice(zSeq, [0, d, 0], [B, T - d, r]), [[0, 0], [0, d], [0, 0]]);
  },
};
