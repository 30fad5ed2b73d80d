/**
 * `npm run gpu-check` (bench/gpu-check.ts) on a CPU-only machine (issue 17): the GPU rungs are
 * rows marked skipped with the exact reason their probe gave (the `webgpu` package absent, an
 * injected loader whose Dawn finds no adapter), the CPU rungs run the parity suite within its
 * bound, and a rung that a probe proves to be a GPU (here a fake WebGPU backend that is the CPU
 * backend underneath) gets a row with its device and its own parity errors.
 */
import { after, afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { formatTable, gpuCheck } from '../../bench/gpu-check';
import { PARITY_ABS_TOL, PARITY_GRAD_REL_TOL } from '../../bench/parity';
import type { WebGpuHooks } from '../../src/model/backend';
import { noAdapterDetail, type GpuLike } from '../../src/model/gpuProbe';

const root = join(__dirname, '..', '..');
const wasmDir = join(root, 'node_modules/@tensorflow/tfjs-backend-wasm/wasm-out');
const tmp = mkdtempSync(join(tmpdir(), 'gl-gpucheck-'));
const emptyNative = join(tmp, 'empty');
mkdirSync(emptyNative);
after(() => rmSync(tmp, { recursive: true, force: true }));
afterEach(async () => {
  if (tf.engine().registryFactory.webgpu) tf.removeBackend('webgpu');
  for (const k of tf.getKernelsForBackend('webgpu')) tf.unregisterKernel(k.kernelName, 'webgpu');
  await tf.setBackend('cpu');
});

const noAdapter: WebGpuHooks = {
  loadGpu: async () => ({ requestAdapter: async () => null }),
  registerBackend: () => assert.fail('no adapter: nothing to register'),
};

test('no GPU: tensorflow-gpu and webgpu are rows marked skipped, each with its probe\'s exact reason', async () => {
  const installHint = (pkg: string, flag: string) => `${pkg} is not installed (looked in ${join(emptyNative, 'node_modules')}); install it with \`grassmann-lens install-gpu${flag}\``;
  // The webgpu package absent (the real loader, nothing installed).
  const absent = await gpuCheck({ backends: ['tensorflow-gpu', 'webgpu'], paper: false, nativeModulesDir: emptyNative, wasmDir, platform: 'linux' });
  assert.deepEqual(absent.map((r) => [r.backend, r.status, r.device]), [['tensorflow-gpu', 'skipped', '-'], ['webgpu', 'skipped', '-']]);
  assert.equal(absent[0].reason, `tensorflow-gpu skipped: not installed — ${installHint('@tensorflow/tfjs-node-gpu', '')}`);
  assert.equal(absent[1].reason, `WebGPU skipped: not installed — ${installHint('the webgpu package', ' --webgpu')}`);
  assert.ok(absent.every((r) => r.maxError === undefined && r.forwardMs === undefined));

  // webgpu installed, but Dawn finds no adapter (an injected loader).
  const [none] = await gpuCheck({ backends: ['webgpu'], paper: false, nativeModulesDir: emptyNative, wasmDir, platform: 'linux', webgpu: noAdapter });
  assert.equal(none.status, 'skipped');
  assert.equal(none.reason, `WebGPU skipped: no adapter — ${noAdapterDetail('linux')}`);
  assert.equal(none.reason,
    "WebGPU skipped: no adapter — navigator.gpu.requestAdapter() returned null: Dawn found no Vulkan GPU adapter (Dawn needs the Vulkan loader (libvulkan.so.1) and the GPU vendor's Vulkan driver (NVIDIA: the proprietary driver; AMD/Intel: mesa-vulkan-drivers); `vulkaninfo --summary` lists what Vulkan sees)");

  const table = formatTable([...absent.slice(0, 1), none]).split('\n');
  assert.match(table[0], /^backend +device +parity +max error +grad rel +forward ms +GFLOP\/s +relevance ms +probe GFLOP\/s$/);
  assert.match(table[2], /^tensorflow-gpu +- +skipped +- +- +- +- +- +-$/);
  assert.match(table[3], /^webgpu +- +skipped +- +- +- +- +- +-$/);
  assert.ok(table.includes(absent[0].reason!), table.join('\n'));
  assert.ok(table.includes(none.reason!), table.join('\n'));
});

test('wasm: the parity suite (every fixture) within the bound, in a row of the table', async () => {
  const [wasm] = await gpuCheck({ backends: ['wasm'], paper: false, nativeModulesDir: emptyNative, wasmDir });
  assert.equal(wasm.status, 'ok', JSON.stringify(wasm));
  assert.match(wasm.device, /^CPU \(WebAssembly SIMD, \d+ threads?\)$/);
  assert.ok(wasm.maxError! > 0 && wasm.maxError! <= PARITY_ABS_TOL, `max error ${wasm.maxError} at ${wasm.worstTap}`);
  assert.ok(wasm.gradRelError! <= PARITY_GRAD_REL_TOL, `grad rel ${wasm.gradRelError}`);
  assert.ok(wasm.taps! > 100, `${wasm.taps} taps`);
  assert.equal(wasm.problems, undefined);
  assert.match(formatTable([wasm]).split('\n')[2], /^wasm +CPU \(WebAssembly SIMD, \d+ threads?\) +ok +\d\.\d\de-\d +\d\.\d\de-\d +- +- +- +\d+\.\d\d$/);
});

test('a rung proved to be a GPU gets a row with its device; a wrong result there fails the check', async () => {
  const { MathBackendCPU } = await import('@tensorflow/tfjs-backend-cpu');
  class FakeWebGpu extends MathBackendCPU {
    adapterInfo = { vendor: 'nvidia', architecture: 'ampere' };
  }
  let corrupt = false;
  const found: WebGpuHooks = {
    loadGpu: async () => ({ requestAdapter: async () => ({ info: { vendor: 'nvidia', architecture: 'ampere' } }) }) as GpuLike,
    registerBackend: () => {
      tf.registerBackend('webgpu', () => new FakeWebGpu());
      for (const k of tf.getKernelsForBackend('cpu')) tf.registerKernel({ ...k, backendName: 'webgpu' });
      if (corrupt) {
        // An Add off by 1e-3: the probe product (a matMul) is right, the model's taps are not.
        const add = tf.getKernel('Add', 'cpu')!;
        tf.unregisterKernel('Add', 'webgpu');
        tf.registerKernel({ ...add, backendName: 'webgpu', kernelFunc: (args) => {
          const out = add.kernelFunc(args) as tf.TensorInfo;
          const b = args.backend as InstanceType<typeof MathBackendCPU>;
          const values = (b.readSync(out.dataId) as Float32Array).map((v) => v + 1e-3);
          b.disposeIntermediateTensorInfo(out);
          return b.makeTensorInfo(out.shape, 'float32', values);
        } });
      }
    },
  };
  const [ok] = await gpuCheck({ backends: ['webgpu'], paper: false, nativeModulesDir: emptyNative, wasmDir, platform: 'linux', webgpu: found });
  assert.equal(ok.status, 'ok', JSON.stringify(ok));
  assert.equal(ok.device, 'GPU: nvidia ampere (WebGPU, Vulkan)');
  assert.ok(ok.maxError! <= PARITY_ABS_TOL && ok.probeGflops! > 0);
  assert.match(formatTable([ok]).split('\n')[2], /^webgpu +GPU: nvidia ampere \(WebGPU, Vulkan\) +ok /);

  tf.removeBackend('webgpu');
  for (const k of tf.getKernelsForBackend('webgpu')) tf.unregisterKernel(k.kernelName, 'webgpu');
  corrupt = true;
  const [bad] = await gpuCheck({ backends: ['webgpu'], paper: false, nativeModulesDir: emptyNative, wasmDir, platform: 'linux', webgpu: found });
  assert.equal(bad.status, 'parity failed', JSON.stringify(bad));
  assert.ok(bad.maxError! > PARITY_ABS_TOL);
  const table = formatTable([bad]).split('\n');
  assert.match(table[2], /^webgpu +GPU: nvidia ampere \(WebGPU, Vulkan\) +FAILED /);
  assert.ok(table.some((l) => l.startsWith(`webgpu: parity FAILED: max error ${bad.maxError!.toExponential(2)} at `)), table.join('\n'));
});
