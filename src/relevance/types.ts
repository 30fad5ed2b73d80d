/**
 * The JSON-able shapes of relevance (LRP) results and pruning sweeps: what the core returns, the
 * CLI prints with --json, the worker sends to the extension host and the webviews draw.
 * Rules and algorithm: ../../../shared/docs/grassmann-math.md §4-5 (described in ./lrp.ts).
 */

/** Rule for the linear maps W_red, W_plu, W_gate, ffn.0, ffn.3 and lm_head (./rules.ts). */
export type LinearRule = 'epsilon' | 'zplus' | 'gamma';
/** Who gets the relevance of a gated product alpha * h: h alone, or half to the gate (AttnLRP). */
export type GatePolicy = 'signal-take-all' | 'half';
/** Starting relevance at the target logit: its value (the usual LRP start) or 1 per target. */
export type StartMode = 'logit' | 'unit';
/** A named choice of rule per site (./rules.ts RULE_COMPOSITES). */
export type RuleComposite = 'uniform' | 'epsilon-gamma' | 'epsilon-plus';
/**
 * Where eps sits (./rules.ts):
 *   every-denominator  every linear map, every sum (residual adds, the mixing output's terms, the
 *                      embedding sum), every LayerNorm rule; W_plu and the mean over window
 *                      offsets share one denominator stab(g) (the fast path)
 *   linear-maps        the textbook placement: only the linear maps (lm_head, ffn.out, ffn.in,
 *                      W_gate, W_red, and W_plu on each offset's term separately); sums, the mean
 *                      over offsets and the LayerNorm rules use eps 0
 * The Plücker product (the uniform half rule) never has one: it is exact.
 */
export type EpsilonPlacement = 'every-denominator' | 'linear-maps';

/** A rule for some sites: the head, layers, linear maps by name (lm_head, ffn.out, ffn.in, W_gate, W_plu, W_red). All given conditions must hold. */
export interface RuleOverride {
  rule: LinearRule;
  head?: boolean;
  layers?: number[];
  roles?: string[];
}

export interface RelevanceOptions {
  /** The rule of the linear maps under the 'uniform' composite. */
  rule: LinearRule;
  /** Stabiliser: z + eps * sign(z) in the denominators that `epsilonPlacement` names. */
  epsilon: number;
  /** gamma of the gamma rule (weight of the positive contributions). */
  gamma: number;
  gate: GatePolicy;
  start: StartMode;
  /** The rule per site: 'uniform' (rule everywhere) or a named composite. */
  composite: RuleComposite;
  /** Rules for particular sites, applied after the composite in order (the last match wins). */
  overrides?: RuleOverride[];
  epsilonPlacement: EpsilonPlacement;
}

export const DEFAULT_RELEVANCE_OPTIONS: Readonly<RelevanceOptions> = {
  rule: 'epsilon',
  epsilon: 1e-6,
  gamma: 0.25,
  gate: 'signal-take-all',
  start: 'logit',
  composite: 'uniform',
  epsilonPlacement: 'every-denominator',
};

/** Where relevance starts: one logit, or the true next token at every position. */
export type RelevanceTarget =
  | { kind: 'token'; position: number; tokenId: number }
  | { kind: 'next-token' };

/** Relevance a bias absorbed (signed), by the bias's state-dict key (a LayerNorm's beta included). */
export interface BiasAbsorption {
  name: string;
  relevance: number;
}

/**
 * Relevance at a stage boundary and where the difference went, signed:
 *   upper = lower + bias + epsilon + remainder
 * bias: what the stage's biases absorbed (sum of s * b over each rule application, ./rules.ts);
 * epsilon: what the stabilisers absorbed (sum of R - s * den); remainder: float32 rounding of the
 * whole computation (0 in exact arithmetic).
 */
export interface ConservationStep {
  /** 'head' (logits -> final LayerNorm input), 'layer 0'..'layer L-1', 'embeddings'. */
  stage: string;
  /** Sum of relevance entering the step from above. */
  upper: number;
  /** Sum of relevance leaving the step below. */
  lower: number;
  /** Per bias of the stage (only biases the model has). */
  biases: BiasAbsorption[];
  /** Sum of `biases`. */
  bias: number;
  epsilon: number;
  remainder: number;
}

/**
 * The whole model's account: start = input + bias + epsilon + remainder (signed; the sums of the
 * stages' terms). Ratios to the start are only given when |start| is at least
 * ACCOUNTING_MEANINGFUL_SHARE of |input| + |bias| + |epsilon|; otherwise `ratiosMeaningful` is
 * false and `note` says why.
 */
export interface RelevanceAccounting {
  start: number;
  input: number;
  bias: number;
  epsilon: number;
  remainder: number;
  /** Each bias over all stages (state-dict key, or the LayerNorm's beta key). */
  biases: BiasAbsorption[];
  ratiosMeaningful: boolean;
  /** input / start, bias / start, epsilon / start when meaningful, else null. */
  shares: { input: number; bias: number; epsilon: number } | null;
  note: string | null;
}

