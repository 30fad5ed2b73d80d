/**
 * Hostile pickles (issue 13, items 1 and 2): deep nesting, APPENDS/SETITEMS storms, memo/DUP and
 * allow-listed-call amplification, quadratic copying, absurd length fields. The fixtures come from
 * scripts/bad-inputs/pickles.py (torch.save-style zips whose data.pkl is written opcode by opcode).
 * Each must be refused by `inspect` with exit 1 and one stderr line naming the file and the
 * problem, under 1.5 GB and 30 s; the real checkpoints among the fixtures must open well within
 * the unpickler's budgets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCliMeasured } from '../support/boundedRun';
import { openFileSource } from '../../src/checkpoint/fileSource';
import { readStoredEntry, readZipEntries } from '../../src/checkpoint/zip';
import { UNPICKLE_LIMITS, unpickle, type UnpickleUsage } from '../../src/checkpoint/unpickler';

const ROOT = join(__dirname, '..', '..');
const BAD = join(ROOT, 'test', 'fixtures', 'bad-inputs');

const BAD_MB = 1536;
const BAD_S = 30;

const REFUSED: [string, RegExp][] = [
  ['pickle-deep-list.pt', /nests containers deeper than 1000 \(budget maxNesting/],
  ['pickle-deep-dict.pt', /nests containers deeper than 1000 \(budget maxNesting/],
  ['pickle-deep-out-of-order.pt', /nests containers deeper than 1000 \(budget maxNesting/],
  ['pickle-appends-storm.pt', /nests containers deeper than 1000 \(budget maxNesting/],
  ['pickle-setitems-storm.pt', /nests containers deeper than 1000 \(budget maxNesting/],
  ['pickle-dup-amplification.pt', /expands to more than 67108864 values .*\(budget maxExpandedValues/],
  ['pickle-ordereddict-copies.pt', /would build more than 64 MiB of values \(budget allocBytes/],
  ['pickle-quadratic-set.pt', /would build more than 64 MiB of values \(budget allocBytes/],
  ['pickle-codecs-encode.pt', /would build more than 64 MiB of values \(budget allocBytes/],
  ['pickle-huge-string-length.pt', /length field of 4611686018427387904 bytes is larger than the \d+ bytes that remain/],
  ['pickle-huge-long4.pt', /integer literal of 2147483647 bytes is larger than any checkpoint needs/],
];

for (const [name, problem] of REFUSED) {
  test(`inspect ${name}: exit 1, one line naming the file and the problem, bounded`, (t) => {
    const file = join(BAD, name);
    const r = runCliMeasured(['inspect', file]);
    const detail = `exit ${r.code}, ${r.seconds.toFixed(2)} s, ${r.maxRssMB.toFixed(0)} MB, stderr: ${r.stderr.slice(0, 600)}`;
    t.diagnostic(`${name}: ${r.seconds.toFixed(2)} s, peak RSS ${r.maxRssMB.toFixed(0)} MB`);
    assert.equal(r.timedOut, false, `timed out: ${detail}`);
    assert.equal(r.code, 1, detail);
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 1, `exactly one stderr line: ${detail}`);
    assert.ok(lines[0].includes(file), `names the file: ${detail}`);
    assert.match(lines[0], problem, detail);
    assert.equal(r.stdout, '', detail);
    assert.ok(r.seconds < BAD_S, `under ${BAD_S} s: ${detail}`);
    assert.ok(r.maxRssMB < BAD_MB, `under ${BAD_MB} MB: ${detail}`);
  });
}

test('the fixtures are small: every hostile pickle is at most a few hundred KB', () => {
  for (const [name] of REFUSED) assert.ok(readFileSync(join(BAD, name)).length < 400_000, name);
});

// ---------------------------------------------------------------------------------------------
// real checkpoints stay far inside the budgets
// ---------------------------------------------------------------------------------------------

async function zipPickle(path: string): Promise<Uint8Array> {
  const source = await openFileSource(path);
  try {
    const entries = await readZipEntries(source);
    const pkl = entries.find((e) => e.name.endsWith('/data.pkl'));
    assert.ok(pkl, `${path} has a data.pkl`);
    return await readStoredEntry(source, pkl, 64 * 1024 * 1024);
  } finally {
    await source.close();
  }
}

function assertFarWithin(path: string, pickleBytes: number, u: UnpickleUsage): void {
  const what = `${path}: ${JSON.stringify(u)}`;
  // A quarter of every budget at most, and of the relative ones without their floor too.
  assert.ok(u.allocBytes < u.allocBudget / 4, what);
  assert.ok(u.allocBytes < (UNPICKLE_LIMITS.allocBytesPerByte * pickleBytes) / 4, `allocation within a quarter of 48 x the pickle: ${what}`);
  assert.ok(u.elements < u.elementBudget / 4, what);
  assert.ok(u.elements < (UNPICKLE_LIMITS.totalElementsPerByte * pickleBytes) / 4, what);
  assert.ok(u.opcodes < UNPICKLE_LIMITS.maxOpcodes / 4 && u.opcodes < pickleBytes, what);
  assert.ok(u.memoEntries < UNPICKLE_LIMITS.maxMemoEntries / 4, what);
  assert.ok(u.nesting <= 8, what);
  assert.ok(u.expandedValues < UNPICKLE_LIMITS.maxExpandedValues / 4, what);
}

const ZIP_CHECKPOINTS = [
  'tiny-grassmann/checkpoints/best.pt',
  'tiny-grassmann/checkpoints/epoch_1.pt',
  'tiny-grassmann/checkpoints/epoch_2.pt',
  'implementations/grasslm-tiny/checkpoints/best_model.pt',
  'implementations/lifting-postnorm/checkpoints/model.pt',
  'bad-inputs/expanded-head.pt',
];

test('real torch.save zips open far within every unpickler budget', async () => {
  for (const rel of ZIP_CHECKPOINTS) {
    const path = join(ROOT, 'test', 'fixtures', rel);
    const pickle = await zipPickle(path);
    const r = unpickle(path, pickle);
    assert.equal(r.end, pickle.length);
    assertFarWithin(rel, pickle.length, r.usage);
  }
});

test('real legacy (pre-1.6) files open far within every budget: 3 tensors, 12k tensors, a 2 MB string', () => {
  for (const name of ['legacy-format.pt', 'legacy-12k-tensors.pt', 'legacy-2mb-string.pt']) {
    const path = join(BAD, name);
    const data = readFileSync(path);
    let start = 0;
    for (let i = 0; i < 5; i++) {
      const r = unpickle(path, data, start);
      // Relative budgets of a legacy pickle are taken against the rest of the file: judge against the pickle.
      assertFarWithin(`${name} pickle ${i}`, Math.max(r.end - start, 4096), r.usage);
      start = r.end;
    }
  }
});

test('real checkpoints open with exit 0 through the CLI', () => {
  for (const rel of [...ZIP_CHECKPOINTS.slice(0, 1), 'implementations/grasslm-tiny/checkpoints/best_model.pt', 'bad-inputs/legacy-format.pt']) {
    const r = runCliMeasured(['inspect', join(ROOT, 'test', 'fixtures', rel)]);
    assert.equal(r.code, 0, `${rel}: ${r.stderr.slice(0, 400)}`);
  }
});
