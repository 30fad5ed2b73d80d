/**
 * The pruning study (src/pruning/study.ts, `npm run study`) at a tiny size on the fixture: 2 rates,
 * 2 random seeds, B = 100 resamples, on a shortened text. study.csv's rows are study.json's numbers
 * exactly, every interval column brackets its point value, the split is held out and stated, the
 * random summary is the seeds' mean and min–max, the SVG is written, and the step checkpoints are
 * removed (the numbers kept).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { criterionApplies } from '../../src/pruning/criteria';
import { ChunkBootstrap } from '../../src/pruning/bootstrap';
import { formatStudy, runStudy, splitText, STUDY_CSV_COLUMNS, type StudyReport, type StudyRow } from '../../src/pruning/study';
import { PRUNE_CRITERIA, type PruneReport } from '../../src/relevance/types';

const root = join(__dirname, '..', '..');
const tiny = join(root, 'test/fixtures/tiny-grassmann');
const tmp = mkdtempSync(join(tmpdir(), 'gl-study-'));
// The first 4000 characters of eval.txt keep the study quick on the CPU backend.
const text = readFileSync(join(tiny, 'eval.txt'), 'utf8').slice(0, 4000);
const data = join(tmp, 'text.txt');
writeFileSync(data, text);
const out = join(tmp, 'study');

/** A CSV line into cells (the study's cells hold no quotes or commas). */
const cells = (line: string): string[] => line.split(',');

