/**
 * Two checkpoints on the same text (src/core/compareText.ts, CLI `compare --text/--file`): a
 * checkpoint against itself differs by exactly 0 (and its W_red subspaces by 0 angles); epoch_1.pt
 * against best.pt gives, per token, exactly the numbers `features` and `relevance` give for each
 * checkpoint run alone, and the weight part equals `compare` without text. In-process on the cpu
 * backend, and from the bundle (dist/cli.js) like the other CLI tests. Checkpoints that do not share
 * a tokenizer are refused with an error naming both; equal vocabularies in two files are accepted.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { compareOnText, inputRelevance, type CompareTextReport } from '../../src/core/compareText';
import { compareCheckpoints } from '../../src/core/drift';
import { featuresOfText, type FeaturesReport } from '../../src/core/features';
import { OperationCancelled, type Cancellation } from '../../src/core/cancellation';
import { relevanceOfText, type RelevanceReport } from '../../src/core/relevance';

const root = join(__dirname, '..', '..');
const cli = join(root, 'dist', 'cli.js');
const tiny = join(root, 'test', 'fixtures', 'tiny-grassmann');
const epoch1 = join(tiny, 'checkpoints', 'epoch_1.pt');
const best = join(tiny, 'checkpoints', 'best.pt');
const TEXT = 'the licensor grants you a worldwide, royalty-free license to use the work';
const tmp = mkdtempSync(join(tmpdir(), 'gl-compare-text-'));

before(async () => {
  await tf.setBackend('cpu');
});

after(() => rmSync(tmp, { recursive: true, force: true }));

/** Every per-token value of `report` equals what features and relevance give for A and for B alone. */
function assertEqualsSeparateRuns(report: CompareTextReport, fa: FeaturesReport, fb: FeaturesReport, ra: RelevanceReport, rb: RelevanceReport): void {
  const c = report.text;
  assert.deepEqual(c.tokens.map((t) => [t.text, t.id, t.start, t.end]), fa.tokens.map((t) => [t.text, t.id, t.start, t.end]));
  assert.deepEqual(fb.tokens.map((t) => t.id), fa.tokens.map((t) => t.id));
  assert.deepEqual(c.layers, fa.layers.map((l) => l.layer));
  assert.deepEqual(c.planes, fa.layers.flatMap((l) => l.offsets.map((o) => ({ layer: l.layer, offset: o.offset }))));
  const [relA, relB] = [inputRelevance(ra), inputRelevance(rb)];
  let areas = 0;
  for (const tok of c.tokens) {
    const t = tok.position;
    c.planes.forEach((p, k) => {
      const oa = fa.layers[p.layer].offsets.find((o) => o.offset === p.offset)!;
      const ob = fb.layers[p.layer].offsets.find((o) => o.offset === p.offset)!;
      const [ia, ib] = [oa.positions.indexOf(t), ob.positions.indexOf(t)];
      const cell = tok.area[k];
      assert.deepEqual([cell.layer, cell.offset], [p.layer, p.offset]);
      if (ia < 0) {
        assert.deepEqual([cell.a, cell.b, cell.diff, ib], [null, null, null, -1], `no plane at t ${t}, offset ${p.offset}`);
        return;
      }
      areas++;
      assert.equal(cell.a, oa.area[ia]);
      assert.equal(cell.b, ob.area[ib]);
      assert.equal(cell.diff, ob.area[ib] - oa.area[ia]);
    });
    for (const g of tok.gate) {
      assert.equal(g.a, fa.layers[g.layer].alphaMean[t]);
      assert.equal(g.b, fb.layers[g.layer].alphaMean[t]);
      assert.equal(g.diff, fb.layers[g.layer].alphaMean[t] - fa.layers[g.layer].alphaMean[t]);
    }
    assert.equal(tok.relevance!.a, ra.tokens[t] + ra.positionEmbedding[t]);
    assert.equal(tok.relevance!.a, relA[t]);
    assert.equal(tok.relevance!.b, relB[t]);
    assert.equal(tok.relevance!.diff, relB[t] - relA[t]);
  }
  assert.ok(areas > 0);
}

