/**
 * Uncertainty of the pruning sweep's numbers: a percentile bootstrap over evaluation chunks.
 *
 * The `eval` protocol cuts the evaluation text into n non-overlapping chunks of seqLen tokens;
 * each chunk gives seqLen - 1 next-token predictions, and its NLL sum and top-1 hits are the
 * resampling unit (tokens within a chunk are not independent; chunks are much closer to it).
 * One resample draws n chunk indices uniformly with replacement (mulberry32 seeded with `seed`:
 * index = floor(u · n)); its statistics are the pooled ones:
 *   mean NLL   = sum of the drawn chunks' NLL sums / (n · (seqLen - 1))
 *   perplexity = exp(mean NLL of the resample)
 *   accuracy   = sum of the drawn chunks' hits / (n · (seqLen - 1))
 * B resamples give B values of each; the 95% interval is their 2.5th and 97.5th percentile, read
 * off the sorted values with linear interpolation between order statistics (position p·(B - 1),
 * 0-based: numpy's default, R's type 7).
 *
 * Paired: the indices depend only on (seed, n, B), so every model evaluated on the same chunks
 * gets the same resamples. A difference of two models (a step minus the baseline, one criterion
 * minus another) is then resampled as one statistic: resample r's mean NLL of A minus resample
 * r's mean NLL of B, whose percentiles are the difference's interval. That interval is narrower
 * than the two marginal intervals suggest when the models err on the same chunks, so it can
 * exclude 0 while the marginal intervals overlap.
 */
import { seededRandom } from '../model/synthetic';
import type { ChunkSums, Interval, QualityIntervals } from '../relevance/types';

export const DEFAULT_BOOTSTRAP_RESAMPLES = 1000;
export const BOOTSTRAP_LEVEL = 0.95;
/** Allowed range of B (--bootstrap). */
export const BOOTSTRAP_RESAMPLES_RANGE: readonly [number, number] = [100, 100_000];
/** Fewer predictions than this and the report warns that the intervals are wide. */
export const SMALL_EVALUATION_PREDICTIONS = 1000;

export const QUANTILE_RULE = 'linear interpolation between order statistics at position p·(B - 1) of the sorted resamples (numpy default, R type 7)';
export const SEPARABILITY_RULE = 'two criteria are not separable at a rate when their 95% perplexity intervals overlap (low_a <= high_b and low_b <= high_a); the paired 95% interval of their mean-NLL difference is given beside it and can exclude 0 while the intervals overlap';

/** Percentile p (0..1) of values sorted ascending: linear interpolation at position p·(n - 1). */
export function quantileSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) throw new RangeError('no values to take a percentile of');
  if (!(p >= 0 && p <= 1)) throw new RangeError(`percentile ${p} must be in [0, 1]`);
  const h = p * (n - 1);
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  if (lo === hi) return sorted[lo];
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/** The central `level` interval of `values` (any order): [q((1-level)/2), q((1+level)/2)]. */
export function percentileInterval(values: ArrayLike<number>, level: number = BOOTSTRAP_LEVEL): Interval {
  const sorted = Float64Array.from(values).sort();
  // Rounded to 12 digits: (1 - 0.95) / 2 is 0.025000000000000022 in floating point.
  const p = (v: number): number => Math.round(v * 1e12) / 1e12;
  return { low: quantileSorted(sorted, p((1 - level) / 2)), high: quantileSorted(sorted, p((1 + level) / 2)) };
}

/** Whether two closed intervals share a point. */
export function intervalsOverlap(a: Interval, b: Interval): boolean {
  return a.low <= b.high && b.low <= a.high;
}

export function intervalContains(i: Interval, v: number): boolean {
  return i.low <= v && v <= i.high;
}

/** The B resampled statistics of one model (index r = resample r, the same r for every model). */
export interface Replicates {
  meanNll: Float64Array;
  accuracy: Float64Array;
}

/** Largest index table kept in memory (entries); larger ones are drawn again for each model. */
const MAX_CACHED_INDICES = 1 << 24;

export class ChunkBootstrap {
  private cached: Uint32Array | undefined;

