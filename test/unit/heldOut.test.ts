/**
 * The reference text of a pruning sweep held out from its evaluation text (src/pruning/heldOut.ts):
 * the split of one file is disjoint and covers it, the sweep scores on the first part and evaluates
 * on the rest (equal to `eval` on a file holding only the rest), the report says so; and the
 * default output folder goes beside a run's checkpoints folder (src/pruning/choices.ts).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { describeSplit, describeTexts, splitReference } from '../../src/pruning/heldOut';
import { defaultOutputFolder } from '../../src/pruning/choices';
import { checkPruneParams, pruneSweep } from '../../src/pruning/sweep';
import { formatPruneReport } from '../../src/pruning/report';
import { evaluateFile } from '../../src/core/evaluate';

const root = join(__dirname, '..', '..');
const tiny = join(root, 'test/fixtures/tiny-grassmann');
const best = join(tiny, 'checkpoints/best.pt');
const evalText = readFileSync(join(tiny, 'eval.txt'), 'utf8');
const tmp = mkdtempSync(join(tmpdir(), 'gl-heldout-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('splitReference', () => {
  test('the two parts of eval.txt are disjoint, cover it, and the cut is at a line end', () => {
    for (const fraction of [0.1, 0.25, 0.5, 0.9]) {
      const { reference, evaluation, split } = splitReference(evalText, fraction);
      assert.equal(reference + evaluation, evalText, `${fraction}: the parts cover the file`);
      assert.equal(reference.length, split.cut);
      assert.equal(split.referenceChars + split.evaluationChars, evalText.length);
      assert.ok(reference.endsWith('\n'), `${fraction}: cut after a line end`);
      assert.ok(split.cut >= Math.floor(evalText.length * fraction), `${fraction}: the reference part is at least the share asked for`);
      // the first line end at or after the target: no line end between the target and the cut but the last
      assert.equal(evalText.slice(Math.floor(evalText.length * fraction), split.cut - 1).includes('\n'), false);
      assert.equal(split.referenceLines, reference.split('\n').length - 1);
    }
  });

  test('numbers of the fixture: 25% of eval.txt', () => {
    const { split } = splitReference(evalText, 0.25);
    assert.equal(evalText.length, 7652);
    const newline = evalText.indexOf('\n', 1913);
    assert.equal(split.cut, newline + 1);
    assert.match(describeSplit('eval.txt', split), new RegExp(`^the first 25% of eval.txt \\(characters 0–${split.cut}, ${split.referenceLines} lines\\) scores the units; the rest \\(${7652 - split.cut} characters from ${split.cut}\\) evaluates$`));
  });

  test('no line end after the target: the cut is at the target character; a cut at a line start stays there', () => {
    assert.deepEqual(splitReference('abcdefghij', 0.3).split.cut, 3);
    assert.deepEqual([splitReference('abc\ndef\n', 0.5).reference, splitReference('abc\ndef\n', 0.5).evaluation], ['abc\n', 'def\n']);
  });

  test('bad fractions are refused with the flag named', () => {
    for (const f of [0, 1, -0.1, 1.5, Number.NaN]) assert.throws(() => splitReference(evalText, f), /--reference-split .* between 0 and 1/);
    assert.throws(() => checkPruneParams({ checkpoint: best, data: 'x', referenceSplit: 0.25, reference: 'y' }), /--reference and --reference-split are alternatives/);
    assert.throws(() => checkPruneParams({ checkpoint: best, data: 'x', referenceSplit: 2 }), /--reference-split 2 must be/);
  });
});

describe('a sweep with --reference-split', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  test('scores on the start, evaluates on the rest (= eval of the rest), and the report says which is which', async () => {
    const data = join(tmp, 'text.txt');
    writeFileSync(data, evalText.slice(0, 4000));
    const { evaluation, split } = splitReference(evalText.slice(0, 4000), 0.5);
    const rest = join(tmp, 'rest.txt');
    writeFileSync(rest, evaluation);
    const report = await pruneSweep({ checkpoint: best, data, referenceSplit: 0.5, criteria: ['magnitude'], rates: [0.25], referenceSamples: 2, seqLen: 64, bootstrap: 100, out: join(tmp, 'out') });
    assert.equal(report.referenceSource, 'split');
    assert.deepEqual(report.split, split);
    assert.equal(report.reference, data);
    assert.equal(report.data, data);
    assert.equal(report.warnings.some((w) => /not held out/.test(w)), false, report.warnings.join('\n'));
    const expected = await evaluateFile(best, { data: rest, seqLen: 64 });
    const predictions = expected.chunks * (expected.seq_len - 1);
    assert.equal(report.baseline.predictions, predictions);
    assert.equal(report.baseline.perChunk.nll.length, expected.chunks);
    assert.ok(Math.abs(report.baseline.mean_nll - expected.mean_nll) < 1e-9, `${report.baseline.mean_nll} vs eval ${expected.mean_nll}`);
    const text = formatPruneReport(report);
    assert.ok(text.includes(`scored on    2 samples of 64 tokens from the first 50% of ${data} (characters 0–${split.cut}, ${split.referenceLines} lines): held out from the evaluation`), text);
    assert.ok(text.includes(`evaluated on the rest of ${data} (${split.evaluationChars} characters from ${split.cut}) (${predictions} predictions)`), text);
    const step = JSON.parse(readFileSync(join(tmp, 'out', 'magnitude-0.25', 'pruning.json'), 'utf8')) as { split: unknown; referenceSource: string };
    assert.deepEqual([step.referenceSource, step.split], ['split', split]);
  });

  test('describeTexts: the evaluation text itself, or another file', () => {
    const cli = describeTexts({ data: '/d/eval.txt', reference: '/d/eval.txt', referenceSamples: 8, seqLen: 64 });
    assert.deepEqual(cli, { reference: '8 samples of 64 tokens from the evaluation text itself (/d/eval.txt): not held out', evaluation: '/d/eval.txt' });
    assert.deepEqual(describeTexts({ data: '/d/eval.txt', reference: '/d/ref.txt', referenceSource: 'file', referenceSamples: 8, seqLen: 64 }), { reference: '8 samples of 64 tokens from /d/ref.txt', evaluation: '/d/eval.txt' });
  });
});

describe('defaultOutputFolder', () => {
  test('beside a run\'s checkpoints folder (two or more checkpoints), inside a model folder (one)', () => {
    assert.equal(defaultOutputFolder('/w/tiny-grassmann/checkpoints/best.pt', 3), '/w/tiny-grassmann/best-pruned');
    assert.equal(defaultOutputFolder('/w/tiny-grassmann/checkpoints/best.pt', 2), '/w/tiny-grassmann/best-pruned');
    assert.equal(defaultOutputFolder('/w/tiny-grassmann/model.safetensors', 1), '/w/tiny-grassmann/model-pruned');
  });
});