describe('compareOnText (in process, cpu backend)', () => {
  test('a checkpoint against itself: every difference and every principal angle is exactly 0', async () => {
    const r = await compareOnText(best, best, { text: TEXT });
    assert.ok(r.text.tokens.length > 10);
    for (const tok of r.text.tokens) {
      for (const d of [...tok.area, ...tok.gate, tok.relevance!]) {
        if (d.a === null) continue;
        assert.equal(d.diff, 0);
        assert.equal(d.a, d.b);
      }
    }
    for (const s of r.text.summary.layers) {
      assert.equal(s.area.meanAbsDiff, 0);
      assert.equal(s.area.maxAbsDiff, 0);
      assert.equal(s.gate.maxAbsDiff, 0);
      assert.ok(s.area.count > 0);
    }
    assert.equal(r.text.summary.relevance!.maxAbsDiff, 0);
    assert.equal(r.layers.length, 4);
    for (const { reduce } of r.layers) {
      assert.ok(reduce.angles.length === 16 && reduce.angles.every((a) => a === 0), `angles ${reduce.angles}`);
      assert.equal(reduce.maxAngle, 0);
      assert.equal(reduce.geodesic, 0);
    }
    r.crossLayer.forEach((row, i) => assert.equal(row[i], 0));
  });

  test('epoch_1.pt vs best.pt: per token exactly the features and relevance of each alone; angles exactly those of compare', async () => {
    const report = await compareOnText(epoch1, best, { text: TEXT });
    const [fa, fb] = [await featuresOfText(epoch1, { text: TEXT }), await featuresOfText(best, { text: TEXT })];
    const [ra, rb] = [await relevanceOfText(epoch1, { text: TEXT }), await relevanceOfText(best, { text: TEXT })];
    assert.deepEqual(report.text.relevanceOptions, ra.options);
    assert.deepEqual(ra.options, { rule: 'epsilon', epsilon: 1e-6, gamma: 0.25, gate: 'signal-take-all', start: 'logit', composite: 'uniform', epsilonPlacement: 'every-denominator' });
    assertEqualsSeparateRuns(report, fa, fb, ra, rb);
    const { text, ...weights } = report;
    assert.deepEqual(weights, await compareCheckpoints({ a: epoch1, b: best }));
    assert.ok(report.layers.every((l) => l.reduce.maxAngle > 0.1), 'the two checkpoints differ');
    // the summaries are means of |B - A| over the tokens
    const layer1 = text.summary.layers[1];
    const diffs = text.tokens.flatMap((t) => t.area.filter((x) => x.layer === 1 && x.diff !== null).map((x) => Math.abs(x.diff!)));
    assert.equal(layer1.area.count, diffs.length);
    assert.ok(Math.abs(layer1.area.meanAbsDiff - diffs.reduce((a, b) => a + b, 0) / diffs.length) <= 1e-12 * layer1.area.meanAbsDiff);
    assert.equal(layer1.area.maxAbsDiff, Math.max(...diffs));
    assert.ok(text.summary.relevance!.meanAbsDiff > 0 && layer1.gate.meanAbsDiff > 0);
  });

  test('reports progress through five stages and stops when cancelled', async () => {
    const seen: string[] = [];
    const control: Cancellation = { cancelled: false, progress: (p) => seen.push(`${p.done}/${p.total} ${p.message}`) };
    await compareOnText(epoch1, best, { text: 'a short text' }, control);
    assert.deepEqual(seen, ['0/5 comparing the weights', '1/5 A: features', '2/5 A: relevance', '3/5 B: features', '4/5 B: relevance']);
    let calls = 0;
    const stopping: Cancellation = {
      get cancelled() {
        return calls >= 2;
      },
      progress: () => void calls++,
    };
    await assert.rejects(compareOnText(epoch1, best, { text: TEXT }, stopping), OperationCancelled);
  });

  test('checkpoints with different vocabularies are refused, naming both tokenizers; equal vocabularies in two files are not', async () => {
    const other = join(tmp, 'other');
    mkdirSync(other);
    copyFileSync(best, join(other, 'best.pt'));
    copyFileSync(join(tiny, 'config.json'), join(other, 'config.json'));
    copyFileSync(join(tiny, 'vocab.txt'), join(other, 'vocab.txt'));
    // the same vocabulary in another file: compared like the fixture's own
    const same = await compareOnText(best, join(other, 'best.pt'), { text: TEXT });
    assert.notEqual(same.text.tokenizers[0], same.text.tokenizers[1]);
    assert.ok(same.text.tokens.every((t) => t.gate.every((g) => g.diff === 0)));
    // two ids swapped: the same size, not the same vocabulary
    const lines = readFileSync(join(tiny, 'vocab.txt'), 'utf8').split('\n');
    [lines[1000], lines[1001]] = [lines[1001], lines[1000]];
    writeFileSync(join(other, 'vocab.txt'), lines.join('\n'));
    await assert.rejects(compareOnText(best, join(other, 'best.pt'), { text: TEXT }), (e: Error) => {
      assert.equal(e.name, 'InputError');
      assert.ok(e.message.includes(join(other, 'vocab.txt')) && e.message.includes(join(tiny, 'tokenizer.json')), e.message);
      assert.match(e.message, /id 1000 .*do not share a tokenizer/);
      return true;
    });
  });
});

