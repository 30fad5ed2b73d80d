/**
 * How relevance goes back through each architecture option (LRP, grassmann-math.md §4): one table
 * per option, keyed by the same values as the forward tables of ../model/layout.ts
 * (../model/architecture.ts names them). ./lrp.ts only looks the rules up: adding an option value
 * is its forward kernel in ../model/layout.ts and its entry here.
 *
 * Conventions (every rule below): R is signed relevance; summed over a stage it is conserved by a
 * bias-free stage when eps = 0 (what biases and eps absorb is recorded: ./rules.ts). eps is
 * RelevanceOptions.epsilon and sits as stab(z) = z + eps sign(z) (sign(0) = +1) in the linear
 * maps and, under the default placement ('every-denominator'), in every sum and LayerNorm rule too
 * ('linear-maps': those use eps 0):
 *  - "epsilon across the terms" of s = a + b: R_a = a R_s / stab(s), R_b = b R_s / stab(s);
 *  - the LayerNorm rule of y = gamma (x - mean x) / sigma + beta holds sigma constant:
 *    R_x = x (v - mean v), v = gamma / sigma R_y / stab(y) (beta and eps absorb a part);
 *  - a product with the gate (alpha h, (1 - alpha) g, alpha g): the signal takes all
 *    ('signal-take-all') or half goes to the gate ('half'); the gate's relevance passes the
 *    sigmoid unchanged (1 - alpha = sigmoid(-a)) to W_gate's input [h; g];
 *  - activations (GELU, tanh GELU, ReLU), the L2 normalisation of p: identity.
 *
 * Block layouts (x the block input, m the mixing output, x' the stream between the sub-layers):
 *   pre-norm                   x' = x + m:        epsilon across x and m; h = LN_a(x): LayerNorm rule
 *                              out = x' + FFN(LN_f(x')): epsilon across x' and FFN; LayerNorm rule into x'
 *   post-norm                  x' = LN_a(x + m):  LayerNorm rule (sigma frozen) to the sum, then
 *                              epsilon across x and m; h = x (all of R_h to x)
 *                              out = LN_f(x' + FFN(x')): the same, FFN input = x'
 *   post-norm-no-mix-residual  x' = LN_a(m):      LayerNorm rule, all to m (no residual); h = x
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Activation, Aggregation, ArchitectureOptions, BlockLayout, MixOutput, PairingRule } from '../model/architecture';
import type { BlockStage, BlockWeights } from '../model/grassmann';
import { MIX_OUTPUT_KERNELS } from '../model/layout';
import type { OffsetPlan } from '../model/offsets';
import type { OffsetPlanes } from '../model/plucker';
import type { GatePolicy, RelevanceOptions } from './types';
import type { LinearRole, RuleBook } from './rules';

/** The LayerNorms relevance passes: a block's two (and the mixing module's), and the final one. */
export type NormSite = 'norm1' | 'norm2' | 'mixNorm' | 'finalNorm';

/**
 * The primitive rules, bound to the run's options, one block (or the head) and its weights, and
 * the stage's accounting (./lrp.ts makes it; ./rules.ts states the bookkeeping). Call inside tf.tidy.
 */
export interface RuleContext {
  /** R_x of y = LayerNorm(x) (that site's gamma and beta): the LayerNorm rule, sigma frozen. */
  layerNorm(norm: NormSite, x: tf.Tensor2D, y: tf.Tensor2D, R: tf.Tensor2D): tf.Tensor2D;
  /** Epsilon across the terms of total = sum(terms). */
  sum(terms: readonly tf.Tensor2D[], total: tf.Tensor2D, R: tf.Tensor2D): tf.Tensor2D[];
  /** R_a of y = a W^T + b (W^T as wT [in, out]; w = W [out, in] when held) under the site's rule. */
  linear(role: LinearRole, a: tf.Tensor2D, wT: tf.Tensor2D, bias: tf.Tensor1D | null, y: tf.Tensor2D | null, R: tf.Tensor2D, w?: tf.Tensor2D): tf.Tensor2D;
  /**
   * The relevance b_plu gets in y = a W_plu^T + b (epsilon rule: sum b R / stab(y); z+ and gamma:
   * undefined, i.e. 0), for the per-offset report, as a scalar tensor read by the caller after its
   * tf.tidy; the accounting records it in `linear` itself.
   */
  biasShare(bias: tf.Tensor1D, y: tf.Tensor2D, R: tf.Tensor2D): tf.Scalar | undefined;
  /** s = R / stab(z) where the inputs pass sum(s * z) (eps recorded; 0 where the denominator is 0). */
  ratio(R: tf.Tensor, z: tf.Tensor): tf.Tensor;
}

