/**
 * Layer-wise relevance propagation (LRP) through a whole GrassmannGPT (grassmann-math.md §4).
 *
 * The forward pass is recorded stage by stage (GrassmannModel.trace), then relevance flows back
 * from the target logits to the input tokens. Rules, for y = stage(x):
 *
 *  - linear maps y = a W^T + b (lm_head, ffn.3, ffn.0, W_gate, W_plu, W_red):
 *      epsilon  R_a = a * (W^T (R / (y + eps sign y)))                 (bias and eps absorb a part)
 *      zplus    R_a = a+ * (W+^T s) + a- * (W-^T s),  s = R / (a+ W+ + a- W-)
 *               (the positive contributions (a_i w_ij)+ = a+ w+ + a- w-; bias-free)
 *      gamma    (generalised to signed inputs) contributions a_i w_ij + gamma (a_i w_ij)+ where
 *               z_j > 0, a_i w_ij + gamma (a_i w_ij)- elsewhere, normalised by their sum
 *               (bias-free; the sum never cancels towards 0)
 *  - LayerNorm (ln1, ln2, the mixing LayerNorm, ln_f): gradient x input with the normaliser
 *    1/sigma held constant: y = gamma (x - mean x) / sigma + beta is then linear in x, and
 *    R_x = x * (v - mean v), v = gamma / sigma * R / stab(y). Only beta (and eps) absorb a part.
 *  - The FFN activation (GELU, tanh GELU, ReLU), sigmoid, the L2 normalisation of p: identity.
 *  - Sums (residual adds, token + position embedding, the terms of the mixing output, the mean
 *    over window offsets): epsilon across the terms, R_term = term / stab(sum) * R.
 *  - Products with a gate (alpha * h, (1 - alpha) * g, alpha * g): the signal takes all
 *    ('signal-take-all', as LRP for LSTMs), or half goes to the gate ('half', AttnLRP); the
 *    gate's relevance passes the sigmoid (identity; 1 - alpha = sigmoid(-a)) to W_gate.
 *  - Plücker product p_ij = z_t,i z_s,j - z_t,j z_s,i: bilinear, so gradient x input with
 *    respect to z_t alone gives all of R_p, and with respect to z_s alone all of it again; the
 *    uniform rule gives each half: with C the antisymmetric matrix of c = R_p / p,
 *      R_{z_t} += 1/2 z_t * (C z_s),   R_{z_s} += -1/2 z_s * (C z_t),
 *    which sums to sum(R_p) exactly. p_hat = p / max(||p||, the model's Plücker eps).
 *
 * Where the architecture options differ (spec.variant: block layout, mixing output, the mixing
 * LayerNorm, aggregation), the rules come from the tables of ./layoutRules.ts, keyed like the
 * forward kernels of ../model/layout.ts: how relevance passes each sub-layer (pre-norm: epsilon
 * across the residual and the branch, the LayerNorm rule into the branch's input; post-norm
 * LN(x + f(x)): the LayerNorm rule to the sum, then epsilon across x and f(x); no residual:
 * all to the branch), how the mixing output splits over its terms and what the gate gets, and
 * where b_plu sits. The result states them (RelevanceResult.rules, ./layoutRules.ts describeRules).
 *
 * The mean over offsets and W_plu under the epsilon rule need no per-offset matrix product:
 * with S_t = R_g,t / stab(g_t) and c_t = W_plu^T S_t, offset k at t receives
 * w_tk (p_hat_k . c_t + b_plu . S_t) (w_tk its weight in the mean; b_plu's share only where the
 * bias is inside each offset's term, project-then-mean; under mean-then-project b_plu keeps it,
 * reported as pluckerBias) and its coordinates R_p_hat = w_tk p_hat_k * c_t. The other rules take
 * the general path of the aggregation (./layoutRules.ts AGGREGATION_RULES); both paths give the
 * same numbers under epsilon with eps = 0 (tested).
 *
 * Matrix products and element-wise stages run on the TensorFlow.js backend in float32; the
 * Plücker stage runs on the host in float64. The linear rules are objects (./rules.ts), picked per
 * site (the head's lm_head, each block's maps) by the run's composite and overrides. Conservation
 * is reported signed per stage: entering = leaving + what each bias absorbed + what eps absorbed
 * + float32 rounding (./rules.ts states the bookkeeping), and over the model (accounting); a
 * bias-free model with eps 0 conserves it to float32 rounding.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BlockStage, BlockWeights, GrassmannModel, LayerPause, ModelInternals } from '../model/grassmann';
import { planesAtOffset } from '../model/plucker';
import { partnerPosition, planeLayoutOf, planOffsets } from '../model/offsets';
import { AGGREGATION_RULES, BLOCK_LAYOUT_RULES, describeRules, mixingBack, type RuleContext } from './layoutRules';
import { offsetTerms } from './offsetTerms';
import { Absorption, linearRuleObject, RuleBook, shareOf, stabilisedRatio, type LinearRole } from './rules';
import type { GrassmannSpec, LayerShape } from '../model/spec';
import type {
  BiasAbsorption,
  ConservationStep,
  LayerRelevance,
  RelevanceAccounting,
  RelevanceOptions,
  RelevanceResult,
  RelevanceTarget,
} from './types';
import { ACCOUNTING_MEANINGFUL_SHARE, DEFAULT_RELEVANCE_OPTIONS } from './types';

export type StageRecord = Record<BlockStage, tf.Tensor2D>;

/** The recorded forward pass of one sequence (tensors owned by the caller: dispose()). */
export interface Recording {
  T: number;
  tokens: tf.Tensor2D;
  positions: tf.Tensor2D;
  blocks: StageRecord[];
  dispose(): void;
}

