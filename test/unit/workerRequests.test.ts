/**
 * Issue 15 through the real compute worker (dist/worker.js, cpu backend): a repeated request
 * reuses the worker's opened model (no weights read again) until `forget`; a cancelled long
 * request stops in the worker within about one block and no longer delays the next request.
 *
 * The long requests run on a synthetic model (12 blocks, d=128, r=16, ff=512, the fixture's
 * vocabulary and tokenizer, 128 positions) written to a temporary checkpoint, so that one block
 * is a small part of a request. Timing bounds are relative to durations measured in the same
 * test (an uncancelled request), with wide margins: cancelled at 25% of it, the next request
 * must be answered within 50% of it.
 */
import { strict as assert } from 'node:assert';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { writeSafetensors } from '../../src/checkpoint/safetensorsWriter';
import { randomGrassmannWeights, type GrassmannDims } from '../../src/model/synthetic';
import { CancelledError, ComputeClient } from '../../src/worker/client';

const root = join(__dirname, '..', '..');
const workerPath = join(root, 'dist', 'worker.js');
const FIXTURE = join(root, 'test/fixtures/tiny-grassmann');
const TINY = join(FIXTURE, 'model.safetensors');
const DIMS: GrassmannDims = { vocabSize: 1200, modelDim: 128, layers: 12, reducedDim: 16, ffDim: 512, maxPositions: 128 };

let client: ComputeClient;
let dir: string;
let big: string;
let text: string;
let evalFile: string;

before(async () => {
  assert.ok(existsSync(workerPath), `${workerPath} missing: run npm run build`);
  dir = mkdtempSync(join(tmpdir(), 'gl-worker-requests-'));
  big = join(dir, 'model.safetensors');
  await writeSafetensors(big, randomGrassmannWeights(DIMS, 3), { format: 'pt' });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ architecture: 'GrassmannGPT', window_sizes: [1, 2, 4, 8, 12, 16] }));
  for (const f of ['vocab.txt', 'tokenizer.json', 'tokenizer_config.json']) if (existsSync(join(FIXTURE, f))) copyFileSync(join(FIXTURE, f), join(dir, f));
  const evalText = readFileSync(join(FIXTURE, 'eval.txt'), 'utf8');
  text = evalText.slice(0, 560); // about 120 tokens: fits the 128 positions
  evalFile = join(dir, 'eval.txt');
  writeFileSync(evalFile, evalText.slice(0, 2400)); // about 4 chunks of 128 tokens: one batch
  client = new ComputeClient({ workerPath, backend: 'cpu' });
});
after(async () => {
  await client?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work();
  return { value, ms: performance.now() - started };
}

const withoutTime = <T extends { seconds: number }>(r: T): Omit<T, 'seconds'> => {
  const { seconds: _, ...rest } = r;
  return rest;
};

test('Explain twice: the second relevance request reuses the opened model, the same answer; forget drops it', async () => {
  const ref = { path: big };
  assert.equal(await client.request('cachedModel', ref), false);
  const first = await timed(() => client.request('relevance', { checkpoint: big, text }));
  assert.equal(await client.request('cachedModel', ref), true, 'the model stays open after the request');
  const second = await timed(() => client.request('relevance', { checkpoint: big, text }));
  assert.deepEqual(withoutTime(second.value), withoutTime(first.value));
  console.log(`relevance on the 12-block model: first ${first.ms.toFixed(0)} ms (opens and loads), second ${second.ms.toFixed(0)} ms`);
  // The editor's own requests (analyze) share it: the same key (path, config, tokenizer, arch).
  await client.request('analyze', { path: big, text: 'the licensor' });
  await client.request('forget', { path: big });
  assert.equal(await client.request('cachedModel', ref), false, 'forget (the file changed on disk) drops it');
  const third = await client.request('relevance', { checkpoint: big, text });
  assert.deepEqual(withoutTime(third), withoutTime(first.value));
});

/**
 * Sends `long`, cancels it at 25% of its uncancelled duration, at once sends `short`; returns the
 * time from the cancel to the short request's answer and to the long request's stop in the worker.
 */
async function cancelThenShort(long: (signal: AbortSignal) => Promise<unknown>, uncancelledMs: number): Promise<{ shortMs: number; stoppedMs: number; error: unknown }> {
  const abort = new AbortController();
  const running = long(abort.signal).then(() => null, (e: unknown) => e);
  await new Promise((resolve) => setTimeout(resolve, uncancelledMs * 0.25));
  const cancelledAt = performance.now();
  abort.abort();
  await client.request('inspect', { path: TINY });
  const shortMs = performance.now() - cancelledAt;
  const error = await running;
  return { shortMs, stoppedMs: performance.now() - cancelledAt, error };
}

const longRequests: [string, (signal?: AbortSignal) => Promise<unknown>][] = [
  ['relevance', (signal) => client.request('relevance', { checkpoint: big, text }, { signal, untilStopped: true })],
  ['eval', (signal) => client.request('eval', { checkpoint: big, data: evalFile }, { signal, untilStopped: true })],
];
for (const [name, long] of longRequests) {
  test(`a cancelled ${name} stops in the worker and the next request does not wait for it`, async () => {
    await long(); // the model opened and loaded, its transposes made
    const uncancelled = await timed(() => long());
    const idle = await timed(() => client.request('inspect', { path: TINY }));
    const { shortMs, stoppedMs, error } = await cancelThenShort((signal) => long(signal), uncancelled.ms);
    console.log(`${name}: uncancelled ${uncancelled.ms.toFixed(0)} ms; cancelled at 25%: next request answered ${shortMs.toFixed(0)} ms after the cancel (${idle.ms.toFixed(0)} ms on an idle worker), the ${name} stopped after ${stoppedMs.toFixed(0)} ms`);
    assert.ok(error instanceof CancelledError, `the cancelled request rejects as cancelled: ${String(error)}`);
    assert.ok(shortMs < 0.5 * uncancelled.ms, `the next request waited ${shortMs.toFixed(0)} ms after the cancel, the ${name} takes ${uncancelled.ms.toFixed(0)} ms`);
    assert.ok(stoppedMs < 0.5 * uncancelled.ms, `the ${name} stopped ${stoppedMs.toFixed(0)} ms after the cancel (it takes ${uncancelled.ms.toFixed(0)} ms)`);
  });
}