/** The recorded stages of one block (GrassmannModel.trace); mix_sum and ffn_sum where the layout has them. */
export type RecordedStages = Readonly<Record<BlockStage, tf.Tensor2D>>;

/** The LayerNorm weights a layout rule reads. */
export type SubLayerNorms = Pick<BlockWeights, 'norm1Weight' | 'norm2Weight'>;

/** A recorded stage that only some layouts have (a sum before a post-norm LayerNorm). */
function recorded(rec: RecordedStages, stage: BlockStage): tf.Tensor2D {
  const t = rec[stage];
  if (!t) throw new Error(`the recorded forward pass has no '${stage}' stage: it does not follow this block layout`);
  return t;
}

// ---------------------------------------------------------------------------------------------
// Block layout: the two sub-layers
// ---------------------------------------------------------------------------------------------

/** R at a sub-layer's output split over its residual and its branch. */
export interface SubLayerBack {
  /** R of the sub-layer's input through the residual; null where there is none. */
  residual: tf.Tensor2D | null;
  /** R of the branch output (mix_out, or ffn_out). */
  branch: tf.Tensor2D;
}

export interface BlockLayoutRule {
  /** block_out -> x' through the residual, and ffn_out. */
  ffnOutput(rec: RecordedStages, w: SubLayerNorms, R: tf.Tensor2D, ctx: RuleContext): SubLayerBack & { residual: tf.Tensor2D };
  /** R of the FFN's input (ffn_in) -> its share of R at x' (mid). */
  ffnInput(rec: RecordedStages, w: SubLayerNorms, R: tf.Tensor2D, ctx: RuleContext): tf.Tensor2D;
  /** mid -> the block input x through the residual (null without one), and mix_out. */
  mixOutput(rec: RecordedStages, w: SubLayerNorms, R: tf.Tensor2D, ctx: RuleContext): SubLayerBack;
  /** R of the mixing module's input h (mix_in) -> its share of R at the block input. */
  mixInput(rec: RecordedStages, w: SubLayerNorms, R: tf.Tensor2D, ctx: RuleContext): tf.Tensor2D;
  /** The rules as the report states them. */
  text: { ffn: string; mix: string };
}

const SIGMA = 'LayerNorm rule (σ frozen)';

/** x'' = x' + FFN(LN_f(x')). */
const preNormFfn: Pick<BlockLayoutRule, 'ffnOutput' | 'ffnInput'> = {
  ffnOutput: (rec, _w, R, ctx) => {
    const [residual, branch] = ctx.sum([rec.mid, rec.ffn_out], rec.block_out, R);
    return { residual, branch };
  },
  ffnInput: (rec, _w, R, ctx) => ctx.layerNorm('norm2', rec.mid, rec.ffn_in, R),
};

/** x'' = LN_f(x' + FFN(x')). */
const postNormFfn: Pick<BlockLayoutRule, 'ffnOutput' | 'ffnInput'> = {
  ffnOutput: (rec, _w, R, ctx) => {
    const sum = recorded(rec, 'ffn_sum');
    const [residual, branch] = ctx.sum([rec.mid, rec.ffn_out], sum, ctx.layerNorm('norm2', sum, rec.block_out, R));
    return { residual, branch };
  },
  ffnInput: (_rec, _w, R) => R, // the FFN reads x' itself
};

const PRE_NORM_FFN_TEXT = `FFN sub-layer x' + FFN(LN_f(x')): epsilon across x' and FFN(·); LN_f: ${SIGMA}`;
const POST_NORM_FFN_TEXT = `FFN sub-layer, post-norm LayerNorm(x' + FFN(x')): ${SIGMA}, then epsilon across x' and FFN(x')`;

