/**
 * One document per open checkpoint (src/extension/checkpointDocument.ts): every view of a path
 * shares it, it owns the only watchers of the files, a burst of writes makes one `forget` and one
 * change for each view, and the last view to let go disposes the watchers and forgets the model.
 * The watchers are fakes that record what was watched; timers are real (quiet period 40 ms).
 */
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CheckpointDocuments, watchedFiles, type DocumentEnvironment } from '../../src/extension/checkpointDocument';

const QUIET = 40;

function fakeEnvironment(): DocumentEnvironment & { watches: { folder: string; glob: string; fire(): void; disposed: boolean }[]; forgotten: string[] } {
  const watches: { folder: string; glob: string; fire(): void; disposed: boolean }[] = [];
  const forgotten: string[] = [];
  return {
    watches,
    forgotten,
    quietMs: QUIET,
    watch(folder, glob, listener) {
      const w = { folder, glob, fire: () => { if (!w.disposed) listener(); }, disposed: false };
      watches.push(w);
      return { dispose: () => { w.disposed = true; } };
    },
    async forget(path) {
      forgotten.push(path);
    },
  };
}

test('the views of one checkpoint share one document and one pair of watchers', () => {
  const env = fakeEnvironment();
  const docs = new CheckpointDocuments(env);
  const path = join('/runs', 'a', 'best.pt');
  const first = docs.acquire(path, false);
  const second = docs.acquire(join('/runs', 'a', '.', 'best.pt'), false);
  assert.equal(first, second);
  assert.equal(docs.holders(path), 2);
  assert.deepEqual(env.watches.map((w) => [w.folder, w.glob]), [[join('/runs', 'a'), 'best.pt'], [join('/runs', 'a'), 'grassmann-lens.arch.json']]);
  const other = docs.acquire(join('/runs', 'a', 'epoch_1.pt'), false);
  assert.notEqual(other, first);
  assert.equal(env.watches.length, 4);
  assert.deepEqual(docs.paths().sort(), [join('/runs', 'a', 'best.pt'), join('/runs', 'a', 'epoch_1.pt')]);
});

test('a burst of writes: one forget, then each view hears of it once', async () => {
  const env = fakeEnvironment();
  const docs = new CheckpointDocuments(env);
  const path = join('/runs', 'b', 'best.pt');
  const doc = docs.acquire(path, false);
  docs.acquire(path, false);
  const heard: string[] = [];
  doc.onDidChange(() => heard.push(`editor saw forget ${env.forgotten.length}`));
  const panel = doc.onDidChange(() => heard.push('panel'));
  for (let i = 0; i < 5; i++) {
    env.watches[0].fire();
    await sleep(QUIET / 4);
  }
  assert.deepEqual(heard, [], 'nothing before the file is quiet');
  await sleep(QUIET * 3);
  assert.deepEqual(env.forgotten, [path]);
  assert.deepEqual(heard, ['editor saw forget 1', 'panel']);
  assert.equal(doc.changes, 1);
  // The architecture description changing counts too; a view that left hears nothing.
  panel.dispose();
  env.watches[1].fire();
  await sleep(QUIET * 3);
  assert.deepEqual(env.forgotten, [path, path]);
  assert.deepEqual(heard, ['editor saw forget 1', 'panel', 'editor saw forget 2']);
});

test('the last view to close disposes the watchers and forgets the model; reopening starts afresh', async () => {
  const env = fakeEnvironment();
  const docs = new CheckpointDocuments(env);
  const path = join('/runs', 'c');
  const doc = docs.acquire(path, true);
  docs.acquire(path, true);
  assert.deepEqual(env.watches.map((w) => [w.folder, w.glob]), watchedFiles(path, true).map((w) => [w.folder, w.glob]));
  assert.match(env.watches[0].glob, /config\.json/);
  assert.match(env.watches[0].glob, /\*\.safetensors/);
  docs.release(doc);
  assert.equal(env.watches.some((w) => w.disposed), false, 'one view still shows it');
  // A change pending when the last view closes is dropped with it.
  env.watches[0].fire();
  docs.release(doc);
  assert.equal(docs.holders(path), 0);
  assert.equal(env.watches.every((w) => w.disposed), true);
  await sleep(QUIET * 3);
  assert.deepEqual(env.forgotten, [path], 'forgotten once, on close, not again for the dropped change');
  docs.release(doc);
  assert.equal(docs.holders(path), 0, 'a release too many changes nothing');
  const again = docs.acquire(path, true);
  assert.notEqual(again, doc);
  assert.equal(env.watches.length, 4);
});
