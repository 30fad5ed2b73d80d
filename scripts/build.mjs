// Bundles the extension host, the CLI, the compute worker, the bench and the webviews with esbuild.
import * as esbuild from 'esbuild';
import { cpSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');

// Native TensorFlow and WebGPU packages are optional at run time and never bundled: they are
// loaded from wherever the user installed them (see src/model/backend.ts).
const external = ['vscode', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'webgpu', '@tensorflow/tfjs-backend-webgpu'];

const node = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: !production,
  minify: production,
  external,
  logLevel: 'warning',
};

const entries = [
  { ...node, entryPoints: [join(root, 'src/extension/extension.ts')], outfile: join(dist, 'extension.js') },
  { ...node, entryPoints: [join(root, 'src/cli/main.ts')], outfile: join(dist, 'cli.js'), banner: { js: '#!/usr/bin/env node' } },
  { ...node, entryPoints: [join(root, 'src/worker/worker.ts')], outfile: join(dist, 'worker.js') },
  { ...node, entryPoints: [join(root, 'bench/bench.ts')], outfile: join(dist, 'bench.js') },
  { ...node, entryPoints: [join(root, 'bench/profile-forward.ts')], outfile: join(dist, 'profile-forward.js') },
  { ...node, entryPoints: [join(root, 'bench/gpu-check.ts')], outfile: join(dist, 'gpu-check.js') },
];

// The webviews: browser bundles (D3, @vscode-elements/elements) and their CSS — the checkpoint
// editor (main), the pruning report of src/extension/prune.ts (prune) and the comparison of two
// checkpoints of src/extension/compare.ts (compare).
for (const name of ['main', 'prune', 'compare']) {
  entries.push({
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'chrome114',
    sourcemap: !production,
    minify: production,
    logLevel: 'warning',
    entryPoints: [join(root, 'webview', `${name}.ts`)],
    outfile: join(dist, 'webview', `${name}.js`),
  });
}

mkdirSync(dist, { recursive: true });
// The wasm backend loads its binaries from disk next to the bundle.
const wasmDir = join(root, 'node_modules/@tensorflow/tfjs-backend-wasm/dist');
for (const f of readdirSync(wasmDir)) if (f.endsWith('.wasm')) cpSync(join(wasmDir, f), join(dist, f));
// Multi-threaded wasm (src/model/wasmThreads.ts): the emscripten main script and pthread worker
// script of the threaded-SIMD build, which the package only ships in wasm-out/.
const wasmOut = join(root, 'node_modules/@tensorflow/tfjs-backend-wasm/wasm-out');
for (const f of ['tfjs-backend-wasm-threaded-simd.js', 'tfjs-backend-wasm-threaded-simd.worker.js']) cpSync(join(wasmOut, f), join(dist, f));

if (watch) {
  for (const e of entries) (await esbuild.context(e)).watch();
} else {
  await Promise.all(entries.map((e) => esbuild.build(e)));
}