/** |start| must be at least this share of |input| + |bias| + |epsilon| for ratios to it to be printed. */
export const ACCOUNTING_MEANINGFUL_SHARE = 0.1;

export interface OffsetRelevance {
  offset: number;
  relevance: number;
  /** relevance / sum over this layer's offsets of |relevance| */
  share: number;
}

export interface LayerRelevance {
  layer: number;
  /** Sum of relevance at the block input x_l and output x_{l+1}. */
  input: number;
  output: number;
  /** Relevance that went into the mixing branch (LayerNorm(blend)) and into the FFN branch. */
  mixing: number;
  ffn: number;
  /** Per FFN neuron (GELU output), summed over positions: [f]. */
  ffnNeurons: number[];
  /** Per reduced dimension of z, summed over positions: [r]. */
  reducedDims: number[];
  /** Per Plücker pair (row-major (0,1),(0,2),...), summed over positions and offsets: [P]. */
  pairs: number[];
  /**
   * Per window offset (distinct offsets used at this length, ascending): the relevance its term of
   * g received; b_plu's share is included under project-then-mean (the bias is inside each term)
   * and not under mean-then-project (see pluckerBias).
   */
  offsets: OffsetRelevance[];
  /**
   * Relevance the W_plu bias b_plu absorbed (epsilon rule; 0 under z+ and gamma), summed over
   * positions: inside the offsets' relevance under project-then-mean; absorbed by itself under
   * mean-then-project, where b_plu sits at every position (all of g where no offset is valid).
   * Either way it is in the layer's conservation step under b_plu's key.
   */
  pluckerBias: number;
  /** Per gate dimension (the gate's pre-activation), summed over positions: [d]. 0 under signal-take-all. */
  gate: number[];
  /** Relevance of the block input per position: [T]. */
  positions: number[];
}

export interface RelevanceResult {
  options: RelevanceOptions;
  target: RelevanceTarget;
  /** Token count T. */
  length: number;
  /** Sum of the starting relevance over all targets. */
  start: number;
  /** Per input token (token-embedding part) [T], and per position (position-embedding part) [T]. */
  tokens: number[];
  positionEmbedding: number[];
  layers: LayerRelevance[];
  /** From the head down to the embeddings. */
  conservation: ConservationStep[];
  /** start = input + bias + epsilon + remainder, over the whole model. */
  accounting: RelevanceAccounting;
  /**
   * The rules followed on this model's architecture, one line per stage kind from the head down
   * (../relevance/layoutRules.ts describeRules): e.g. "mixing sub-layer, post-norm LayerNorm(x + m),
   * m = Mix(x): LayerNorm rule (σ frozen), then epsilon across x and m".
   */
  rules: string[];
}

// ---------------------------------------------------------------------------------------------
// Pruning
// ---------------------------------------------------------------------------------------------

export type PruneUnitKind = 'ffn' | 'reduced' | 'windows';
/**
 * How units are scored (./../pruning/criteria.ts states each formula):
 *   lrp           |relevance| of the unit (per reference sample, summed over positions, then |.|, summed over samples)
 *   lrp-signed    signed relevance (negative relevance ranks lowest, so it is removed first)
 *   taylor        |a dL/da| with L the next-token cross-entropy (Molchanov et al.)
 *   taylor-logit  the same with L the sum of the true next-token logits (the LRP start)
 *   gradient      |dL/da| summed over positions (L: the true next-token logits)
 *   magnitude, wina, random
 */
export type PruneCriterion = 'lrp' | 'lrp-signed' | 'magnitude' | 'gradient' | 'taylor' | 'taylor-logit' | 'wina' | 'random';
export type PruneMode = 'structural' | 'mask';
export type PruneScope = 'global' | 'per-layer';

export const PRUNE_CRITERIA: readonly PruneCriterion[] = ['lrp', 'lrp-signed', 'magnitude', 'gradient', 'taylor', 'taylor-logit', 'wina', 'random'];
export const PRUNE_UNITS: readonly PruneUnitKind[] = ['ffn', 'reduced', 'windows'];

/** One unit: an FFN neuron, a reduced dimension (index into z) or a window offset (its value). */
export interface PruneUnit {
  layer: number;
  index: number;
}

export interface ScoredUnit extends PruneUnit {
  /** Score normalised per layer (divided by the layer's sum of |score|). */
  score: number;
}

export interface QualityMetrics {
  mean_nll: number;
  perplexity: number;
  /** Next-token top-1 accuracy over the same predictions. */
  accuracy: number;
  predictions: number;
}

/** A two-sided interval [low, high] (here: the 2.5th and 97.5th bootstrap percentiles). */
export interface Interval {
  low: number;
  high: number;
}

/** A point value and its 95% interval. */
export interface Estimate {
  value: number;
  interval: Interval;
}

