// The multi-threaded wasm backend (src/model/wasmThreads.ts) computes what the CPU backend computes.
// Values only: speed is measured by bench/wasm-matmul.ts, never asserted here.
import { strict as assert } from 'node:assert';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import * as esbuild from 'esbuild';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { initWasmBackend, THREADED_WASM_FILES } from '../../src/model/wasmThreads';
import { uniformValues } from '../../src/model/synthetic';

const root = join(__dirname, '..', '..');
// Holds every binary and both emscripten scripts (the package's dist/ has only the binaries).
const wasmOut = join(root, 'node_modules/@tensorflow/tfjs-backend-wasm/wasm-out');

/** Ops of a transformer forward pass, on inputs large enough for XNNPACK to split them. */
function forward(): tf.Tensor[] {
  const x = tf.tensor2d(uniformValues(96 * 160, 1), [96, 160]);
  const w1 = tf.tensor2d(uniformValues(160 * 613, 2), [160, 613]);
  const w2 = tf.tensor2d(uniformValues(613 * 160, 3), [613, 160]);
  const vocab = tf.tensor2d(uniformValues(2051 * 160, 4), [2051, 160]);
  const a = tf.tensor3d(uniformValues(3 * 37 * 64, 5), [3, 37, 64]);
  const b = tf.tensor3d(uniformValues(3 * 64 * 129, 6), [3, 64, 129]);
  const h = tf.relu(tf.matMul(x, w1));
  const ffn = tf.matMul(h, w2);
  const mean = tf.mean(ffn, -1, true);
  const norm = tf.mul(tf.sub(ffn, mean), tf.rsqrt(tf.add(tf.mean(tf.square(tf.sub(ffn, mean)), -1, true), 1e-5)));
  const logits = tf.matMul(norm, vocab, false, true); // [96 x 2051], weight-tied projection
  return [ffn, logits, tf.softmax(logits), tf.matMul(a, b), tf.gather(vocab, tf.tensor1d([0, 7, 2050, 3], 'int32'))];
}

async function compareWithCpu(): Promise<number[]> {
  const wasmValues = await Promise.all(tf.tidy(forward).map(async (t) => { const d = await t.data(); t.dispose(); return d; }));
  const backend = tf.getBackend();
  await tf.setBackend('cpu');
  const cpuValues = await Promise.all(tf.tidy(forward).map(async (t) => { const d = await t.data(); t.dispose(); return d; }));
  await tf.setBackend(backend);
  return wasmValues.map((w, i) => {
    const c = cpuValues[i];
    assert.equal(w.length, c.length);
    let worst = 0;
    for (let j = 0; j < w.length; j++) worst = Math.max(worst, Math.abs((w[j] as number) - (c[j] as number)) / (1 + Math.abs(c[j] as number)));
    return worst;
  });
}

test('threaded wasm backend (2 threads) matches the CPU backend', async () => {
  const r = await initWasmBackend(wasmOut, 2);
  assert.equal(tf.getBackend(), 'wasm');
  assert.equal(r.threads, 2, r.detail);
  assert.match(r.detail, /2 threads/);
  const errors = await compareWithCpu();
  for (const e of errors) assert.ok(e < 1e-4, `relative error ${e}`);
  // A second call (another backend was active in between) switches back to the same pool.
  await tf.setBackend('cpu');
  const again = await initWasmBackend(wasmOut, 2);
  assert.equal(tf.getBackend(), 'wasm');
  assert.equal(again.threads, 2, again.detail);
});

/** Bundles a worker entry with esbuild (as dist/worker.js is) and runs it in a worker_thread. */
async function runBundledWorker(wasmDir: string, threads: number): Promise<{ threads: number; detail: string; errors: number[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'gl-wasm-threads-'));
  const outfile = join(dir, 'worker.js');
  await esbuild.build({
    stdin: {
      contents: `
        import * as tf from '@tensorflow/tfjs-core';
        // A named import: esbuild drops a bare one (the package's "sideEffects" omits its node build).
        import { version_cpu } from '@tensorflow/tfjs-backend-cpu';
        import { parentPort, workerData } from 'node:worker_threads';
        import { initWasmBackend } from '../../src/model/wasmThreads';
        (async () => {
          if (!version_cpu) throw new Error('no cpu backend');
          const r = await initWasmBackend(workerData.wasmDir, workerData.threads);
          const a = tf.tensor2d(workerData.a, [64, 300]);
          const b = tf.tensor2d(workerData.b, [300, 1200]);
          const w = await tf.matMul(a, b).data();
          await tf.setBackend('cpu');
          const c = await tf.matMul(a, b).data();
          let worst = 0;
          for (let i = 0; i < c.length; i++) worst = Math.max(worst, Math.abs(w[i] - c[i]) / (1 + Math.abs(c[i])));
          parentPort.postMessage({ threads: r.threads, detail: r.detail, errors: [worst] });
        })().catch((e) => parentPort.postMessage({ error: String(e && e.stack || e) }));`,
      resolveDir: __dirname,
      loader: 'ts',
    },
    bundle: true, platform: 'node', target: 'node20', format: 'cjs', outfile, logLevel: 'silent',
  });
  const worker = new Worker(outfile, { workerData: { wasmDir, threads, a: uniformValues(64 * 300, 7), b: uniformValues(300 * 1200, 8) } });
  const result = new Promise<{ threads: number; detail: string; errors: number[] }>((resolve, reject) => {
    worker.once('message', (m) => (m.error ? reject(new Error(m.error)) : resolve(m)));
    worker.once('error', reject);
  });
  // The worker must end by itself once its work is done: the pool's pthreads must not hold it.
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
  const timer = setTimeout(() => void worker.terminate(), 60_000);
  try {
    const r = await result;
    assert.equal(await exited, 0, 'the worker did not exit by itself');
    return r;
  } finally {
    clearTimeout(timer);
    rmSync(dir, { recursive: true, force: true });
  }
}

test('bundled, in a worker_thread, with the files laid out as scripts/build.mjs copies them', async () => {
  const dist = mkdtempSync(join(tmpdir(), 'gl-wasm-dist-'));
  const binaries = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm'];
  for (const f of [...binaries, ...THREADED_WASM_FILES]) copyFileSync(join(wasmOut, f), join(dist, f));
  const r = await runBundledWorker(dist, 2).finally(() => rmSync(dist, { recursive: true, force: true }));
  assert.equal(r.threads, 2, r.detail);
  for (const e of r.errors) assert.ok(e < 1e-4, `relative error ${e}`);
});

test('falls back to one thread, and says why, when the threaded scripts are missing', async () => {
  const dist = mkdtempSync(join(tmpdir(), 'gl-wasm-old-dist-'));
  for (const f of ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm']) copyFileSync(join(wasmOut, f), join(dist, f));
  const r = await runBundledWorker(dist, 2).finally(() => rmSync(dist, { recursive: true, force: true }));
  assert.equal(r.threads, 1);
  assert.match(r.detail, /tfjs-backend-wasm-threaded-simd\.js, tfjs-backend-wasm-threaded-simd\.worker\.js missing/);
  for (const e of r.errors) assert.ok(e < 1e-4, `relative error ${e}`);
});