/** Runs the forward pass and keeps every block stage (and both parts of the embedding). */
export function recordForward(model: GrassmannModel, ids: readonly number[]): Recording {
  const w = model.internals();
  const T = ids.length;
  const d = model.spec.dims.modelDim;
  const kept = tf.tidy(() => {
    const tokens = tf.gather(w.tokenEmbedding, tf.tensor1d(ids as number[], 'int32')) as tf.Tensor2D;
    const positions = tf.slice(w.positionEmbedding, [0, 0], [T, d]) as tf.Tensor2D;
    const blocks: Partial<StageRecord>[] = [];
    model.trace(ids, (layer, stage, value) => {
      (blocks[layer] ??= {})[stage] = value as tf.Tensor2D;
    }, 'auto', tf.add(tokens, positions) as tf.Tensor2D);
    return { tokens, positions, blocks: blocks as StageRecord[] };
  });
  return {
    T,
    ...kept,
    dispose(): void {
      kept.tokens.dispose();
      kept.positions.dispose();
      for (const b of kept.blocks) for (const t of Object.values(b)) t.dispose();
    },
  };
}

/**
 * recordForward block by block, with `pause` awaited before each block (ForwardOptions.pause):
 * the same tensors, each block's stages kept as clones of its own tf.tidy.
 */
export async function recordForwardStepwise(model: GrassmannModel, ids: readonly number[], pause: LayerPause): Promise<Recording> {
  const w = model.internals();
  const T = ids.length;
  const d = model.spec.dims.modelDim;
  const { tokens, positions, embeddings } = tf.tidy(() => {
    const tokens = tf.gather(w.tokenEmbedding, tf.tensor1d(ids as number[], 'int32')) as tf.Tensor2D;
    const positions = tf.slice(w.positionEmbedding, [0, 0], [T, d]) as tf.Tensor2D;
    return { tokens, positions, embeddings: tf.add(tokens, positions) as tf.Tensor2D };
  });
  const blocks: Partial<StageRecord>[] = [];
  const dispose = (): void => {
    tokens.dispose();
    positions.dispose();
    for (const b of blocks) for (const t of Object.values(b)) t.dispose();
  };
  try {
    const hidden = await model.traceStepwise(ids, (layer, stage, value) => {
      (blocks[layer] ??= {})[stage] = tf.keep(tf.clone(value)) as tf.Tensor2D;
    }, pause, embeddings);
    hidden.dispose();
  } catch (e) {
    dispose();
    throw e;
  } finally {
    embeddings.dispose();
  }
  return { T, tokens, positions, blocks: blocks as StageRecord[], dispose };
}

// ---------------------------------------------------------------------------------------------
// Rules (TensorFlow.js, call inside tf.tidy): the linear rules are objects of ./rules.ts
// ---------------------------------------------------------------------------------------------

/**
 * Relevance of the input a [N, in] of y = a W^T + b under options.rule (one rule, no
 * accounting): ./rules.ts linearRuleObject. `y` is the forward output (with bias) when known;
 * `w` is W itself [out, in] when the caller keeps it.
 */
export function linearRule(
  a: tf.Tensor2D,
  wT: tf.Tensor2D,
  bias: tf.Tensor1D | null,
  y: tf.Tensor2D | null,
  R: tf.Tensor2D,
  options: Pick<RelevanceOptions, 'rule' | 'epsilon' | 'gamma'>,
  w?: tf.Tensor2D,
): tf.Tensor2D {
  return linearRuleObject(options.rule, options).linear(a, wT, bias, y, R, null, null, w);
}