  constructor(
    /** n: chunks of the evaluation text. */
    readonly chunks: number,
    /** seqLen - 1. */
    readonly predictionsPerChunk: number,
    /** B. */
    readonly resamples: number,
    readonly seed: number,
    readonly level: number = BOOTSTRAP_LEVEL,
  ) {
    if (!Number.isInteger(chunks) || chunks < 1) throw new RangeError(`the bootstrap needs at least one chunk, got ${chunks}`);
    if (!Number.isInteger(predictionsPerChunk) || predictionsPerChunk < 1) throw new RangeError(`predictions per chunk must be a positive integer, got ${predictionsPerChunk}`);
    if (!Number.isInteger(resamples) || resamples < 1) throw new RangeError(`the number of resamples must be a positive integer, got ${resamples}`);
    if (!(level > 0 && level < 1)) throw new RangeError(`the interval level ${level} must be in (0, 1)`);
  }

  /** Calls `visit(r, index)` for the n chunk indices of every resample r, in order. */
  private forEachIndex(visit: (r: number, index: number) => void): void {
    const n = this.chunks;
    const B = this.resamples;
    if (this.cached) {
      const c = this.cached;
      for (let r = 0, k = 0; r < B; r++) for (let i = 0; i < n; i++, k++) visit(r, c[k]);
      return;
    }
    const keep = n * B <= MAX_CACHED_INDICES ? new Uint32Array(n * B) : undefined;
    const rand = seededRandom(this.seed);
    for (let r = 0, k = 0; r < B; r++) {
      for (let i = 0; i < n; i++, k++) {
        const index = Math.min(n - 1, Math.floor(rand() * n));
        if (keep) keep[k] = index;
        visit(r, index);
      }
    }
    this.cached = keep;
  }

  /** Resample r's chunk indices (for tests and for checking a report by hand). */
  indices(r: number): number[] {
    if (!(Number.isInteger(r) && r >= 0 && r < this.resamples)) throw new RangeError(`resample ${r} is outside 0..${this.resamples - 1}`);
    const out: number[] = [];
    this.forEachIndex((q, index) => {
      if (q === r) out.push(index);
    });
    return out;
  }

  private check(sums: ChunkSums): void {
    if (sums.nll.length !== this.chunks || sums.correct.length !== this.chunks) {
      throw new RangeError(`the bootstrap was set up for ${this.chunks} chunks; got ${sums.nll.length} NLL sums and ${sums.correct.length} hit counts`);
    }
  }

  /** The B resampled mean NLLs and accuracies of one model. */
  replicates(sums: ChunkSums): Replicates {
    this.check(sums);
    const B = this.resamples;
    const meanNll = new Float64Array(B);
    const accuracy = new Float64Array(B);
    this.forEachIndex((r, index) => {
      meanNll[r] += sums.nll[index];
      accuracy[r] += sums.correct[index];
    });
    const total = this.chunks * this.predictionsPerChunk;
    for (let r = 0; r < B; r++) {
      meanNll[r] /= total;
      accuracy[r] /= total;
    }
    return { meanNll, accuracy };
  }

  /** The model's intervals from its replicates. */
  intervals(rep: Replicates): QualityIntervals {
    return {
      mean_nll: percentileInterval(rep.meanNll, this.level),
      perplexity: percentileInterval(rep.meanNll.map(Math.exp), this.level),
      accuracy: percentileInterval(rep.accuracy, this.level),
    };
  }

  /** Paired interval of mean NLL(a) - mean NLL(b): resample by resample, then percentiles. */
  differenceInterval(a: Replicates, b: Replicates): Interval {
    const d = new Float64Array(this.resamples);
    for (let r = 0; r < this.resamples; r++) d[r] = a.meanNll[r] - b.meanNll[r];
    return percentileInterval(d, this.level);
  }
}

/** Pooled point values of chunk sums (what the resamples are centred on). */
export function pooled(sums: ChunkSums, predictionsPerChunk: number): { mean_nll: number; perplexity: number; accuracy: number } {
  const total = sums.nll.length * predictionsPerChunk;
  const nll = sums.nll.reduce((a, v) => a + v, 0) / total;
  return { mean_nll: nll, perplexity: Math.exp(nll), accuracy: sums.correct.reduce((a, v) => a + v, 0) / total };
}

/** The settings' `unit` text. */
export function resamplingUnit(seqLen: number): string {
  return `evaluation chunk of ${seqLen} tokens (${seqLen - 1} next-token predictions), drawn with replacement`;
}
