/**
 * The pruning report's uncertainty (src/pruning/bootstrap.ts and the sweep's use of it): the
 * percentile bootstrap over evaluation chunks against hand-computed cases, its seeding, the
 * paired differences, and on the fixture: every interval contains its point value, the report's
 * intervals are recomputed exactly from its pruning.json, the warnings, and the CLI's --bootstrap.
 *
 * Conventions: 95% percentile intervals, B resamples of the chunks (with replacement), percentile
 * by linear interpolation at p·(B - 1); resampling unit = one evaluation chunk of seqLen tokens.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import {
  ChunkBootstrap, intervalContains, intervalsOverlap, percentileInterval, pooled, quantileSorted,
} from '../../src/pruning/bootstrap';
import { pruneSweep } from '../../src/pruning/sweep';
import { formatPruneReport } from '../../src/pruning/report';
import { seededRandom } from '../../src/model/synthetic';
import type { PruneReport } from '../../src/relevance/types';

const root = join(__dirname, '..', '..');
const tiny = join(root, 'test/fixtures/tiny-grassmann');
const best = join(tiny, 'checkpoints/best.pt');
const evalText = readFileSync(join(tiny, 'eval.txt'), 'utf8');
const tmp = mkdtempSync(join(tmpdir(), 'gl-bootstrap-'));

before(async () => {
  await tf.setBackend('cpu');
});
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('percentiles', () => {
  test('linear interpolation at p·(n - 1) of the sorted values', () => {
    const v = [10, 20, 30, 40];
    assert.equal(quantileSorted(v, 0), 10);
    assert.equal(quantileSorted(v, 1), 40);
    assert.equal(quantileSorted(v, 0.5), 25); // position 1.5
    assert.equal(quantileSorted(v, 1 / 3), 20); // position 1
    assert.equal(quantileSorted(v, 0.25), 17.5); // position 0.75
    assert.throws(() => quantileSorted([], 0.5), /no values/);
  });
  test('the central 95% of 0, 1, …, 100 is [2.5, 97.5], in any order', () => {
    const values = Array.from({ length: 101 }, (_, i) => (i * 37) % 101); // a permutation of 0..100
    assert.deepEqual(percentileInterval(values), { low: 2.5, high: 97.5 });
  });
  test('overlap of closed intervals', () => {
    assert.equal(intervalsOverlap({ low: 1, high: 2 }, { low: 2, high: 3 }), true);
    assert.equal(intervalsOverlap({ low: 1, high: 2 }, { low: 2.001, high: 3 }), false);
    assert.equal(intervalsOverlap({ low: 0, high: 10 }, { low: 4, high: 5 }), true);
  });
});

describe('ChunkBootstrap', () => {
  test('all chunks equal: a zero-width interval at the point value', () => {
    // 4 chunks of 5 tokens (4 predictions each), NLL sum 2.5 and 3 hits each: mean NLL 0.625, accuracy 0.75.
    const sums = { nll: [2.5, 2.5, 2.5, 2.5], correct: [3, 3, 3, 3] };
    const b = new ChunkBootstrap(4, 4, 1000, 7);
    const i = b.intervals(b.replicates(sums));
    assert.deepEqual(i.mean_nll, { low: 0.625, high: 0.625 });
    assert.deepEqual(i.perplexity, { low: Math.exp(0.625), high: Math.exp(0.625) });
    assert.deepEqual(i.accuracy, { low: 0.75, high: 0.75 });
    assert.deepEqual(pooled(sums, 4), { mean_nll: 0.625, perplexity: Math.exp(0.625), accuracy: 0.75 });
  });

  test('two chunks: the interval is [both low, both high], and each resample is the mean of its draws', () => {
    // Chunk NLL sums 1 and 3 (1 prediction each): a resample's mean is 1, 2 or 3 with probabilities
    // 1/4, 1/2, 1/4, so the 2.5th and 97.5th percentiles of 1000 resamples are 1 and 3.
    const sums = { nll: [1, 3], correct: [0, 1] };
    const b = new ChunkBootstrap(2, 1, 1000, 1);
    const rep = b.replicates(sums);
    const i = b.intervals(rep);
    assert.deepEqual(i.mean_nll, { low: 1, high: 3 });
    assert.deepEqual(i.perplexity, { low: Math.exp(1), high: Math.exp(3) });
    assert.deepEqual(i.accuracy, { low: 0, high: 1 });
    const counts = [1, 2, 3].map((m) => rep.meanNll.filter((v) => v === m).length);
    assert.equal(counts[0] + counts[1] + counts[2], 1000);
    for (let r = 0; r < 1000; r++) {
      const drawn = b.indices(r);
      assert.equal(drawn.length, 2);
      assert.equal(rep.meanNll[r], (sums.nll[drawn[0]] + sums.nll[drawn[1]]) / 2);
      assert.equal(rep.accuracy[r], (sums.correct[drawn[0]] + sums.correct[drawn[1]]) / 2);
    }
    // The three outcomes with their binomial probabilities (±4 standard deviations).
    [[counts[0], 0.25], [counts[1], 0.5], [counts[2], 0.25]].forEach(([c, p]) => assert.ok(Math.abs(c - 1000 * p) <= 4 * Math.sqrt(1000 * p * (1 - p)), `${c} vs ${1000 * p}`));
  });

  test('the interval by hand: sorted resample means at positions 0.025·99 and 0.975·99 (B = 100)', () => {
    const rand = seededRandom(3);
    const n = 12;
    const sums = { nll: Array.from({ length: n }, () => 100 + 50 * rand()), correct: Array.from({ length: n }, () => Math.floor(20 * rand())) };
    const b = new ChunkBootstrap(n, 31, 100, 11);
    const byHand = Array.from({ length: 100 }, (_, r) => b.indices(r).reduce((a, c) => a + sums.nll[c], 0) / (n * 31)).sort((x, y) => x - y);
    const low = byHand[2] + (0.025 * 99 - 2) * (byHand[3] - byHand[2]);
    const high = byHand[96] + (0.975 * 99 - 96) * (byHand[97] - byHand[96]);
    const i = b.intervals(b.replicates(sums));
    assert.ok(Math.abs(i.mean_nll.low - low) <= 1e-12, `${i.mean_nll.low} vs ${low}`);
    assert.ok(Math.abs(i.mean_nll.high - high) <= 1e-12, `${i.mean_nll.high} vs ${high}`);
    // Every drawn index is a chunk; all chunks are drawn about equally often.
    const drawn = new Array(n).fill(0);
    for (let r = 0; r < 100; r++) for (const c of b.indices(r)) drawn[c]++;
    assert.equal(drawn.reduce((a, v) => a + v, 0), 100 * n);
    assert.ok(drawn.every((c) => c > 50 && c < 150), String(drawn));
  });

  test('seeds: the same seed gives identical intervals, another seed other ones', () => {
    const rand = seededRandom(5);
    const sums = { nll: Array.from({ length: 30 }, () => 200 * rand()), correct: Array.from({ length: 30 }, () => Math.floor(60 * rand())) };
    const of = (seed: number) => {
      const b = new ChunkBootstrap(30, 63, 1000, seed);
      return b.intervals(b.replicates(sums));
    };
    assert.deepEqual(of(1), of(1));
    const [a, c] = [of(1), of(2)];
    assert.notEqual(a.mean_nll.low, c.mean_nll.low);
    assert.notEqual(a.perplexity.high, c.perplexity.high);
    assert.notEqual(a.accuracy.low, c.accuracy.low);
  });

  test('paired: a model shifted by a constant per chunk has a zero-width difference, though the marginal intervals overlap', () => {
    const rand = seededRandom(9);
    const L = 63;
    const a = { nll: Array.from({ length: 25 }, () => 150 + 100 * rand()), correct: Array.from({ length: 25 }, () => 10) };
    const b = { nll: a.nll.map((v) => v + 0.63), correct: a.correct }; // +0.01 nats per prediction
    const boot = new ChunkBootstrap(25, L, 1000, 1);
    const [ra, rb] = [boot.replicates(a), boot.replicates(b)];
    const d = boot.differenceInterval(rb, ra);
    assert.ok(Math.abs(d.low - 0.01) <= 1e-12 && Math.abs(d.high - 0.01) <= 1e-12, JSON.stringify(d));
    assert.equal(intervalsOverlap(boot.intervals(ra).perplexity, boot.intervals(rb).perplexity), true);
    assert.deepEqual(boot.differenceInterval(ra, ra), { low: 0, high: 0 });
  });

  test('refuses sums of another length', () => {
    assert.throws(() => new ChunkBootstrap(3, 4, 100, 1).replicates({ nll: [1, 2], correct: [0, 0] }), /3 chunks/);
  });
});

describe('the sweep on the fixture', () => {
  // Evaluation: the first 6000 characters of eval.txt (20 chunks of 64 tokens, 1260 predictions);
  // reference: the rest, so no warning about either.
  const data = join(tmp, 'evaluation.txt');
  const reference = join(tmp, 'reference.txt');
  writeFileSync(data, evalText.slice(0, 6000));
  writeFileSync(reference, evalText.slice(6000));
  const common = { checkpoint: best, criteria: ['magnitude' as const, 'random' as const], rates: [0.3, 0.6], units: 'ffn' as const, referenceSamples: 1, seqLen: 64, bootstrap: 500 };
  let report: PruneReport;
  before(async () => {
    report = await pruneSweep({ ...common, data, reference, out: join(tmp, 'held-out') });
  });

  test('the report records the bootstrap and every model has its chunk sums', () => {
    assert.deepEqual({ ...report.bootstrap, unit: undefined, quantile: undefined, separability: undefined }, {
      method: 'percentile', level: 0.95, resamples: 500, seed: 1, chunks: 20, predictionsPerChunk: 63, paired: true,
      unit: undefined, quantile: undefined, separability: undefined,
    });
    assert.match(report.bootstrap.unit, /evaluation chunk of 64 tokens \(63 next-token predictions\)/);
    for (const m of [report.baseline, ...report.steps]) {
      assert.equal(m.perChunk.nll.length, 20);
      assert.equal(m.predictions, 1260);
      const sum = m.perChunk.nll.reduce((a, v) => a + v, 0);
      assert.ok(Math.abs(sum / 1260 - m.mean_nll) <= 1e-12 * m.mean_nll, `${sum / 1260} vs ${m.mean_nll}`);
      assert.equal(m.perChunk.correct.reduce((a, v) => a + v, 0) / 1260, m.accuracy);
    }
  });

  test('the report states what each criterion computes and the per-layer normalisation', () => {
    assert.deepEqual(report.conventions, [
      'magnitude: L2 norm of the unit\'s weights',
      'random: uniform scores from the seed',
      'scores are normalised per layer (each divided by its layer\'s sum of |score|) and the lowest are removed first',
    ]);
  });

  test('every interval contains its point value', () => {
    for (const m of [report.baseline, ...report.steps]) {
      for (const k of ['mean_nll', 'perplexity', 'accuracy'] as const) {
        assert.ok(intervalContains(m.interval[k], m[k]), `${k} ${m[k]} in ${JSON.stringify(m.interval[k])}`);
        assert.ok(m.interval[k].high > m.interval[k].low, `${k}: a real spread`);
      }
    }
    for (const s of report.steps) {
      assert.equal(s.deltaNll.value, s.mean_nll - report.baseline.mean_nll);
      assert.ok(intervalContains(s.deltaNll.interval, s.deltaNll.value), `${s.criterion} ${s.rate}: ΔNLL ${s.deltaNll.value} in ${JSON.stringify(s.deltaNll.interval)}`);
      // The paired interval is narrower than the step's own mean-NLL interval (the text's variation cancels).
      assert.ok(s.deltaNll.interval.high - s.deltaNll.interval.low < s.interval.mean_nll.high - s.interval.mean_nll.low);
    }
    // Removing 60% of the FFN neurons costs perplexity beyond the resampling noise.
    for (const s of report.steps.filter((x) => x.rate === 0.6)) assert.ok(s.deltaNll.interval.low > 0, `${s.criterion}: ${JSON.stringify(s.deltaNll.interval)}`);
  });

  test('pruning.json: the intervals are recomputed exactly from its chunk sums', () => {
    const saved = JSON.parse(readFileSync(join(tmp, 'held-out', 'pruning.json'), 'utf8')) as PruneReport;
    const b = new ChunkBootstrap(saved.bootstrap.chunks, saved.bootstrap.predictionsPerChunk, saved.bootstrap.resamples, saved.bootstrap.seed);
    const base = b.replicates(saved.baseline.perChunk);
    assert.deepEqual(b.intervals(base), saved.baseline.interval);
    for (const s of saved.steps) {
      const rep = b.replicates(s.perChunk);
      assert.deepEqual(b.intervals(rep), s.interval);
      assert.deepEqual(b.differenceInterval(rep, base), s.deltaNll.interval);
    }
    assert.deepEqual(saved.baseline.interval, report.baseline.interval);
    // The step's own pruning.json has the same numbers.
    const step = JSON.parse(readFileSync(join(report.steps[0].output, 'pruning.json'), 'utf8'));
    assert.deepEqual(step.metrics.interval, report.steps[0].interval);
    assert.deepEqual(step.deltaNll, report.steps[0].deltaNll);
  });

  test('comparisons: every pair at every rate, not separable exactly when the perplexity intervals overlap', () => {
    assert.deepEqual(report.comparisons.map((c) => [c.rate, c.a, c.b]), [[0.3, 'magnitude', 'random'], [0.6, 'magnitude', 'random']]);
    const b = new ChunkBootstrap(20, 63, 500, 1);
    for (const c of report.comparisons) {
      const [sa, sb] = [c.a, c.b].map((k) => report.steps.find((s) => s.criterion === k && s.rate === c.rate)!);
      assert.equal(c.deltaNll.value, sa.mean_nll - sb.mean_nll);
      assert.deepEqual(c.deltaNll.interval, b.differenceInterval(b.replicates(sa.perChunk), b.replicates(sb.perChunk)));
      assert.equal(c.overlap, intervalsOverlap(sa.interval.perplexity, sb.interval.perplexity));
      assert.equal(c.separable, !c.overlap);
      assert.equal(c.pairedExcludesZero, c.deltaNll.interval.low > 0 || c.deltaNll.interval.high < 0);
    }
    assert.deepEqual(report.notSeparable, report.comparisons.filter((c) => c.overlap).map((c) => ({ rate: c.rate, criteria: [c.a, c.b] })));
    const text = formatPruneReport(report);
    assert.match(text, /95% percentile bootstrap, B = 500 resamples of the 20 evaluation chunks of 64 tokens \(63 predictions each\), seed 1/);
    assert.match(text, /separability \(two criteria are not separable at a rate when their 95% perplexity intervals overlap/);
    assert.ok(text.includes(`[${report.baseline.interval.perplexity.low.toFixed(4)}, ${report.baseline.interval.perplexity.high.toFixed(4)}]`));
  });

  test('held out and long enough: no reference or size warning', () => {
    assert.deepEqual(report.warnings.filter((w) => /reference|predictions/.test(w)), []);
  });

  test('another bootstrap seed: the same points, other intervals', async () => {
    const other = await pruneSweep({ ...common, criteria: ['magnitude'], rates: [0.3], data, reference, bootstrapSeed: 2, out: join(tmp, 'seed-2') });
    assert.equal(other.bootstrap.seed, 2);
    assert.equal(other.baseline.perplexity, report.baseline.perplexity);
    assert.deepEqual(other.baseline.perChunk, report.baseline.perChunk);
    assert.notDeepEqual(other.baseline.interval, report.baseline.interval);
    const b = new ChunkBootstrap(20, 63, 500, 2);
    assert.deepEqual(other.baseline.interval, b.intervals(b.replicates(report.baseline.perChunk)));
  });
});

describe('warnings of the sweep', () => {
  const small = join(tmp, 'small.txt');
  writeFileSync(small, evalText.slice(0, 2000)); // 6 chunks of 64 tokens
  const quick = { checkpoint: best, criteria: ['magnitude' as const], rates: [0.3], units: 'ffn' as const, referenceSamples: 1, seqLen: 64, bootstrap: 100 };

  test('a small evaluation set, and no --reference', async () => {
    const r = await pruneSweep({ ...quick, data: small, out: join(tmp, 'w-none') });
    const n = r.baseline.predictions;
    assert.equal(n, r.bootstrap.chunks * 63);
    assert.ok(n < 1000);
    assert.ok(r.warnings.includes(`the evaluation text gives only ${n} predictions (${r.bootstrap.chunks} chunks of 64 tokens), fewer than 1000: the 95% intervals rest on ${r.bootstrap.chunks} resampling units and are wide; use a longer evaluation text`), r.warnings.join('\n'));
    assert.ok(r.warnings.some((w) => w.startsWith('no --reference: the reference samples are the first 1 chunks of the evaluation text itself') && /not held out/.test(w)), r.warnings.join('\n'));
  });

  test('--reference naming the evaluation file (through a link), or a copy of it', async () => {
    const link = join(tmp, 'link.txt');
    symlinkSync(small, link);
    const viaLink = await pruneSweep({ ...quick, data: small, reference: link, out: join(tmp, 'w-link') });
    assert.ok(viaLink.warnings.some((w) => /is the evaluation file itself/.test(w) && /not held out/.test(w)), viaLink.warnings.join('\n'));
    const copy = join(tmp, 'copy.txt');
    copyFileSync(small, copy);
    const viaCopy = await pruneSweep({ ...quick, data: small, reference: copy, out: join(tmp, 'w-copy') });
    assert.ok(viaCopy.warnings.some((w) => /has the same content as the evaluation file/.test(w)), viaCopy.warnings.join('\n'));
    const part = join(tmp, 'part.txt');
    writeFileSync(part, evalText.slice(500, 1500));
    const inside = await pruneSweep({ ...quick, data: small, reference: part, out: join(tmp, 'w-part') });
    assert.ok(inside.warnings.some((w) => /occurs inside the evaluation text/.test(w)), inside.warnings.join('\n'));
  });

  test('--bootstrap out of range is refused', async () => {
    await assert.rejects(pruneSweep({ ...quick, data: small, bootstrap: 5, out: join(tmp, 'w-b') }), /--bootstrap 5 must be an integer in 100\.\.100000/);
  });
});

describe('CLI', () => {
  const cli = join(root, 'dist', 'cli.js');
  test('prune --bootstrap N --json: the report\'s resamples; a bad N is a usage error', () => {
    const data = join(tmp, 'cli.txt');
    writeFileSync(data, evalText.slice(0, 3000));
    const out = join(tmp, 'cli-out');
    const r = spawnSync(process.execPath, [cli, 'prune', best, '--data', data, '--criterion', 'magnitude', '--rates', '0.3', '--reference-samples', '1', '--seq-len', '64', '--bootstrap', '200', '--seed', '4', '--out', out, '--json'], { encoding: 'utf8', timeout: 300_000 });
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as PruneReport;
    assert.equal(report.bootstrap.resamples, 200);
    assert.equal(report.bootstrap.seed, 4);
    const b = new ChunkBootstrap(report.bootstrap.chunks, 63, 200, 4);
    assert.deepEqual(report.baseline.interval, b.intervals(b.replicates(report.baseline.perChunk)));
    const bad = spawnSync(process.execPath, [cli, 'prune', best, '--data', data, '--bootstrap', '10'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--bootstrap 10 must be an integer in 100\.\.100000/);
  });
});