export const BLOCK_LAYOUT_RULES: Readonly<Record<BlockLayout, BlockLayoutRule>> = {
  'pre-norm': {
    ...preNormFfn,
    mixOutput: (rec, _w, R, ctx) => {
      const [residual, branch] = ctx.sum([rec.input, rec.mix_out], rec.mid, R);
      return { residual, branch };
    },
    mixInput: (rec, _w, R, ctx) => ctx.layerNorm('norm1', rec.input, rec.mix_in, R),
    text: { ffn: PRE_NORM_FFN_TEXT, mix: `mixing sub-layer x + m, m = Mix(LN_a(x)): epsilon across x and m; LN_a: ${SIGMA}` },
  },
  'post-norm': {
    ...postNormFfn,
    mixOutput: (rec, _w, R, ctx) => {
      const sum = recorded(rec, 'mix_sum');
      const [residual, branch] = ctx.sum([rec.input, rec.mix_out], sum, ctx.layerNorm('norm1', sum, rec.mid, R));
      return { residual, branch };
    },
    mixInput: (_rec, _w, R) => R, // h = x
    text: { ffn: POST_NORM_FFN_TEXT, mix: `mixing sub-layer, post-norm LayerNorm(x + m), m = Mix(x): ${SIGMA}, then epsilon across x and m` },
  },
  'post-norm-no-mix-residual': {
    ...postNormFfn,
    mixOutput: (rec, _w, R, ctx) => ({ residual: null, branch: ctx.layerNorm('norm1', recorded(rec, 'mix_sum'), rec.mid, R) }),
    mixInput: (_rec, _w, R) => R, // h = x
    text: { ffn: POST_NORM_FFN_TEXT, mix: `mixing sub-layer LayerNorm(m), m = Mix(x), no residual: ${SIGMA}, all to m` },
  },
};

// ---------------------------------------------------------------------------------------------
// The LayerNorm inside the mixing module (mixNorm)
// ---------------------------------------------------------------------------------------------

export interface MixNormRule {
  /** R of the mixing output before its LayerNorm (`combined`) from R at mix_out. */
  back(combined: tf.Tensor2D, w: Pick<BlockWeights, 'mixNormWeight'>, mixOut: tf.Tensor2D, R: tf.Tensor2D, ctx: RuleContext): tf.Tensor2D;
  text: string | null;
}

/** Keyed by ArchitectureOptions.mixNorm as text. */
export const MIX_NORM_RULES: Readonly<Record<'true' | 'false', MixNormRule>> = {
  true: {
    back: (combined, w, mixOut, R, ctx) => {
      if (!w.mixNormWeight) throw new Error('the architecture has a LayerNorm inside the mixing module, but the block holds no weights for it');
      return ctx.layerNorm('mixNorm', combined, mixOut, R);
    },
    text: `LayerNorm inside the mixing module: ${SIGMA}`,
  },
  false: { back: (_combined, _w, _mixOut, R) => R, text: null },
};

// ---------------------------------------------------------------------------------------------
// Mixing output and gate policy
// ---------------------------------------------------------------------------------------------

/** A term of a mixing output (MIX_OUTPUT_KERNELS.terms), for relevance. */
export interface MixTermRule {
  /** As written in the report. */
  name: string;
  /** Which input is its signal. */
  signal: 'h' | 'g';
  /** Whether it is a product with the gate (alpha or 1 - alpha). */
  gated: boolean;
}

export interface MixOutputRule {
  formula: string;
  /** [h-term, g-term] as MIX_OUTPUT_KERNELS.terms gives them (null: no h-term). */
  terms: readonly [MixTermRule | null, MixTermRule];
}

export const MIX_OUTPUT_RULES: Readonly<Record<MixOutput, MixOutputRule>> = {
  blend: {
    formula: 'α⊙h + (1−α)⊙g',
    terms: [{ name: 'α⊙h', signal: 'h', gated: true }, { name: '(1−α)⊙g', signal: 'g', gated: true }],
  },
  additive: {
    formula: 'h + α⊙g',
    terms: [{ name: 'h', signal: 'h', gated: false }, { name: 'α⊙g', signal: 'g', gated: true }],
  },
  'gated-geometry': {
    formula: 'α⊙g',
    terms: [null, { name: 'α⊙g', signal: 'g', gated: true }],
  },
};

export interface GatePolicyRule {
  /** Shares of a gated product's relevance: its signal's and the gate's (they add to 1). */
  signal: number;
  gate: number;
  text(signal: string): string;
}

export const GATE_POLICY_RULES: Readonly<Record<GatePolicy, GatePolicyRule>> = {
  'signal-take-all': { signal: 1, gate: 0, text: (s) => `signal-take-all: all to ${s}` },
  half: { signal: 0.5, gate: 0.5, text: (s) => `half: half to ${s}, half to the gate` },
};

export interface MixingBack {
  /** R of h and g from the mixing output's terms (the gate's share not yet added). */
  Rh: tf.Tensor2D | null;
  Rg: tf.Tensor2D;
  /** R of the gate (its pre-activation: the sigmoid passes it unchanged); null when it gets nothing. */
  Rgate: tf.Tensor2D | null;
}