/** 95% percentile-bootstrap intervals of a model's quality (PruneReport.bootstrap says how). */
export interface QualityIntervals {
  mean_nll: Interval;
  /** exp of each resample's pooled mean NLL, then its percentiles. */
  perplexity: Interval;
  accuracy: Interval;
}

/**
 * Per evaluation chunk, in text order (chunk c = tokens c·seqLen .. (c+1)·seqLen - 1): the sum of
 * its seqLen - 1 next-token NLLs (nats) and its number of top-1 hits. The bootstrap resamples
 * these; they also let anyone recompute the intervals from pruning.json.
 */
export interface ChunkSums {
  nll: number[];
  correct: number[];
}

/** A model's quality on the evaluation text, with its uncertainty. */
export interface MeasuredQuality extends QualityMetrics {
  interval: QualityIntervals;
  perChunk: ChunkSums;
}

/**
 * How the intervals were made: percentile bootstrap over evaluation chunks. Every model of the
 * sweep is evaluated on the same chunks, so every model uses the same resamples (paired): a
 * difference of two models is resampled as one statistic, chunk by chunk.
 */
export interface BootstrapSettings {
  method: 'percentile';
  /** 0.95: the interval is [2.5th, 97.5th] percentile of the resampled statistic. */
  level: number;
  /** B: resamples of the chunks (with replacement, as many chunks as there are). */
  resamples: number;
  /** Seed of the resample indices (mulberry32, ../model/synthetic.ts seededRandom). */
  seed: number;
  /** The resampling unit, in words. */
  unit: string;
  chunks: number;
  predictionsPerChunk: number;
  /** true: the same resample indices for the baseline and every step. */
  paired: boolean;
  /** How a percentile is read off the sorted resamples, in words. */
  quantile: string;
  /** The rule behind "not separable", in words. */
  separability: string;
}

/** Two criteria at one rate. */
export interface CriterionComparison {
  rate: number;
  a: PruneCriterion;
  b: PruneCriterion;
  /** mean NLL of a minus mean NLL of b (nats), with its paired 95% interval. */
  deltaNll: Estimate;
  /** Whether the two 95% perplexity intervals overlap. */
  overlap: boolean;
  /** The report's rule: separable exactly when the perplexity intervals do not overlap. */
  separable: boolean;
  /** Whether the paired interval of deltaNll excludes 0 (it can while the marginal intervals overlap). */
  pairedExcludesZero: boolean;
}

export interface PruneStep extends MeasuredQuality {
  criterion: PruneCriterion;
  rate: number;
  /** Units removed at this rate (lowest scores first). */
  removed: ScoredUnit[];
  /** Units left per layer. */
  remaining: number[];
  /** Folder holding this step's checkpoint and pruning.json. */
  output: string;
  /** The written checkpoint files (absolute paths). */
  files: string[];
  /** mean NLL minus the baseline's (nats), with its paired 95% interval (same resamples). */
  deltaNll: Estimate;
}

/** A held-out split of one file (src/pruning/heldOut.ts): reference = text[0, cut), evaluation = text[cut, end). */
export interface PruneTextSplit {
  /** The share asked for: the reference part is the first `fraction` of the text, to the next line end. */
  fraction: number;
  /** Character offset of the cut. */
  cut: number;
  referenceChars: number;
  evaluationChars: number;
  /** Lines of the reference part. */
  referenceLines: number;
  evaluationLines: number;
}

export interface PruneReport {
  checkpoint: string;
  /** The evaluation file (with `split`, only its part after the cut evaluates). */
  data: string;
  /** The file the reference samples came from. */
  reference: string;
  /**
   * What scored the units: another file, the start of the evaluation file (`split`), or the
   * evaluation text itself (no reference, the same file, or the same content: not held out).
   */
  referenceSource?: 'file' | 'split' | 'evaluation';
  split?: PruneTextSplit;
  units: PruneUnitKind;
  mode: PruneMode;
  scope: PruneScope;
  rates: number[];
  criteria: PruneCriterion[];
  referenceSamples: number;
  seqLen: number;
  seed: number;
  relevance: RelevanceOptions;
  /** The unpruned model on the same data. */
  baseline: MeasuredQuality;
  steps: PruneStep[];
  /** What each criterion computes, the per-layer normalisation and (for lrp criteria) the LRP rules. */
  conventions: string[];
  /** How every interval of the report was made. */
  bootstrap: BootstrapSettings;
  /** Every pair of criteria at every rate (criteria in report order: a before b). */
  comparisons: CriterionComparison[];
  /** The pairs whose 95% perplexity intervals overlap at a rate (bootstrap.separability). */
  notSeparable: { rate: number; criteria: [PruneCriterion, PruneCriterion] }[];
  /** Units per layer before pruning. */
  unitsPerLayer: number[];
  /** Folder of the whole sweep (holds pruning.json with this report). */
  output: string;
  backend: string;
  seconds: number;
  warnings: string[];
}
