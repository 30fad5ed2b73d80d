/**
 * The compute worker survives any failure of a request (issue 13): an InputError, a failure
 * inside a reader that is not an InputError (a TypeError, a stack overflow), a synchronous throw
 * or an unknown method end that request with an error, and the next request on the same worker
 * is served. Runs the bundle (dist/worker.js, built by `npm test` first).
 */
import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ComputeClient } from '../../src/worker/client';
import type { MethodName } from '../../src/worker/protocol';

const root = join(__dirname, '..', '..');
const workerPath = join(root, 'dist', 'worker.js');
const good = join(root, 'test/fixtures/tiny-grassmann/model.safetensors');
const bad = join(root, 'test/fixtures/bad-inputs');

let client: ComputeClient;

before(() => {
  assert.ok(existsSync(workerPath), `${workerPath} missing: run npm run build`);
  client = new ComputeClient({ workerPath, backend: 'cpu' });
});
after(async () => {
  await client?.dispose();
});

async function servedAfter(failing: () => Promise<unknown>, expectName?: RegExp): Promise<void> {
  const err = await failing().then(() => null, (e: Error) => e);
  assert.ok(err instanceof Error, 'the failing request must reject');
  if (expectName) assert.match(err.name, expectName, err.message);
  assert.ok(!/compute worker exited/.test(err.message), `the worker died: ${err.message}`);
  assert.ok(client.alive, 'the worker is still alive');
  const report = await client.inspect(good);
  assert.equal(report.format, 'safetensors');
  assert.ok(report.tensors.length > 0);
}

test('worker: an InputError from a reader, then the next request is served', async () => {
  await servedAfter(() => client.inspect(join(bad, 'random-bytes.pt')), /^InputError$/);
  await servedAfter(() => client.inspect(join(bad, 'header-not-json.safetensors')), /^InputError$/);
});

test('worker: a non-InputError thrown inside a reader (bad params reach fs) is an error for that request only', async () => {
  await servedAfter(() => client.request('inspect', { path: 42 as unknown as string }));
});

test('worker: a synchronous throw in an operation (null params) does not kill the worker', async () => {
  await servedAfter(() => client.request('inspect', null as unknown as { path: string }));
});

test('worker: an unknown method is an error, not a dead worker', async () => {
  await servedAfter(() => client.request('noSuchMethod' as MethodName, {} as never));
});

test('worker: deeply nested and hostile files fail their request only', async () => {
  for (const f of ['st-deep-shape.safetensors', 'st-deep-metadata.safetensors', 'hostile-os-system.pt', 'duplicate-data-pkl.pt', 'index-proto-keys']) {
    if (!existsSync(join(bad, f))) continue;
    await client.inspect(join(bad, f)).catch(() => undefined);
    assert.ok(client.alive, `the worker died on ${f}`);
    const report = await client.inspect(good);
    assert.equal(report.format, 'safetensors', f);
  }
});

test('worker: a deeply nested, wrongly typed parameter fails its request only', async () => {
  let deep: unknown = 'x';
  for (let i = 0; i < 5000; i++) deep = [deep];
  await servedAfter(() => client.request('forget', { path: deep as unknown as string }));
});