/**
 * R at the mixing module's output (mix_out) -> h, g and the gate: through the mixing LayerNorm
 * (if any), epsilon across the output's terms (one term takes all), the gate policy on each
 * gated term.
 */
export function mixingBack(
  variant: Pick<ArchitectureOptions, 'mixOutput' | 'mixNorm'>,
  policy: GatePolicy,
  rec: RecordedStages,
  w: Pick<BlockWeights, 'mixNormWeight'>,
  R: tf.Tensor2D,
  ctx: RuleContext,
): MixingBack {
  const rule = MIX_OUTPUT_RULES[variant.mixOutput];
  const gate = GATE_POLICY_RULES[policy];
  const values = MIX_OUTPUT_KERNELS[variant.mixOutput].terms(rec.mix_in, rec.g, rec.alpha);
  const present: { value: tf.Tensor2D; rule: MixTermRule }[] = [];
  values.forEach((value, i) => {
    const termRule = rule.terms[i];
    if ((value === null) !== (termRule === null)) throw new Error(`the relevance rule of mixing output '${variant.mixOutput}' does not match its kernel's terms`);
    if (value && termRule) present.push({ value, rule: termRule });
  });
  const combined = present.length === 1 ? present[0].value : (tf.addN(present.map((t) => t.value)) as tf.Tensor2D);
  const Rcombined = MIX_NORM_RULES[String(variant.mixNorm) as 'true' | 'false'].back(combined, w, rec.mix_out, R, ctx);
  const Rterms = present.length === 1 ? [Rcombined] : ctx.sum(present.map((t) => t.value), combined, Rcombined);
  let Rh: tf.Tensor2D | null = null;
  let Rg: tf.Tensor2D | null = null;
  const gateParts: tf.Tensor2D[] = [];
  present.forEach((term, i) => {
    const Rt = Rterms[i];
    const toSignal = term.rule.gated && gate.signal !== 1 ? (tf.mul(Rt, gate.signal) as tf.Tensor2D) : Rt;
    if (term.rule.gated && gate.gate !== 0) gateParts.push(tf.mul(Rt, gate.gate) as tf.Tensor2D);
    if (term.rule.signal === 'h') Rh = Rh ? (tf.add(Rh, toSignal) as tf.Tensor2D) : toSignal;
    else Rg = Rg ? (tf.add(Rg, toSignal) as tf.Tensor2D) : toSignal;
  });
  const Rgate = gateParts.length === 0 ? null : gateParts.length === 1 ? gateParts[0] : (tf.addN(gateParts) as tf.Tensor2D);
  return { Rh, Rg: Rg ?? (tf.zerosLike(rec.g) as tf.Tensor2D), Rgate };
}

// ---------------------------------------------------------------------------------------------
// Aggregation over the window offsets: where b_plu sits
// ---------------------------------------------------------------------------------------------

/** What the general (per-offset) path of the aggregation reads. */
export interface AggregationInput {
  plan: OffsetPlan;
  /** Each offset's planes, in plan order (count 0 where the offset has no partner). */
  planes: readonly OffsetPlanes[];
  /** The recorded g [T, d] and its relevance. */
  g: tf.Tensor2D;
  Rg: tf.Tensor2D;
  /** W_plu^T [P, d], W_plu [d, P], b_plu [d]. */
  pluckerT: tf.Tensor2D;
  pluckerW: tf.Tensor2D;
  bias: tf.Tensor1D;
  T: number;
}

export interface AggregationBack {
  /** Per offset (plan order): relevance of its normalised coordinates p_hat [count, P], or null where count = 0. */
  coordinates: (Float32Array | null)[];
  /** Per offset: the relevance its term of g received (with b_plu's share where the bias is inside the term). */
  entering: Float64Array;
  /** The relevance b_plu absorbed. */
  bias: number;
}

export interface AggregationRule {
  /**
   * project-then-mean: b_plu is inside each offset's term (weight 1 where an offset is valid, 0
   * elsewhere) and its share is counted in the offset's relevance; mean-then-project: b_plu comes
   * after the mean, at every position (all of g where no offset is valid), and absorbs its share
   * itself (reported per layer as pluckerBias, and in the account).
   */
  biasInOffsetTerms: boolean;
  /** The general path (any linear rule): R_g -> R of each offset's p_hat. Frees the tensors it makes; reads them asynchronously. */
  back(input: AggregationInput, ctx: RuleContext): Promise<AggregationBack>;
  text(linear: string): string;
}