/**
 * Relevance of x [N, n] for y = LayerNorm(x) = gamma (x - mean x) / sigma + beta, sigma held
 * constant: R_x = x (v - mean v), v = gamma / sigma * s, s = R / stab(y). The inputs receive
 * sum(s (y - beta)); beta absorbs sum(s beta) (recorded under `betaName`), eps sum(R - s y).
 */
export function layerNormRule(
  x: tf.Tensor2D, weight: tf.Tensor1D, beta: tf.Tensor1D | null, y: tf.Tensor2D, R: tf.Tensor2D,
  lnEps: number, eps: number, sink: Absorption | null = null, betaName: string | null = null,
): tf.Tensor2D {
  const { variance } = tf.moments(x, 1, true);
  const s = shareOf(R, y, eps, sink);
  if (sink && beta && betaName) sink.bias(betaName, tf.sum(tf.mul(s, beta)));
  const v = tf.mul(tf.mul(s, weight), tf.rsqrt(tf.add(variance, lnEps)));
  return tf.mul(x, tf.sub(v, tf.mean(v, 1, true)));
}

/** The relevance of each term of a sum (epsilon across the terms; eps recorded). */
function sumRule(terms: readonly tf.Tensor[], total: tf.Tensor, R: tf.Tensor, eps: number, sink: Absorption | null): tf.Tensor2D[] {
  const s = shareOf(R, total, eps, sink);
  return terms.map((t) => tf.mul(t, s) as tf.Tensor2D);
}

/*
 * Every read of a tensor's values is asynchronous (await t.data()): the webgpu backend in Node
 * cannot read synchronously (../model/backend.ts WEBGPU_SYNC_READ_MESSAGE), and on wasm and cpu
 * the values are the same. tf.tidy takes no async function, so a tidy returns the tensors to
 * read (sums as scalars) and they are read and freed after it.
 */

/** The sum of a tensor's elements (the scalar made for it is freed; `t` is not). */
async function sumOf(t: tf.Tensor): Promise<number> {
  return (await takeValues(tf.sum(t)))[0];
}

/**
 * The values of a tensor, which is disposed. (Typed arrays are never returned from tf.tidy: it
 * walks its result for tensors key by key, ~1 ms per 100k elements.)
 */
async function takeValues(t: tf.Tensor): Promise<Float32Array | Int32Array | Uint8Array> {
  try {
    return (await t.data()) as Float32Array | Int32Array | Uint8Array;
  } finally {
    t.dispose();
  }
}

/** The elements of a tensor as numbers (it is disposed): row or column sums made in a tf.tidy. */
const takeNumbers = async (t: tf.Tensor): Promise<number[]> => Array.from(await takeValues(t));

// ---------------------------------------------------------------------------------------------
// The Plücker stage (host, float64)
// ---------------------------------------------------------------------------------------------

interface PluckerBackward {
  /** [T, r] relevance of z */
  z: Float64Array;
  /** [P] per pair, summed over positions and offsets */
  pairs: Float64Array;
  /** per distinct offset (plan order) */
  offsets: Float64Array;
  /** relevance absorbed by b_plu (epsilon path) */
  biasLeak: number;
}

/**
 * Distributes the relevance of each offset's Plücker coordinates to z with the uniform half rule.
 * `coefficients(row, into)` writes c_q = R_p_q / p_q (q < P) for plane `row` of the offset into
 * `into` and returns false when the whole row is 0 (skipped).
 */