let report: StudyReport;
before(async () => {
  await tf.setBackend('cpu');
  report = await runStudy({ checkpoint: join(tiny, 'checkpoints/best.pt'), data, out, rates: [0.2, 0.5], seeds: 2, bootstrap: 100, referenceSamples: 1 });
});
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('the study on the fixture', () => {
  test('every criterion of PRUNE_CRITERIA that applies to FFN units, and random with each seed', () => {
    assert.deepEqual(report.criteria, PRUNE_CRITERIA.filter((c) => c !== 'random' && criterionApplies(c, 'ffn') === null));
    assert.deepEqual(report.randomSeeds, [1, 2]);
    assert.equal(report.mode, 'mask');
    assert.equal(report.units, 'ffn');
    assert.equal(report.bootstrap.resamples, 100);
    assert.equal(report.bootstrap.seed, 1);
    // baseline + criteria × rates + seeds × rates
    assert.equal(report.rows.length, 1 + report.criteria.length * 2 + 2 * 2);
    assert.deepEqual(report.rows.filter((r) => r.criterion === 'random').map((r) => [r.seed, r.rate]), [[1, 0.2], [1, 0.5], [2, 0.2], [2, 0.5]]);
  });

  test('study.csv holds exactly the numbers of study.json', () => {
    const saved = JSON.parse(readFileSync(join(out, 'study.json'), 'utf8')) as StudyReport;
    assert.deepEqual(saved.rows, report.rows);
    const lines = readFileSync(join(out, 'study.csv'), 'utf8').trimEnd().split('\n');
    assert.deepEqual(cells(lines[0]), [...STUDY_CSV_COLUMNS]);
    assert.equal(lines.length - 1, saved.rows.length);
    lines.slice(1).forEach((line, i) => {
      const row = saved.rows[i];
      const c = cells(line);
      assert.equal(c.length, STUDY_CSV_COLUMNS.length);
      STUDY_CSV_COLUMNS.forEach((col, k) => {
        const want = row[col];
        if (col === 'criterion') assert.equal(c[k], want);
        else if (want === null) assert.equal(c[k], '', `${col} of row ${i}`);
        else assert.equal(Number(c[k]), want, `${col} of row ${i}: ${c[k]} vs ${want}`);
      });
    });
  });

  test('the interval columns bracket the point values', () => {
    for (const row of report.rows) {
      for (const k of ['perplexity', 'mean_nll', 'delta_nll', 'accuracy'] as const) {
        const [low, high] = [row[`${k}_low` as keyof StudyRow] as number, row[`${k}_high` as keyof StudyRow] as number];
        assert.ok(low <= row[k] && row[k] <= high, `${row.criterion} ${row.seed} ${row.rate} ${k}: ${row[k]} not in [${low}, ${high}]`);
        if (row.criterion !== 'baseline' || k !== 'delta_nll') assert.ok(high > low, `${row.criterion} ${row.rate} ${k}: a real spread`);
      }
    }
    assert.deepEqual([report.baseline.delta_nll, report.baseline.delta_nll_low, report.baseline.delta_nll_high], [0, 0, 0]);
  });

  test('the rows are the sweeps\' numbers, with the same resamples in every sweep', () => {
    const main = JSON.parse(readFileSync(join(out, 'sweeps', 'criteria', 'pruning.json'), 'utf8')) as PruneReport;
    const seed2 = JSON.parse(readFileSync(join(out, 'sweeps', 'random-seed-2', 'pruning.json'), 'utf8')) as PruneReport;
    assert.deepEqual(main.baseline.perChunk, seed2.baseline.perChunk);
    assert.deepEqual(main.baseline.interval, seed2.baseline.interval);
    const lrp = main.steps.find((s) => s.criterion === 'lrp' && s.rate === 0.5)!;
    const row = report.rows.find((r) => r.criterion === 'lrp' && r.rate === 0.5)!;
    assert.deepEqual([row.perplexity, row.perplexity_low, row.perplexity_high, row.delta_nll_low], [lrp.perplexity, lrp.interval.perplexity.low, lrp.interval.perplexity.high, lrp.deltaNll.interval.low]);
    // A comparison across sweeps (lrp against random seed 2) resampled by hand.
    const r2 = seed2.steps.find((s) => s.rate === 0.5)!;
    const b = new ChunkBootstrap(main.bootstrap.chunks, main.bootstrap.predictionsPerChunk, 100, 1);
    const c = report.comparisons.find((x) => x.rate === 0.5 && x.a === 'lrp' && x.b === 'random' && x.bSeed === 2)!;
    assert.deepEqual(c.deltaNll.interval, b.differenceInterval(b.replicates(lrp.perChunk), b.replicates(r2.perChunk)));
    assert.equal(c.deltaNll.value, lrp.mean_nll - r2.mean_nll);
  });

  test('random: the mean and min–max across seeds, each seed with its interval', () => {
    for (const s of report.random) {
      const rows = report.rows.filter((r) => r.criterion === 'random' && r.rate === s.rate);
      const ppl = rows.map((r) => r.perplexity);
      assert.equal(s.perplexity.mean, (ppl[0] + ppl[1]) / 2);
      assert.deepEqual([s.perplexity.min, s.perplexity.max], [Math.min(...ppl), Math.max(...ppl)]);
      assert.deepEqual(s.perSeed.map((p) => [p.seed, p.perplexity.value, p.perplexity.interval.low]), rows.map((r) => [r.seed, r.perplexity, r.perplexity_low]));
    }
  });

  test('held out: the reference part is the end of the text, stated and written', () => {
    const parts = splitText(text, 0.25);
    assert.equal(readFileSync(join(out, 'evaluation.txt'), 'utf8'), parts.evaluation);
    assert.equal(readFileSync(join(out, 'reference.txt'), 'utf8'), parts.reference);
    assert.equal(parts.evaluation + parts.reference, text);
    assert.equal(report.split.evaluation.end, parts.cut);
    assert.equal(text[parts.cut - 1], '\n');
    assert.ok(parts.cut >= 3000);
    assert.match(report.split.description, new RegExp(`evaluation = characters 0-${parts.cut} \\(lines 1-\\d+\\), reference = characters ${parts.cut}-4000`));
    assert.deepEqual(report.warnings.filter((w) => /reference/.test(w)), []);
    assert.match(formatStudy(report), /split {6}text\.txt split at the first line end after 75%/);
  });

  test('the SVG is written (two panels, one band per series); the checkpoints are gone, the numbers kept', () => {
    const svg = readFileSync(join(out, 'study.svg'), 'utf8');
    assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.match(svg, /prefers-color-scheme: dark/);
    assert.equal((svg.match(/<polygon class="band/g) ?? []).length, 2 * (report.criteria.length + 1));
    const step = join(out, 'sweeps', 'criteria', 'lrp-0.2');
    assert.deepEqual(readdirSync(step), ['pruning.json']);
    assert.equal(existsSync(join(out, 'sweeps', 'random-seed-1', 'random-0.5', 'model.pt')), false);
  });

  test('an output folder that holds something other than a study is refused and left as it was', async () => {
    const before = readdirSync(tmp).sort();
    await assert.rejects(runStudy({ checkpoint: join(tiny, 'checkpoints/best.pt'), data, out: tmp, seeds: 1, rates: [0.2], bootstrap: 100 }), /holds no study.json/);
    assert.deepEqual(readdirSync(tmp).sort(), before);
    assert.ok(existsSync(join(out, 'study.json')));
  });
});