function offsetWeights(plan: OffsetPlan, planes: OffsetPlanes, k: number): Float32Array {
  const K = plan.offsets.length;
  return Float32Array.from({ length: planes.count }, (_, row) => plan.weights[(planes.first + row) * K + k]);
}

/**
 * The values of tensors made in their own tf.tidy, read asynchronously, then freed (typed arrays
 * are not returned from one: it walks them key by key). An undefined stays undefined.
 */
async function valuesOf<K extends string>(make: () => Record<K, tf.Tensor | undefined>): Promise<Record<K, Float32Array | undefined>> {
  const made = tf.tidy(make as () => tf.TensorContainerObject) as Record<K, tf.Tensor | undefined>;
  const keys = Object.keys(made) as K[];
  try {
    const values = await Promise.all(keys.map((k) => made[k]?.data()));
    return Object.fromEntries(keys.map((k, i) => [k, values[i] as Float32Array | undefined])) as Record<K, Float32Array | undefined>;
  } finally {
    for (const k of keys) made[k]?.dispose();
  }
}

export const AGGREGATION_RULES: Readonly<Record<Aggregation, AggregationRule>> = {
  // g = sum_k w_k (W_plu p_hat_k + b_plu): epsilon across the offsets' terms, then W_plu per offset.
  'project-then-mean': {
    biasInOffsetTerms: true,
    async back({ plan, planes, g, Rg, pluckerT, pluckerW, bias }, ctx) {
      const d = g.shape[1];
      const P = pluckerT.shape[0];
      const entering = new Float64Array(plan.offsets.length);
      const coordinates: (Float32Array | null)[] = [];
      let absorbed = 0;
      const S = tf.tidy(() => ctx.ratio(Rg, g));
      try {
        for (let k = 0; k < planes.length; k++) {
          const p = planes[k];
          if (p.count === 0) {
            coordinates.push(null);
            continue;
          }
          const v = await valuesOf(() => {
            const a = tf.tensor2d(p.coordinates, [p.count, P]);
            const gk = tf.add(tf.matMul(a, pluckerT), bias) as tf.Tensor2D; // this offset's term before the mean
            const wk = tf.tensor2d(offsetWeights(plan, p, k), [p.count, 1]);
            const Rterm = tf.mul(tf.mul(gk, wk), tf.slice(S, [p.first, 0], [p.count, d])) as tf.Tensor2D;
            return { entering: tf.sum(Rterm), share: ctx.biasShare(bias, gk, Rterm), coordinates: ctx.linear('plucker', a, pluckerT, bias, gk, Rterm, pluckerW) };
          });
          entering[k] = v.entering![0];
          absorbed += v.share ? v.share[0] : 0;
          coordinates.push(v.coordinates!);
        }
      } finally {
        S.dispose();
      }
      return { coordinates, entering, bias: absorbed };
    },
    text: (linear) => `g = mean_d(W_plu p̂_d + b_plu): epsilon across the offsets' terms, W_plu ${linear} per offset; b_plu's share is counted in each offset's relevance`,
  },
  // g = W_plu pbar + b_plu, pbar = sum_k w_k p_hat_k: W_plu on the mean, then epsilon across the offsets.
  'mean-then-project': {
    biasInOffsetTerms: false,
    async back({ plan, planes, g, Rg, pluckerT, pluckerW, bias, T }, ctx) {
      const P = pluckerT.shape[0];
      const K = plan.offsets.length;
      const mean = new Float32Array(T * P);
      planes.forEach((p, k) => {
        for (let row = 0; row < p.count; row++) {
          const t = p.first + row;
          const wt = plan.weights[t * K + k];
          for (let q = 0; q < P; q++) mean[t * P + q] += wt * p.coordinates[row * P + q];
        }
      });
      // R_pbar / stab(pbar)   [T, P]
      const v = await valuesOf(() => {
        const pbar = tf.tensor2d(mean, [T, P]);
        return { share: ctx.biasShare(bias, g, Rg), s: ctx.ratio(ctx.linear('plucker', pbar, pluckerT, bias, g, Rg, pluckerW), pbar) };
      });
      const absorbed = v.share ? v.share[0] : 0;
      const s = v.s!;
      const entering = new Float64Array(K);
      const coordinates = planes.map((p, k) => {
        if (p.count === 0) return null;
        const out = new Float32Array(p.count * P);
        for (let row = 0; row < p.count; row++) {
          const t = p.first + row;
          const wt = plan.weights[t * K + k];
          for (let q = 0; q < P; q++) {
            const v = wt * p.coordinates[row * P + q] * s[t * P + q];
            out[row * P + q] = v;
            entering[k] += v;
          }
        }
        return out;
      });
      return { coordinates, entering, bias: absorbed };
    },
    text: (linear) => `g = W_plu mean_d(p̂_d) + b_plu: W_plu ${linear}, then epsilon across the offsets; b_plu (at every position, all of g where no offset is valid) absorbs its share (pluckerBias)`,
  },
};

