/**
 * Micro-benchmark: the wasm backend's matMul in GFLOP/s with 1 vs N XNNPACK threads
 * (src/model/wasmThreads.ts), and the max abs difference against the CPU backend.
 *
 *   npx tsx bench/wasm-matmul.ts [--wasm-dir DIR] [--threads 2] [--rounds 2] [--reps 5]
 *   npx esbuild bench/wasm-matmul.ts --bundle --platform=node --outfile=/tmp/wasm-matmul.js && node /tmp/wasm-matmul.js --wasm-dir dist
 *
 * The backend can be initialised once per process, so every configuration runs in a child
 * process; the parent alternates 1 and N threads `--rounds` times because the machine is shared.
 */
import * as tf from '@tensorflow/tfjs-core';
// A named import: a bare one is dropped by esbuild (the package's "sideEffects" omits its node build).
import { version_cpu } from '@tensorflow/tfjs-backend-cpu';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { initWasmBackend, THREADED_WASM_FILES } from '../src/model/wasmThreads';
import { uniformValues } from '../src/model/synthetic';

/** [M, K, N]: [M x K] @ [K x N]. */
const SHAPES: [number, number, number][] = [
  [256, 256, 30522], // vocabulary projection
  [256, 1024, 256], // FFN down
  [1536, 496, 256],
];

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

function defaultWasmDir(): string {
  const candidates = [__dirname, join(__dirname, '..', 'dist'), join(__dirname, '..', 'node_modules/@tensorflow/tfjs-backend-wasm/wasm-out')];
  return candidates.find((d) => THREADED_WASM_FILES.every((f) => existsSync(join(d, f)))) ?? candidates[candidates.length - 1];
}

/** gflops from the median time, bestGflops from the fastest (the least disturbed by other load). */
interface ShapeResult { shape: string; gflops: number; bestGflops: number; ms: number; maxAbsDiff: number }

async function child(threads: number, wasmDir: string, reps: number): Promise<void> {
  const init = await initWasmBackend(wasmDir, threads);
  const results: ShapeResult[] = [];
  for (const [m, k, n] of SHAPES) {
    const a = tf.tensor2d(uniformValues(m * k, 1 + m), [m, k]);
    const b = tf.tensor2d(uniformValues(k * n, 2 + n), [k, n]);
    let wasmOut: Float32Array | undefined;
    const times: number[] = [];
    for (let r = 0; r < reps + 1; r++) {
      const t0 = performance.now();
      const c = tf.matMul(a, b);
      const data = (await c.data()) as Float32Array;
      const dt = performance.now() - t0;
      c.dispose();
      if (r === 0) wasmOut = data; // the first run warms up (and is not timed)
      else times.push(dt);
    }
    times.sort((x, y) => x - y);
    const ms = times[Math.floor(times.length / 2)];
    // Reference on the CPU backend (same inputs), then back to wasm.
    await tf.setBackend('cpu');
    const ref = tf.matMul(a, b);
    const refData = (await ref.data()) as Float32Array;
    ref.dispose();
    await tf.setBackend('wasm');
    let maxAbsDiff = 0;
    for (let i = 0; i < refData.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(refData[i] - wasmOut![i]));
    a.dispose();
    b.dispose();
    const flops = 2 * m * k * n;
    results.push({ shape: `[${m}x${k}]@[${k}x${n}]`, gflops: flops / ms / 1e6, bestGflops: flops / times[0] / 1e6, ms, maxAbsDiff });
  }
  process.stdout.write(JSON.stringify({ requested: threads, threads: init.threads, detail: init.detail, results }) + '\n');
  process.exit(0);
}

function parent(): void {
  const wasmDir = resolve(arg('wasm-dir', defaultWasmDir()));
  const threads = Number(arg('threads', '2'));
  const rounds = Number(arg('rounds', '2'));
  const reps = arg('reps', '5');
  console.log(`wasm dir: ${wasmDir} (tfjs-backend-cpu ${version_cpu} for the reference)`);
  console.log(`cpus: ${cpus().length}, load average before: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  const table = new Map<string, Map<number, number[]>>();
  for (let round = 0; round < rounds; round++) {
    for (const t of [1, threads]) {
      const run = spawnSync(process.execPath, [...process.execArgv, process.argv[1], '--child', String(t), '--wasm-dir', wasmDir, '--reps', reps], { encoding: 'utf8' });
      const line = run.stdout.trim().split('\n').pop() ?? '';
      if (run.status !== 0 || !line.startsWith('{')) {
        console.log(`threads=${t}: child failed (status ${run.status})\n${run.stderr}`);
        continue;
      }
      const r = JSON.parse(line) as { requested: number; threads: number; detail: string; results: ShapeResult[] };
      console.log(`round ${round + 1}, ${r.requested} requested -> ${r.threads} thread(s): ${r.detail}`);
      for (const s of r.results) {
        console.log(`  ${s.shape.padEnd(22)} median ${s.gflops.toFixed(1).padStart(5)} GFLOP/s (${s.ms.toFixed(1).padStart(6)} ms), best ${s.bestGflops.toFixed(1).padStart(5)}  max|wasm-cpu| ${s.maxAbsDiff.toExponential(2)}`);
        const byThreads = table.get(s.shape) ?? new Map<number, number[]>();
        table.set(s.shape, byThreads);
        byThreads.set(r.threads, [...(byThreads.get(r.threads) ?? []), s.gflops, s.bestGflops]);
      }
    }
  }
  console.log(`load average after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  console.log('best GFLOP/s per shape over all runs (threads: value), speed-up:');
  for (const [shape, byThreads] of table) {
    const best = [...byThreads].map(([t, g]) => [t, Math.max(...g)] as const).sort((x, y) => x[0] - y[0]);
    const one = best.find(([t]) => t === 1)?.[1];
    const many = best.filter(([t]) => t > 1).pop();
    console.log(`  ${shape.padEnd(22)} ${best.map(([t, g]) => `${t}: ${g.toFixed(1)}`).join('  ')}${one && many ? `  x${(many[1] / one).toFixed(2)}` : ''}`);
  }
}

const childIndex = process.argv.indexOf('--child');
if (childIndex >= 0) {
  child(Number(process.argv[childIndex + 1]), resolve(arg('wasm-dir', defaultWasmDir())), Number(arg('reps', '5'))).catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else {
  parent();
}