export function halfRule(
  z: Float32Array,
  T: number,
  r: number,
  shape: LayerShape,
  pairing: GrassmannSpec['variant']['pairing'],
  offset: number,
  planes: ReturnType<typeof planesAtOffset>,
  coefficients: (row: number, into: Float64Array) => boolean,
  out: Float64Array,
): void {
  const { pairFirst, pairSecond, pairCount: P } = shape;
  const Czs = new Float64Array(r);
  const Czt = new Float64Array(r);
  const c = new Float64Array(P);
  for (let row = 0; row < planes.count; row++) {
    if (!coefficients(row, c)) continue;
    const t = planes.first + row;
    const s = partnerPosition(t, offset, pairing);
    const zt = t * r;
    const zs = s * r;
    Czs.fill(0);
    Czt.fill(0);
    for (let q = 0; q < P; q++) {
      const cq = c[q];
      if (cq === 0) continue;
      const i = pairFirst[q];
      const j = pairSecond[q];
      Czs[i] += cq * z[zs + j];
      Czs[j] -= cq * z[zs + i];
      Czt[i] += cq * z[zt + j];
      Czt[j] -= cq * z[zt + i];
    }
    for (let i = 0; i < r; i++) {
      out[zt + i] += 0.5 * z[zt + i] * Czs[i];
      out[zs + i] -= 0.5 * z[zs + i] * Czt[i];
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The pass
// ---------------------------------------------------------------------------------------------

export interface RelevanceRunOptions {
  /** Force the per-offset path for W_plu even under epsilon (to check the shortcut). */
  perOffset?: boolean;
  /** Receives the recorded reduced states z of every block ([T, r_l] each), e.g. to count degenerate planes without another forward pass. */
  onReducedStates?: (z: Float32Array[]) => void;
  /**
   * The forward pass of `ids`, recorded by the caller (recordForward), who also reads its stages
   * (one forward pass for taps and LRP) and disposes it; without it relevanceOf records its own.
   */
  recording?: Recording;
}

/** relevanceOfAsync's options: `pause` is awaited between blocks of the forward and of the backward pass. */
export interface AsyncRelevanceRunOptions extends RelevanceRunOptions {
  pause?: LayerPause;
}

/**
 * [T, n] with `rows` at `positions` and zeros elsewhere (a contiguous run of positions, as both
 * target kinds give, is a pad; it also has a gradient on every backend).
 */
export function rowsAt(rows: tf.Tensor2D, positions: readonly number[], T: number): tf.Tensor2D {
  const first = positions[0];
  if (positions.every((p, i) => p === first + i)) return tf.pad(rows, [[first, T - first - positions.length], [0, 0]]);
  return tf.scatterND(tf.tensor2d(positions as number[], [positions.length, 1], 'int32'), rows, [T, rows.shape[1]]) as tf.Tensor2D;
}

/** Targets as (position, token id) pairs. */
export function targetPairs(ids: readonly number[], target: RelevanceTarget): { positions: number[]; tokens: number[] } {
  const T = ids.length;
  if (target.kind === 'token') {
    if (!Number.isInteger(target.position) || target.position < 0 || target.position >= T) {
      throw new RangeError(`target position ${target.position} is outside the sequence (0..${T - 1})`);
    }
    return { positions: [target.position], tokens: [target.tokenId] };
  }
  if (T < 2) throw new RangeError('the next-token target needs at least 2 tokens');
  const positions: number[] = [];
  const tokens: number[] = [];
  for (let t = 0; t + 1 < T; t++) {
    positions.push(t);
    tokens.push(ids[t + 1]);
  }
  return { positions, tokens };
}

/**
 * LRP of one sequence through the model (see the module comment). Asynchronous: it reads the
 * tensors' values with await t.data() (on every backend, webgpu included), never synchronously.
 */
export async function relevanceOf(
  model: GrassmannModel,
  ids: readonly number[],
  target: RelevanceTarget,
  options: RelevanceOptions = DEFAULT_RELEVANCE_OPTIONS,
  runOptions: RelevanceRunOptions = {},
): Promise<RelevanceResult> {
  const { positions, tokens } = checkedTargets(model, ids, target);
  const record = runOptions.recording ?? recordForward(model, ids);
  try {
    if (runOptions.onReducedStates) runOptions.onReducedStates(await reducedStates(record));
    const steps = propagate(model.spec, model.internals(), (t, rows) => model.transposed(t, rows), record, positions, tokens, target, options, runOptions);
    for (;;) {
      const next = await steps.next();
      if (next.done) return next.value;
    }
  } finally {
    if (record !== runOptions.recording) record.dispose();
  }
}

/** The recorded reduced states z of every block, read. */
async function reducedStates(record: Recording): Promise<Float32Array[]> {
  return (await Promise.all(record.blocks.map((b) => b.z.data()))) as Float32Array[];
}

/**
 * relevanceOf with `pause` awaited between the blocks of the recorded forward pass and of the
 * backward pass (a throw from it stops LRP and frees its tensors): the same numbers.
 */
export async function relevanceOfAsync(
  model: GrassmannModel,
  ids: readonly number[],
  target: RelevanceTarget,
  options: RelevanceOptions = DEFAULT_RELEVANCE_OPTIONS,
  runOptions: AsyncRelevanceRunOptions = {},
): Promise<RelevanceResult> {
  const { pause } = runOptions;
  if (!pause) return relevanceOf(model, ids, target, options, runOptions);
  const { positions, tokens } = checkedTargets(model, ids, target);
  const record = runOptions.recording ?? (await recordForwardStepwise(model, ids, pause));
  try {
    if (runOptions.onReducedStates) runOptions.onReducedStates(await reducedStates(record));
    const steps = propagate(model.spec, model.internals(), (t, rows) => model.transposed(t, rows), record, positions, tokens, target, options, runOptions);
    try {
      for (;;) {
        const next = await steps.next();
        if (next.done) return next.value;
        await pause();
      }
    } finally {
      await steps.return(undefined as never); // a stop between blocks runs propagate's cleanup
    }
  } finally {
    if (record !== runOptions.recording) record.dispose();
  }
}

function checkedTargets(model: GrassmannModel, ids: readonly number[], target: RelevanceTarget): { positions: number[]; tokens: number[] } {
  const V = model.spec.dims.vocabSize;
  const pairs = targetPairs(ids, target);
  const badToken = pairs.tokens.find((k) => !Number.isInteger(k) || k < 0 || k >= V);
  if (badToken !== undefined) throw new RangeError(`target token id ${badToken} is outside the vocabulary (0..${V - 1})`);
  return pairs;
}

/** W for a weight the model holds as W^T (of its first `rows` rows), cached by the model. */
type Transposed = (weightT: tf.Tensor2D, rows?: number) => tf.Tensor2D;

/** The backward pass, one step per block (the generator yields after the head and after each block). */
async function* propagate(
  spec: GrassmannSpec,
  w: ModelInternals,
  transposed: Transposed,
  record: Recording,
  positions: number[],
  tokens: number[],
  target: RelevanceTarget,
  options: RelevanceOptions,
  runOptions: RelevanceRunOptions,
): AsyncGenerator<void, RelevanceResult, void> {
  const { T } = record;
  const eps = options.epsilon;
  /** eps of the sums, the mean over offsets and the LayerNorm rules (RelevanceOptions.epsilonPlacement). */
  const sumEps = options.epsilonPlacement === 'linear-maps' ? 0 : eps;
  const lnEps = spec.layerNormEps;
  const L = record.blocks.length;
  const book = new RuleBook(options, L);
  const sink = new Absorption();
  const conservation: ConservationStep[] = [];
  const step = async (stage: string, upper: number, lower: number): Promise<void> => {
    const { biases, epsilon } = await sink.take();
    const bias = biases.reduce((a, b) => a + b.relevance, 0);
    conservation.push({ stage, upper, lower, biases, bias, epsilon, remainder: upper - lower - bias - epsilon });
  };

  /** The relevance at the current stage boundary (freed however the pass ends). */
  let R: tf.Tensor2D | undefined;
  try {
    // Head: R at the target logits -> LayerNorm_f input.
    const head = tf.tidy(() => {
      const xL = record.blocks[L - 1].block_out;
      const { mean, variance } = tf.moments(xL, 1, true);
      const y = tf.add(tf.mul(tf.mul(tf.sub(xL, mean), tf.rsqrt(tf.add(variance, lnEps))), w.finalNormWeight), w.finalNormBias) as tf.Tensor2D;
      const rows = tf.gather(y, tf.tensor1d(positions, 'int32')) as tf.Tensor2D;
      const heads = tf.transpose(tf.gather(w.lmHeadT, tf.tensor1d(tokens, 'int32'), 1)); // [N, d]
      const contributions = tf.mul(rows, heads) as tf.Tensor2D;
      const startValues = (options.start === 'logit' ? tf.sum(contributions, 1, true) : tf.ones([positions.length, 1])) as tf.Tensor2D;
      const startTotal = tf.sum(startValues);
      const onRows = book.at({ layer: null, role: 'lmHead' }).contributions(contributions, startValues, sink);
      // Back to [T, d]: scatter the target rows.
      const Ry = rowsAt(onRows, positions, T);
      return { R: layerNormRule(xL, w.finalNormWeight, w.finalNormBias, y, Ry, lnEps, sumEps, sink, spec.roles.global.finalNormBias), startTotal };
    });
    R = head.R;
    const start = (await takeValues(head.startTotal))[0];
    /** Sum of R, the relevance at the current stage boundary. */
    let current = await sumOf(R);
    await step('head', start, current);
    yield;

    const layers: LayerRelevance[] = new Array(L);
    for (let l = L - 1; l >= 0; l--) {
      const upper = current;
      const ctx = ruleContext(spec, l, w.layers[l], book, options, sink);
      const result = await backwardBlock(spec, l, w.layers[l], transposed, record.blocks[l], R, T, options, book, ctx, sink, runOptions.perOffset === true);
      R.dispose();
      R = result.R;
      current = await sumOf(R);
      layers[l] = { ...result.layer, layer: l, output: upper, input: current };
      await step(`layer ${l}`, upper, current);
      if (l > 0) yield;
    }

    // Embeddings: x0 = token + position (epsilon across the two).
    const Rin = R;
    const sums = tf.tidy(() => {
      const total = tf.add(record.tokens, record.positions);
      const [rt, rp] = sumRule([record.tokens, record.positions], total, Rin, sumEps, sink);
      return { tokens: tf.sum(rt, 1), positions: tf.sum(rp, 1), tokenTotal: tf.sum(rt), positionTotal: tf.sum(rp) };
    });
    const [tokenRows, positionRows, tokenTotal, positionTotal] = await Promise.all([
      takeNumbers(sums.tokens), takeNumbers(sums.positions), takeValues(sums.tokenTotal), takeValues(sums.positionTotal),
    ]);
    const embedding = { tokens: tokenRows, positions: positionRows, total: tokenTotal[0] + positionTotal[0] };
    await step('embeddings', current, embedding.total);
    return {
      options: { ...options },
      target,
      length: T,
      start,
      tokens: embedding.tokens,
      positionEmbedding: embedding.positions,
      layers,
      conservation,
      accounting: accountFor(start, embedding.total, conservation),
      rules: describeRules(spec.variant, options, book),
    };
  } finally {
    R?.dispose();
    sink.dispose();
  }
}

/** The whole model's account from its stages (RelevanceAccounting). */
export function accountFor(start: number, input: number, steps: readonly ConservationStep[]): RelevanceAccounting {
  const byName = new Map<string, number>();
  let bias = 0;
  let epsilon = 0;
  for (const s of steps) {
    for (const b of s.biases) byName.set(b.name, (byName.get(b.name) ?? 0) + b.relevance);
    bias += s.bias;
    epsilon += s.epsilon;
  }
  const biases: BiasAbsorption[] = [...byName].map(([name, relevance]) => ({ name, relevance }));
  const parts = Math.abs(input) + Math.abs(bias) + Math.abs(epsilon);
  const ratiosMeaningful = Math.abs(start) > 0 && Math.abs(start) >= ACCOUNTING_MEANINGFUL_SHARE * parts;
  const fmt = (v: number): string => v.toPrecision(3);
  return {
    start,
    input,
    bias,
    epsilon,
    remainder: start - input - bias - epsilon,
    biases,
    ratiosMeaningful,
    shares: ratiosMeaningful ? { input: input / start, bias: bias / start, epsilon: epsilon / start } : null,
    note: ratiosMeaningful
      ? null
      : `the start relevance (${fmt(start)}) is small against its parts (|input| + |bias| + |eps| = ${fmt(parts)}; ratios need at least ${ACCOUNTING_MEANINGFUL_SHARE} of it): a ratio to it is not meaningful`,
  };
}

interface BlockBackward {
  R: tf.Tensor2D;
  layer: Omit<LayerRelevance, 'layer' | 'input' | 'output'>;
}

/** The state-dict key of each linear map's bias in a block (null: the implementation has none). */
function biasKey(spec: GrassmannSpec, layer: number, role: LinearRole): string | null {
  const roles = spec.roles.layers[layer];
  switch (role) {
    case 'ffnOut': return roles.ffnOutBias;
    case 'ffnIn': return roles.ffnInBias;
    case 'gate': return roles.gateBias;
    case 'plucker': return roles.pluckerBias;
    case 'reduce': return roles.reduceBias;
    case 'lmHead': return null;
  }
}

/** The primitive rules of ./layoutRules.ts bound to one block, the run's rules and the stage's accounting. */
function ruleContext(spec: GrassmannSpec, layer: number, w: BlockWeights, book: RuleBook, options: RelevanceOptions, sink: Absorption): RuleContext {
  const eps = options.epsilon;
  const sumEps = options.epsilonPlacement === 'linear-maps' ? 0 : eps;
  const lnEps = spec.layerNormEps;
  const roles = spec.roles.layers[layer];
  const norms = {
    norm1: [w.norm1Weight, w.norm1Bias, roles.norm1Bias],
    norm2: [w.norm2Weight, w.norm2Bias, roles.norm2Bias],
    mixNorm: [w.mixNormWeight, w.mixNormBias, roles.mixNormBias],
  } as const;
  return {
    layerNorm: (norm, x, y, R) => {
      if (norm === 'finalNorm') throw new Error('the final LayerNorm belongs to the head, not to a block');
      const [weight, beta, betaName] = norms[norm];
      if (!weight) throw new Error(`block ${layer} has no weights for its ${norm} LayerNorm`);
      return layerNormRule(x, weight, beta, y, R, lnEps, sumEps, sink, betaName);
    },
    sum: (terms, total, R) => sumRule(terms, total, R, sumEps, sink),
    linear: (role, a, wT, bias, y, R, wFull) => book.at({ layer, role }).linear(a, wT, bias, y, R, sink, biasKey(spec, layer, role), wFull),
    biasShare: (bias, y, R) => (book.nameAt({ layer, role: 'plucker' }) === 'epsilon' ? (tf.sum(tf.mul(bias, stabilisedRatio(R, y, eps))) as tf.Scalar) : undefined),
    ratio: (R, z) => shareOf(R, z, sumEps, sink),
  };
}

async function backwardBlock(
  spec: GrassmannSpec,
  layerIndex: number,
  w: BlockWeights,
  transposed: Transposed,
  rec: StageRecord,
  Rout: tf.Tensor2D,
  T: number,
  options: RelevanceOptions,
  book: RuleBook,
  ctx: RuleContext,
  sink: Absorption,
  perOffset: boolean,
): Promise<BlockBackward> {
  const d = spec.dims.modelDim;
  const shape = spec.layerShapes[layerIndex];
  const r = shape.reducedDim;
  const layout = BLOCK_LAYOUT_RULES[spec.variant.block];
  const aggregation = AGGREGATION_RULES[spec.variant.aggregation];

  // Above the Plücker stage: the FFN sub-layer, the mixing sub-layer, the mixing output and gate.
  const upperPart = tf.tidy(() => {
    // block_out -> x' (residual) and ffn_out (through LN_f first in post-norm)
    const ffnBack = layout.ffnOutput(rec, w, Rout, ctx);
    const Rf = ffnBack.branch;
    const Ract = ctx.linear('ffnOut', rec.ffn_act, w.ffnOutT, w.ffnOutBias, rec.ffn_out, Rf, transposed(w.ffnOutT)); // [T, f]
    // The activation: identity (ACTIVATION_RULES).
    const Ru = ctx.linear('ffnIn', rec.ffn_in, w.ffnInT, w.ffnInBias, rec.ffn_pre, Ract, transposed(w.ffnInT));
    const Rmid = tf.add(ffnBack.residual, layout.ffnInput(rec, w, Ru, ctx)) as tf.Tensor2D;
    // x' -> the block input (residual, if any) and the mixing output m
    const mixBack = layout.mixOutput(rec, w, Rmid, ctx);
    const RmixOut = mixBack.branch;
    // m -> h, g and the gate (mixing LayerNorm, the output's terms, the gate policy)
    const mixing = mixingBack(spec.variant, options.gate, rec, w, RmixOut, ctx);
    let Rh = mixing.Rh;
    let Rg = mixing.Rg;
    if (mixing.Rgate) {
      // sigmoid: identity to the pre-activation a = W_gate [h; g] + b_gate.
      const hg = tf.concat([rec.mix_in, rec.g], 1) as tf.Tensor2D;
      const pre = tf.add(tf.matMul(hg, w.gateT), w.gateBias) as tf.Tensor2D;
      const Rhg = ctx.linear('gate', hg, w.gateT, w.gateBias, pre, mixing.Rgate, transposed(w.gateT));
      const fromGate = tf.slice(Rhg, [0, 0], [T, d]) as tf.Tensor2D;
      Rh = Rh ? (tf.add(Rh, fromGate) as tf.Tensor2D) : fromGate;
      Rg = tf.add(Rg, tf.slice(Rhg, [0, d], [T, d])) as tf.Tensor2D;
    }
    return {
      Rx0: mixBack.residual ?? undefined,
      Rh: Rh ?? (tf.zerosLike(rec.mix_in) as tf.Tensor2D),
      Rg,
      RmixOut,
      Rf,
      Ract,
      gateSums: mixing.Rgate ? tf.sum(mixing.Rgate, 0) : undefined,
      mixingTotal: tf.sum(RmixOut),
      ffnTotal: tf.sum(Rf),
    };
  });

  // The Plücker stage: R_g -> R_z (host), then W_red and the mixing input.
  const plan = planOffsets(shape.windowSizes, T, spec.variant.pairing);
  const K = plan.offsets.length;
  const P = shape.pairCount;
  const Rz = new Float64Array(T * r);
  const pairs = new Float64Array(P);
  const offsetRel = new Float64Array(K);
  let pluckerBias = 0;
  const pluckerT = tf.tidy(() => tf.slice(w.plucker.onPairs, [0, 0], [P, d]) as tf.Tensor2D); // W_plu^T [P, d]
  const pluckerW = transposed(w.plucker.onPairs, P); // W_plu [d, P]
  const pluckerBiasT = tf.tidy(() => tf.reshape(tf.slice(w.plucker.onPairs, [P, 0], [1, d]), [d]) as tf.Tensor1D);
  const planeLayout = planeLayoutOf(spec, layerIndex);
  const floor = planeLayout.normFloor;
  try {
    const [zData, gateSums, mixingTotal, ffnTotal] = await Promise.all([
      rec.z.data() as Promise<Float32Array>,
      upperPart.gateSums ? takeNumbers(upperPart.gateSums) : new Array<number>(d).fill(0),
      takeValues(upperPart.mixingTotal),
      takeValues(upperPart.ffnTotal),
    ]);
    const shortcut = !perOffset && options.epsilonPlacement === 'every-denominator' && book.nameAt({ layer: layerIndex, role: 'plucker' }) === 'epsilon';
    if (shortcut) {
      // The shortcut: S = R_g / stab(g), c = W_plu^T S, offset k at t gets w_tk p_hat_k . c_t (+ b_plu . S_t
      // where the bias is inside the offsets' terms); b_plu absorbs sum_t (its weight) b_plu . S_t.
      const S = tf.tidy(() => ctx.ratio(upperPart.Rg, rec.g) as tf.Tensor2D); // [T, d]
      let c: Float32Array;
      let bs: Float32Array;
      try {
        c = (await takeValues(tf.matMul(S, pluckerW))) as Float32Array; // [T, P]
        bs = (await takeValues(tf.tidy(() => tf.sum(tf.mul(S, pluckerBiasT), 1)))) as Float32Array; // [T]
      } finally {
        S.dispose();
      }
      const terms = offsetTerms(spec, layerIndex, zData, T, c, bs);
      offsetRel.set(terms.perOffset);
      pairs.set(terms.perPair);
      pluckerBias = terms.bias;
      const pluckerBiasName = spec.roles.layers[layerIndex].pluckerBias;
      if (pluckerBiasName) sink.bias(pluckerBiasName, pluckerBias);
      terms.planes.forEach((planes, k) => {
        halfRule(zData, T, r, shape, spec.variant.pairing, planes.offset, planes, (row, into) => {
          const t = planes.first + row;
          const scale = plan.weights[t * K + k] / Math.max(planes.norms[row], floor);
          if (scale === 0) return false;
          for (let q = 0; q < P; q++) into[q] = scale * c[t * P + q];
          return true;
        }, Rz);
      });
    } else {
      const planesPerOffset = plan.offsets.map((offset) => planesAtOffset(zData, T, offset, planeLayout));
      const back = await aggregation.back({ plan, planes: planesPerOffset, g: rec.g, Rg: upperPart.Rg, pluckerT, pluckerW, bias: pluckerBiasT, T }, ctx);
      offsetRel.set(back.entering);
      pluckerBias = back.bias;
      planesPerOffset.forEach((planes, k) => {
        const Rp = back.coordinates[k];
        if (!Rp) return;
        for (let i = 0; i < Rp.length; i++) pairs[i % P] += Rp[i];
        halfRule(zData, T, r, shape, spec.variant.pairing, planes.offset, planes, (row, into) => {
          const norm = Math.max(planes.norms[row], floor);
          for (let q = 0; q < P; q++) {
            const p = planes.coordinates[row * P + q] * norm;
            into[q] = p === 0 ? 0 : Rp[row * P + q] / p;
          }
          return true;
        }, Rz);
      });
    }

    const lower = tf.tidy(() => {
      const RzT = tf.tensor2d(Float32Array.from(Rz), [T, r]);
      const Rh = tf.add(upperPart.Rh, ctx.linear('reduce', rec.mix_in, w.reduceT, w.reduceBias, rec.z, RzT, transposed(w.reduceT))) as tf.Tensor2D;
      const fromH = layout.mixInput(rec, w, Rh, ctx);
      return (upperPart.Rx0 ? tf.add(upperPart.Rx0, fromH) : fromH) as tf.Tensor2D;
    });

    const [ffnMap, positionSums] = await Promise.all([
      upperPart.Ract.data() as Promise<Float32Array>,
      takeNumbers(tf.tidy(() => tf.sum(lower, 1))),
    ]).catch((e: unknown) => {
      lower.dispose();
      throw e;
    });
    const f = shape.ffDim;
    const ffnNeurons = new Array<number>(f).fill(0);
    for (let i = 0; i < ffnMap.length; i++) ffnNeurons[i % f] += ffnMap[i];
    const reducedDims = new Array<number>(r).fill(0);
    for (let i = 0; i < Rz.length; i++) reducedDims[i % r] += Rz[i];
    const offsetTotal = offsetRel.reduce((s, v) => s + Math.abs(v), 0);
    return {
      R: lower,
      layer: {
        mixing: mixingTotal[0],
        ffn: ffnTotal[0],
        ffnNeurons,
        reducedDims,
        pairs: Array.from(pairs),
        offsets: plan.offsets.map((offset, k) => ({ offset, relevance: offsetRel[k], share: offsetTotal > 0 ? offsetRel[k] / offsetTotal : 0 })),
        pluckerBias,
        gate: gateSums,
        positions: positionSums,
      },
    };
  } finally {
    pluckerT.dispose();
    pluckerBiasT.dispose();
    for (const t of [upperPart.Rx0, upperPart.Rh, upperPart.Rg, upperPart.RmixOut, upperPart.Rf, upperPart.Ract, upperPart.gateSums, upperPart.mixingTotal, upperPart.ffnTotal]) t?.dispose();
  }
}