function gl(...args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 120_000, maxBuffer: 1 << 28 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function json<T>(...args: string[]): T {
  const r = gl(...args, '--json');
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as T;
}

describe('CLI compare --text / --file', () => {
  test('compare --text: exactly the numbers of features and relevance of each checkpoint; the weight part is compare without text', () => {
    const report = json<CompareTextReport>('compare', epoch1, best, '--text', TEXT);
    const fa = json<FeaturesReport>('features', epoch1, '--text', TEXT);
    const fb = json<FeaturesReport>('features', best, '--text', TEXT);
    const ra = json<RelevanceReport>('relevance', epoch1, '--text', TEXT);
    const rb = json<RelevanceReport>('relevance', best, '--text', TEXT);
    assertEqualsSeparateRuns(report, fa, fb, ra, rb);
    const { text, ...weights } = report;
    assert.deepEqual(weights, json('compare', epoch1, best));
    assert.equal(text.source, 'text');
    assert.equal(text.backend, fa.backend);
  });

  test('compare --file reads the text from the file and keeps the first 128 tokens; the text report shows the per-token part', () => {
    const file = join(tiny, 'eval.txt');
    const report = json<CompareTextReport>('compare', epoch1, best, '--file', file);
    assert.equal(report.text.source, file);
    assert.equal(report.text.tokens.length, 128);
    assert.equal(report.text.truncated!.kept, 128);
    assert.ok(report.text.truncated!.total > 128);
    assert.ok(report.text.warnings.some((w) => /only the first 128 were run/.test(w)));
    const plain = gl('compare', epoch1, best, '--text', 'the work');
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(plain.stdout, /W_red row spaces, A vs B, per layer/);
    assert.match(plain.stdout, /The same text through both \(\d+ tokens, from text/);
    assert.match(plain.stdout, /layer 3: area [\d.]+ \(d=1 /);
    assert.match(plain.stdout, /"work"/);
    // without --text, the old report
    assert.doesNotMatch(gl('compare', epoch1, best).stdout, /same text/);
  });

  test('usage: --text and --file together exit 2; a missing file exits 1 naming it', () => {
    const both = gl('compare', epoch1, best, '--text', 'x', '--file', join(tiny, 'eval.txt'));
    assert.equal(both.code, 2);
    assert.match(both.stderr, /one of --text or --file/);
    const missing = gl('compare', epoch1, best, '--file', join(tmp, 'nope.txt'));
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /nope\.txt: cannot read the input text/);
  });
});
