/**
 * The JSON-able shapes of relevance (LRP) results and pruning sweeps: what the core returns, the
 * CLI prints with --json, the worker sends to the extension host and the webviews draw.
 * Rules and algorithm: ../../../shared/docs/grassmann-math.md §4-5 (described in ./lrp.ts).
 */

/** Rule for the linear maps W_red, W_plu, W_gate, ffn.0, ffn.3 and lm_head. */
export type LinearRule = 'epsilon' | 'zplus' | 'gamma';
/** Who gets the relevance of a gated product alpha * h: h alone, or half to the gate (AttnLRP). */
export type GatePolicy = 'signal-take-all' | 'half';
/** Starting relevance at the target logit: its value (the usual LRP start) or 1 per target. */
export type StartMode = 'logit' | 'unit';

export interface RelevanceOptions {
  rule: LinearRule;
  /** Stabiliser of the epsilon rule: z + eps * sign(z) (also used by residual sums and the mean). */
  epsilon: number;
  /** gamma of the gamma rule (weight of the positive contributions). */
  gamma: number;
  gate: GatePolicy;
  start: StartMode;
}

export const DEFAULT_RELEVANCE_OPTIONS: Readonly<RelevanceOptions> = {
  rule: 'epsilon',
  epsilon: 1e-6,
  gamma: 0.25,
  gate: 'signal-take-all',
  start: 'logit',
};

/** Where relevance starts: one logit, or the true next token at every position. */
export type RelevanceTarget =
  | { kind: 'token'; position: number; tokenId: number }
  | { kind: 'next-token' };

/** Relevance summed at a stage boundary, and how much the step below it lost (or made up). */
export interface ConservationStep {
  /** 'head' (logits -> final LayerNorm input), 'layer 0'..'layer L-1', 'embeddings'. */
  stage: string;
  /** Sum of relevance entering the step from above. */
  upper: number;
  /** Sum of relevance leaving the step below. */
  lower: number;
  /** |lower - upper| / |upper| */
  leak: number;
}

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
   * positions: inside the offsets' relevance under project-then-mean; a leak of its own under
   * mean-then-project, where b_plu sits at every position (all of g where no offset is valid).
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
  /** |sum of input relevance - start| / |start| over the whole model. */
  totalLeak: number;
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
export type PruneCriterion = 'lrp' | 'magnitude' | 'gradient' | 'taylor' | 'wina' | 'random';
export type PruneMode = 'structural' | 'mask';
export type PruneScope = 'global' | 'per-layer';

export const PRUNE_CRITERIA: readonly PruneCriterion[] = ['lrp', 'magnitude', 'gradient', 'taylor', 'wina', 'random'];
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

export interface PruneStep extends QualityMetrics {
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
}

export interface PruneReport {
  checkpoint: string;
  data: string;
  reference: string;
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
  baseline: QualityMetrics;
  steps: PruneStep[];
  /** Units per layer before pruning. */
  unitsPerLayer: number[];
  /** Folder of the whole sweep (holds pruning.json with this report). */
  output: string;
  backend: string;
  seconds: number;
  warnings: string[];
}
