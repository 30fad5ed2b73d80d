/**
 * `npm run bench:profile`: where the time of one paper-size forward pass goes, per TensorFlow.js
 * kernel, on the wasm backend: every kernel over 2 ms, then the total per kernel name (matrix
 * products with their GFLOP/s). Prints numbers; asserts nothing.
 *
 *   npm run bench:profile                 forward with every tap
 *   npm run bench:profile -- --no-taps    forward alone
 *   npm run bench:profile -- --composite  TensorFlow.js ops instead of the host kernels
 */
import * as tf from '@tensorflow/tfjs-core';
import { join } from 'node:path';
import { openCheckpoint } from '../src/checkpoint/open';
import { initBackend } from '../src/model/backend';
import { loadGrassmannModel } from '../src/model/grassmann';
import { describeModel } from '../src/model/spec';
import { paperModelFiles } from './paperModel';

async function main(): Promise<void> {
  const report = await initBackend({ preference: 'wasm', wasmDir: __dirname });
  const taps = !process.argv.includes('--no-taps');
  const ops = process.argv.includes('--composite') ? 'composite' : 'auto';
  console.log(`backend ${report.active}/${report.threads}t, ${taps ? 'every tap' : 'no taps'}, ${ops} ops`);
  const { safetensors } = await paperModelFiles(join(__dirname, '..', 'bench/.data'));
  const ck = await openCheckpoint(safetensors);
  const d = await describeModel(ck);
  if (!d.recognized) throw new Error(`${safetensors}: not recognised`);
  const model = await loadGrassmannModel(ck, d.spec);
  const ids = Array.from({ length: 256 }, (_, i) => (i * 7919) % d.spec.dims.vocabSize);
  await model.forward(ids, { taps, ops });
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    await model.forward(ids, { taps, ops });
    times.push(performance.now() - t0);
  }
  console.log(`forward: ${times.map((t) => t.toFixed(1)).join(', ')} ms`);
  const info = await tf.profile(async () => {
    await model.forward(ids, { taps, ops });
    return [];
  });
  const byKernel = new Map<string, { ms: number; calls: number; flops: number }>();
  let total = 0;
  for (const k of info.kernels) {
    if (k.name.endsWith('__op') || k.name === 'unnamed scope') continue; // scopes around kernels, counted twice
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    let flops = 0;
    if (/MatMul/.test(k.name)) {
      const [a, b] = k.inputShapes as number[][];
      flops = 2 * a[a.length - 2] * a[a.length - 1] * b[b.length - 1];
    }
    const entry = byKernel.get(k.name) ?? { ms: 0, calls: 0, flops: 0 };
    entry.ms += ms;
    entry.calls++;
    entry.flops += flops;
    byKernel.set(k.name, entry);
    total += ms;
    if (ms > 2) console.log(`  ${ms.toFixed(1).padStart(7)} ms ${k.name} ${k.inputShapes.map((s) => `[${s}]`).join('')}`);
  }
  console.log(`${info.kernels.length} kernels, ${total.toFixed(1)} ms in kernels`);
  for (const [name, e] of [...byKernel].sort((a, b) => b[1].ms - a[1].ms)) {
    const rate = e.flops ? `  ${(e.flops / e.ms / 1e6).toFixed(1)} GFLOP/s` : '';
    console.log(`${e.ms.toFixed(1).padStart(8)} ms ${String(e.calls).padStart(4)}x ${name}${rate}`);
  }
  model.dispose();
  await ck.close();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
