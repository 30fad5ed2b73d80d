/**
 * RunWatcher (src/core/runWatch.ts): a checkpoint is reported once, only when completely written,
 * again when written anew; half-written files are never reported as checkpoints.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, copyFileSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunWatcher, type CheckpointEvent } from '../../src/core/runWatch';

const CHECKPOINTS = join(__dirname, '..', 'fixtures', 'tiny-grassmann', 'checkpoints');
const SAFETENSORS = join(__dirname, '..', 'fixtures', 'tiny-grassmann', 'model.safetensors');
const tmp = mkdtempSync(join(tmpdir(), 'gl-watch-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resolves when `events` has `n` entries (or fails after `ms`). */
async function until(events: unknown[], n: number, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (events.length < n) {
    if (Date.now() > end) throw new Error(`waited ${ms} ms for ${n} events, have ${events.length}`);
    await sleep(10);
  }
}

function watcher(folder: string, extra: { giveUpMs?: number; scanMs?: number } = {}): { w: RunWatcher; events: CheckpointEvent[]; problems: string[] } {
  const events: CheckpointEvent[] = [];
  const problems: string[] = [];
  const w = new RunWatcher(folder, {
    intervalMs: 40,
    stableChecks: 2,
    scanMs: extra.scanMs ?? 0,
    giveUpMs: extra.giveUpMs ?? 60_000,
    onCheckpoint: (e) => events.push(e),
    onProblem: (_path, message) => problems.push(message),
  });
  return { w, events, problems };
}

describe('RunWatcher', () => {
  test('files present at start are listed, not reported; a checkpoint written in two parts is reported once, when whole', async () => {
    const folder = mkdtempSync(join(tmp, 'run-'));
    copyFileSync(join(CHECKPOINTS, 'epoch_1.pt'), join(folder, 'epoch_1.pt'));
    utimesSync(join(folder, 'epoch_1.pt'), new Date(1000), new Date(1000));
    writeFileSync(join(folder, 'notes.txt'), 'not a checkpoint');
    const { w, events, problems } = watcher(folder);
    try {
      assert.deepEqual(await w.start(), [join(folder, 'epoch_1.pt')]);
      const bytes = readFileSync(join(CHECKPOINTS, 'epoch_2.pt'));
      const target = join(folder, 'epoch_2.pt');
      writeFileSync(target, bytes.subarray(0, bytes.length >> 1));
      w.notice(target);
      w.notice(join(folder, 'notes.txt'));
      // Stable but truncated for several looks: tried, refused, not reported.
      await sleep(400);
      assert.equal(events.length, 0, 'a half-written zip is not a checkpoint');
      appendFileSync(target, bytes.subarray(bytes.length >> 1));
      w.notice(target);
      await until(events, 1);
      await sleep(200);
      assert.equal(events.length, 1, 'reported once');
      assert.deepEqual({ path: events[0].path, size: events[0].size, rewritten: events[0].rewritten }, { path: target, size: bytes.length, rewritten: false });
      assert.deepEqual(problems, [], 'no problem before giveUpMs');
    } finally {
      w.dispose();
    }
  });

  test('a file written again under the same name is reported as rewritten; an event for an unchanged file is not', async () => {
    const folder = mkdtempSync(join(tmp, 'run-'));
    const best = join(folder, 'best.pt');
    copyFileSync(join(CHECKPOINTS, 'epoch_1.pt'), best);
    utimesSync(best, new Date(1000), new Date(1000));
    const { w, events } = watcher(folder);
    try {
      await w.start();
      w.notice(best);
      await sleep(300);
      assert.equal(events.length, 0, 'unchanged since start');
      copyFileSync(join(CHECKPOINTS, 'best.pt'), best);
      w.notice(best);
      await until(events, 1);
      assert.equal(events[0].rewritten, true);
      assert.equal(events[0].size, readFileSync(join(CHECKPOINTS, 'best.pt')).length);
    } finally {
      w.dispose();
    }
  });

  test('the folder scan finds a checkpoint no event announced; a stable unreadable file is a problem naming it', async () => {
    const folder = mkdtempSync(join(tmp, 'run-'));
    const { w, events, problems } = watcher(folder, { scanMs: 50, giveUpMs: 200 });
    try {
      await w.start();
      copyFileSync(SAFETENSORS, join(folder, 'step-100.safetensors'));
      await until(events, 1);
      assert.equal(events[0].path, join(folder, 'step-100.safetensors'));
      const broken = join(folder, 'step-200.safetensors');
      writeFileSync(broken, readFileSync(SAFETENSORS).subarray(0, 5000));
      await until(problems, 1);
      assert.match(problems[0], /step-200\.safetensors/);
      assert.equal(events.length, 1, 'the broken file is not a checkpoint');
    } finally {
      w.dispose();
    }
  });
});