// ---------------------------------------------------------------------------------------------
// Activations, the Plücker stage, and the statement of the rules
// ---------------------------------------------------------------------------------------------

/** Every FFN activation takes the identity rule (R_pre = R_act). */
export const ACTIVATION_RULES: Readonly<Record<Activation, string>> = {
  gelu: 'GELU: identity',
  'gelu-tanh': 'GELU (tanh): identity',
  relu: 'ReLU: identity',
};

const PARTNER: Readonly<Record<PairingRule, string>> = { previous: 'z_{t−d}', next: 'z_{t+d}' };

/** The options a statement of the rules reads. */
export type RuleOptions = Pick<ArchitectureOptions, 'block' | 'mixOutput' | 'mixNorm' | 'aggregation' | 'activation' | 'pairing' | 'pluckerEps'>;

/** The rules a relevance run follows on this architecture, one line per stage kind, top (head) to bottom (embeddings). */
export function describeRules(variant: RuleOptions, options: RelevanceOptions, book: RuleBook): string[] {
  const uniform = book.uniformRule();
  const linear = uniform ? book.at({ layer: null, role: 'lmHead' }).text : 'the rule of the site (see "linear maps")';
  const block = BLOCK_LAYOUT_RULES[variant.block];
  const mix = MIX_OUTPUT_RULES[variant.mixOutput];
  const gate = GATE_POLICY_RULES[options.gate];
  const terms = mix.terms.filter((t): t is MixTermRule => t !== null);
  // One term takes all of R_m (no sum); several: epsilon across them. Then the gate policy per gated product.
  const products = terms.filter((t) => t.gated).map((t) => `${t.name}: ${gate.text(t.signal)}`);
  const split = terms.length > 1 ? [`epsilon across ${terms.map((t) => t.name).join(' and ')}`, ...products] : [terms[0].gated ? gate.text(terms[0].signal) : `all to ${terms[0].signal}`];
  const gated = terms.some((t) => t.gated) && gate.gate > 0;
  const mixNorm = MIX_NORM_RULES[String(variant.mixNorm) as 'true' | 'false'].text;
  const where = options.epsilonPlacement === 'linear-maps'
    ? 'in the linear maps only (textbook placement; W_plu per offset term); sums, the mean over offsets and LayerNorm rules use eps 0'
    : 'in every linear rule, sum and LayerNorm rule; W_plu and the mean over offsets share stab(g)';
  return [
    `conventions: signed relevance; stab(z) = z + eps·sign(z), eps = ${options.epsilon}, ${where}; no eps in the Plücker product (exact half rule); ${SIGMA}: R_x = x ⊙ (v − mean v), v = γ/σ ⊙ R_y / stab(y); biases and eps absorb relevance, stated per stage`,
    ...(uniform ? [] : [`linear maps (composite ${options.composite}${options.overrides?.length ? ', with overrides' : ''}): ${book.describe().join('; ')}`]),
    `head: lm_head ${linear} from the ${options.start === 'logit' ? 'target logits' : 'unit relevance per target'}; final LayerNorm: ${SIGMA}`,
    block.text.ffn,
    `FFN: both linear maps ${linear}; ${ACTIVATION_RULES[variant.activation]}`,
    block.text.mix,
    ...(mixNorm ? [mixNorm] : []),
    `mixing output ${mix.formula}: ${split.join('; ')}`,
    gated
      ? `gate α = σ(W_gate [h; g] + b_gate): σ identity, W_gate ${linear}, to h and g`
      : `gate α: gets no relevance (${gate.gate === 0 ? options.gate : 'no gated term'})`,
    AGGREGATION_RULES[variant.aggregation].text(linear),
    `Plücker: p̂ = p / max(‖p‖, ${variant.pluckerEps}): identity (normaliser frozen); p = z_t ∧ ${PARTNER[variant.pairing]}: uniform half rule (half to each state)`,
    `z = W_red h + b_red: ${linear}`,
    'embeddings: token + position: epsilon across the two',
  ];
}
