/**
 * What the pickers and the run watcher offer (src/checkpoint/catalogue.ts, src/core/catalogue.ts):
 * the fixture's checkpoints ordered by their saved epoch although their mtimes say otherwise,
 * the reference dumps kept out of the models, tokenizer files and pruning outputs out of the texts.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { checkpointGroups, latestCheckpoint, textGroups, trainingOrder } from '../../src/checkpoint/catalogue';
import { catalogueFiles } from '../../src/core/catalogue';
import { MAX_CATALOGUE_PATHS } from '../../src/checkpoint/catalogue';

const tiny = join(__dirname, '..', 'fixtures', 'tiny-grassmann');
const tmp = mkdtempSync(join(tmpdir(), 'gl-catalogue-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A copy of the fixture's checkpoints whose mtimes are by copy order: best.pt (epoch 3) oldest. */
function clonedRun(): string {
  const run = join(tmp, 'run', 'checkpoints');
  mkdirSync(run, { recursive: true });
  const now = Date.now() / 1000;
  ['best.pt', 'epoch_1.pt', 'epoch_2.pt'].forEach((name, i) => {
    copyFileSync(join(tiny, 'checkpoints', name), join(run, name));
    utimesSync(join(run, name), now - 300 + i * 60, now - 300 + i * 60);
  });
  mkdirSync(join(tmp, 'run', 'reference'));
  for (const n of ['case0.safetensors', 'case3.safetensors']) copyFileSync(join(tiny, 'reference', n), join(tmp, 'run', 'reference', n));
  return run;
}

test('the fixture: saved epochs 1, 2, 3 (best.pt); mtime order is wrong, the latest is best.pt; reference dumps are not models', async () => {
  const run = clonedRun();
  const paths = ['epoch_2.pt', 'best.pt', 'epoch_1.pt'].map((n) => join(run, n));
  const refs = ['case0.safetensors', 'case3.safetensors'].map((n) => join(tmp, 'run', 'reference', n));
  const entries = await catalogueFiles([...paths, ...refs, join(run, 'absent.pt')]);
  const byName = new Map(entries.map((e) => [basename(e.path), e]));
  assert.deepEqual(['epoch_1.pt', 'epoch_2.pt', 'best.pt'].map((n) => [byName.get(n)!.model, byName.get(n)!.architecture, byName.get(n)!.epoch, byName.get(n)!.step]),
    [[true, 'GrassmannGPT', 1, null], [true, 'GrassmannGPT', 2, null], [true, 'GrassmannGPT', 3, null]]);
  for (const n of ['case0.safetensors', 'case3.safetensors']) {
    assert.equal(byName.get(n)!.model, false, n);
    assert.equal(byName.get(n)!.problem, undefined, `${n} opens; it is only not a model`);
  }
  assert.match(byName.get('absent.pt')!.problem!, /cannot read \(ENOENT\)/);
  // mtime says best.pt is the oldest
  const byMtime = [...entries.filter((e) => e.model)].sort((a, b) => a.mtimeMs - b.mtimeMs).map((e) => basename(e.path));
  assert.deepEqual(byMtime, ['best.pt', 'epoch_1.pt', 'epoch_2.pt']);
  assert.deepEqual(trainingOrder(entries.filter((e) => e.model)).map((e) => basename(e.path)), ['epoch_1.pt', 'epoch_2.pt', 'best.pt']);
  assert.equal(basename(latestCheckpoint(entries)!.path), 'best.pt');

  const { groups, others } = checkpointGroups(entries);
  assert.deepEqual(groups.map((g) => [g.folder, g.entries.map((e) => basename(e.path))]), [[run, ['best.pt', 'epoch_2.pt', 'epoch_1.pt']]]);
  assert.deepEqual(others.map((e) => basename(e.path)).sort(), ['absent.pt', 'case0.safetensors', 'case3.safetensors']);
  // cached by (path, size, mtime): the same object again; a touched file is read again
  const again = await catalogueFiles([paths[0]]);
  assert.equal(again[0], byName.get('epoch_2.pt'));
  utimesSync(paths[0], new Date(), new Date());
  assert.notEqual((await catalogueFiles([paths[0]]))[0], byName.get('epoch_2.pt'));
});

test('ordering keys: epoch only when every entry has one, then step, then mtime, then natural names', () => {
  const e = (path: string, epoch: number | null, step: number | null, mtimeMs: number) => ({ path, epoch, step, mtimeMs });
  assert.deepEqual(trainingOrder([e('/r/a.pt', 2, 10, 1), e('/r/b.pt', 1, 99, 2), e('/r/c.pt', 2, 5, 3)]).map((x) => x.path), ['/r/b.pt', '/r/c.pt', '/r/a.pt']);
  // one without an epoch: epochs are not used, steps are
  assert.deepEqual(trainingOrder([e('/r/a.pt', 5, 30, 1), e('/r/b.pt', null, 20, 2), e('/r/c.pt', 1, 10, 3)]).map((x) => x.path), ['/r/c.pt', '/r/b.pt', '/r/a.pt']);
  // no metadata: mtime as before, then natural names (epoch_2 before epoch_10)
  assert.deepEqual(trainingOrder([e('/r/epoch_10.pt', null, null, 5), e('/r/epoch_2.pt', null, null, 5), e('/r/x.pt', null, null, 1)]).map((x) => x.path), ['/r/x.pt', '/r/epoch_2.pt', '/r/epoch_10.pt']);
});

test('text files: tokenizer files and pruning outputs left out, nearest folder first, newest first', () => {
  const f = (path: string, mtimeMs: number) => ({ path, mtimeMs });
  const files = [
    f('/w/notes/a.txt', 50), f('/w/tiny/vocab.txt', 99), f('/w/tiny/merges.txt', 99), f('/w/tiny/eval.txt', 10), f('/w/tiny/ref.txt', 20),
    f('/w/tiny/best-pruned/lrp-0.1/vocab.txt', 100), f('/w/tiny/best-pruned/notes.txt', 100), f('/w/tiny/checkpoints/log.txt', 5),
  ];
  const groups = textGroups(files, ['/w/tiny/best-pruned', '/w/tiny/best-pruned/lrp-0.1'], '/w/tiny/checkpoints/best.pt');
  assert.deepEqual(groups.map((g) => [g.folder, g.entries.map((e) => basename(e.path))]), [
    ['/w/tiny/checkpoints', ['log.txt']], ['/w/tiny', ['ref.txt', 'eval.txt']], ['/w/notes', ['a.txt']],
  ]);
});

test('at most 500 paths per call', async () => {
  assert.equal(MAX_CATALOGUE_PATHS, 500);
  await assert.rejects(catalogueFiles(Array.from({ length: 501 }, (_, i) => `/x/${i}.pt`)), /at most 500 paths per call, got 501/);
});
