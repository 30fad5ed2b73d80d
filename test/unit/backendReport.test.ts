/**
 * Honest backend detection (issue 17): a rung is reported as GPU only after its probe proves it;
 * otherwise the report says why it fell back. The WebGPU rung is driven through fakes of its
 * loaders ("package missing", "no adapter", "software adapter", "adapter found"), tfjs-node-gpu
 * through a fake package that registers a 'tensorflow' backend whose libtensorflow created no GPU
 * device. The exact reason strings and the report's wording are asserted.
 */
import { after, afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { backendSummary, describeBackend, initBackend, installedWebGpu, PROBE_BOUND, PROBE_N, WEBGPU_SYNC_READ_MESSAGE, type WebGpuHooks } from '../../src/model/backend';
import { nativeDeviceEvidence, noAdapterDetail, NotInstalledError, type GpuLike } from '../../src/model/gpuProbe';

const root = join(__dirname, '..', '..');
const wasmDir = join(root, 'node_modules/@tensorflow/tfjs-backend-wasm/wasm-out');
const tmp = mkdtempSync(join(tmpdir(), 'gl-backend-'));
const emptyNative = join(tmp, 'empty');
mkdirSync(emptyNative);
after(() => rmSync(tmp, { recursive: true, force: true }));

const NOT_INSTALLED_GPU = `@tensorflow/tfjs-node-gpu is not installed (looked in ${join(emptyNative, 'node_modules')}); install it with \`grassmann-lens install-gpu\``;

/** Registers `name` as a backend that is the CPU backend underneath, with the CPU kernels. */
function registerFakeBackend(name: string, make: () => tf.KernelBackend): void {
  tf.registerBackend(name, make);
  for (const k of tf.getKernelsForBackend('cpu')) tf.registerKernel({ ...k, backendName: name });
}
function removeFakeBackend(name: string): void {
  if (tf.engine().registryFactory[name]) tf.removeBackend(name);
  for (const k of tf.getKernelsForBackend(name)) tf.unregisterKernel(k.kernelName, name);
}
afterEach(async () => {
  removeFakeBackend('webgpu');
  removeFakeBackend('tensorflow');
  await tf.setBackend('cpu');
});

const gpuWith = (adapter: unknown): GpuLike => ({ requestAdapter: async () => adapter as null });
const hooks = (loadGpu: () => Promise<GpuLike>, registerBackend: WebGpuHooks['registerBackend'] = () => assert.fail('no adapter: nothing to register')): WebGpuHooks => ({ loadGpu, registerBackend });

test('the webgpu package missing: the real loader says where it looked and how to install; the report falls back to wasm and says so', async () => {
  const report = await initBackend({ preference: 'webgpu', wasmDir, nativeModulesDir: emptyNative, webgpu: installedWebGpu(emptyNative) });
  const webgpu = report.attempts[0];
  assert.equal(webgpu.name, 'webgpu');
  assert.equal(webgpu.available, false);
  assert.equal(webgpu.skip, 'not installed');
  assert.equal(webgpu.detail, `the webgpu package is not installed (looked in ${join(emptyNative, 'node_modules')}); install it with \`grassmann-lens install-gpu --webgpu\``);
  assert.deepEqual(webgpu.probe?.map((s) => s.step), ['load webgpu']);
  assert.equal(report.active, 'wasm');
  assert.equal(report.gpu, false);
  assert.match(report.device ?? '', /^CPU \(WebAssembly SIMD, \d+ threads?\)$/);
  assert.equal(backendSummary(report), `wasm, ${report.device} (WebGPU skipped: not installed — ${webgpu.detail})`);
  assert.deepEqual(report.attempts.map((a) => [a.name, a.available]), [['webgpu', false], ['tensorflow', false], ['wasm', true]]);
  // The CPU rungs carry the probe product too, for comparison.
  const wasm = report.attempts[2];
  assert.equal(wasm.product?.n, PROBE_N);
  assert.ok(wasm.product!.maxError <= PROBE_BOUND, `wasm product error ${wasm.product!.maxError}`);
});

test('no adapter: the exact reason per platform, in the attempt, the summary, the reason and the full report with the probe timings', async () => {
  assert.equal(noAdapterDetail('linux'),
    "navigator.gpu.requestAdapter() returned null: Dawn found no Vulkan GPU adapter (Dawn needs the Vulkan loader (libvulkan.so.1) and the GPU vendor's Vulkan driver (NVIDIA: the proprietary driver; AMD/Intel: mesa-vulkan-drivers); `vulkaninfo --summary` lists what Vulkan sees)");
  assert.equal(noAdapterDetail('darwin'), 'navigator.gpu.requestAdapter() returned null: Dawn found no Metal GPU adapter (Metal needs macOS 11 or later on a Mac with a GPU)');
  assert.equal(noAdapterDetail('win32'), 'navigator.gpu.requestAdapter() returned null: Dawn found no D3D12 GPU adapter (D3D12 needs Windows 10 or later and a GPU driver with D3D12 support)');

  const report = await initBackend({ preference: 'auto', wasmDir, nativeModulesDir: emptyNative, platform: 'linux', webgpu: hooks(async () => gpuWith(null)) });
  assert.deepEqual(report.attempts.map((a) => [a.name, a.available, a.skip]), [
    ['tensorflow-gpu', false, 'not installed'], ['webgpu', false, 'no adapter'], ['tensorflow', false, 'not installed'], ['wasm', true, undefined],
  ]);
  const webgpu = report.attempts[1];
  assert.equal(webgpu.detail, noAdapterDetail('linux'));
  assert.equal(webgpu.gpu, undefined);
  assert.deepEqual(webgpu.probe?.map((s) => s.step), ['load webgpu', 'requestAdapter']);
  assert.ok(webgpu.probe!.every((s) => s.ms >= 0));
  assert.equal(report.active, 'wasm');
  assert.equal(report.gpu, false);
  assert.equal(backendSummary(report),
    `wasm, ${report.device} (tensorflow-gpu skipped: not installed — ${NOT_INSTALLED_GPU}; WebGPU skipped: no adapter — ${noAdapterDetail('linux')})`);
  assert.match(report.reason, /^wasm: tensorflow-gpu unavailable \(not installed — .*\); webgpu unavailable \(no adapter — navigator\.gpu\.requestAdapter\(\) returned null: /);
  const text = describeBackend(report).split('\n');
  assert.equal(text[1], `Runs on: ${backendSummary(report)}`);
  assert.ok(text.includes(`  ✗ webgpu: no adapter — ${noAdapterDetail('linux')}`), text.join('\n'));
  assert.match(text[text.indexOf(`  ✗ webgpu: no adapter — ${noAdapterDetail('linux')}`) + 1], /^ {6}probe: load webgpu \d+\.\d+ ms, requestAdapter \d+\.\d+ ms$/);
  assert.ok(text.some((l) => /^ {2}✓ wasm: .* \[CPU \(WebAssembly SIMD, \d+ threads?\)\]$/.test(l)), text.join('\n'));
});

test('a failing loader and a software adapter are not GPUs either', async () => {
  const failing = await initBackend({ preference: 'webgpu', wasmDir, nativeModulesDir: emptyNative, webgpu: hooks(async () => { throw new Error('dawn.node: invalid ELF header\nmore'); }) });
  assert.equal(failing.attempts[0].skip, 'failed to load');
  assert.equal(failing.attempts[0].detail, 'the webgpu package failed to load: dawn.node: invalid ELF header');
  const injectedMissing = await initBackend({ preference: 'webgpu', wasmDir, nativeModulesDir: emptyNative, webgpu: hooks(async () => { throw new NotInstalledError('not here'); }) });
  assert.equal(injectedMissing.attempts[0].skip, 'not installed');
  assert.equal(injectedMissing.attempts[0].detail, 'not here');

  const software = await initBackend({
    preference: 'webgpu', wasmDir, nativeModulesDir: emptyNative,
    webgpu: hooks(async () => gpuWith({ info: { vendor: 'google', architecture: 'swiftshader', description: 'SwiftShader Device (Subzero)' } })),
  });
  assert.equal(software.attempts[0].skip, 'software adapter');
  assert.equal(software.attempts[0].detail, 'the only WebGPU adapter is a software rasteriser on the CPU (google swiftshader (SwiftShader Device (Subzero))), not a GPU');
  assert.equal(software.active, 'wasm');
  const lavapipe = await initBackend({
    preference: 'webgpu', wasmDir, nativeModulesDir: emptyNative,
    webgpu: hooks(async () => gpuWith({ requestAdapterInfo: async () => ({ vendor: 'mesa', architecture: '', description: 'llvmpipe (LLVM 15.0.6, 256 bits)' }) })),
  });
  assert.equal(lavapipe.attempts[0].detail, 'the only WebGPU adapter is a software rasteriser on the CPU (mesa (llvmpipe (LLVM 15.0.6, 256 bits))), not a GPU');
});

test('adapter found: GPU only after the backend holds the adapter and the probe product is right; a synchronous GPU read says why it fails', async () => {
  let offscreenCanvasMissing = false;
  class FakeWebGpu extends MathBackendCPU {
    adapterInfo = { vendor: 'nvidia', architecture: 'ampere' };
    override readSync(dataId: object) {
      if (offscreenCanvasMissing) throw new ReferenceError('OffscreenCanvas is not defined');
      return super.readSync(dataId);
    }
  }
  let registeredWith: GpuLike | undefined;
  const gpu = gpuWith({ info: { vendor: 'nvidia', architecture: 'ampere', description: 'NVIDIA GeForce RTX 3090' } });
  const report = await initBackend({
    preference: 'auto', wasmDir, nativeModulesDir: emptyNative, platform: 'linux',
    webgpu: hooks(async () => gpu, (g) => {
      registeredWith = g;
      registerFakeBackend('webgpu', () => new FakeWebGpu());
    }),
  });
  assert.equal(registeredWith, gpu);
  assert.equal(report.active, 'webgpu');
  assert.equal(tf.getBackend(), 'webgpu');
  assert.equal(report.gpu, true);
  assert.equal(report.device, 'GPU: nvidia ampere (WebGPU, Vulkan)');
  const webgpu = report.attempts[1];
  assert.equal(webgpu.gpu, true);
  assert.match(webgpu.detail, /^adapter nvidia ampere \(NVIDIA GeForce RTX 3090\), tfjs-backend-webgpu 4\.22\.0; /);
  assert.deepEqual(webgpu.probe?.map((s) => s.step), ['load webgpu', 'requestAdapter', 'adapter info', 'load tfjs-backend-webgpu', 'backend init (requestDevice)']);
  assert.equal(webgpu.product?.n, 128);
  assert.ok(webgpu.product!.maxError <= 1e-4, `product error ${webgpu.product!.maxError}`);
  assert.ok(webgpu.product!.gflops > 0 && webgpu.product!.ms > 0);
  assert.equal(backendSummary(report), `webgpu, GPU: nvidia ampere (WebGPU, Vulkan) (tensorflow-gpu skipped: not installed — ${NOT_INSTALLED_GPU})`);
  assert.match(describeBackend(report), /\n {6}probe: load webgpu [\d.]+ ms, requestAdapter [\d.]+ ms, adapter info [\d.]+ ms, load tfjs-backend-webgpu [\d.]+ ms, backend init \(requestDevice\) [\d.]+ ms; product 128x128: first [\d.]+ ms, warm [\d.]+ ms \([\d.]+ GFLOP\/s\), max error [\d.e+-]+/);

  offscreenCanvasMissing = true;
  const t = tf.tensor1d([1, 2, 3]);
  assert.throws(() => t.dataSync(), (e: Error) => e.message === WEBGPU_SYNC_READ_MESSAGE);
  offscreenCanvasMissing = false;
  t.dispose();
});

test('a wrong probe product is no GPU: the rung is skipped with the error it measured', async () => {
  class Garbage extends MathBackendCPU {
    adapterInfo = { vendor: 'amd', architecture: 'rdna-3' };
  }
  const report = await initBackend({
    preference: 'webgpu', wasmDir, nativeModulesDir: emptyNative,
    webgpu: hooks(async () => gpuWith({ info: { vendor: 'amd', architecture: 'rdna-3' } }), () => {
      registerFakeBackend('webgpu', () => new Garbage());
      // A matMul that returns zeros.
      tf.unregisterKernel('BatchMatMul', 'webgpu');
      tf.registerKernel({ kernelName: 'BatchMatMul', backendName: 'webgpu', kernelFunc: ({ inputs, backend }) => {
        const a = (inputs as { a: tf.TensorInfo }).a;
        return (backend as MathBackendCPU).makeTensorInfo([1, a.shape[1], a.shape[1]], 'float32', new Float32Array(a.shape[1]! * a.shape[1]!));
      } });
    }),
  });
  assert.equal(report.attempts[0].skip, 'probe failed');
  assert.match(report.attempts[0].detail, /^the probe product \(128x128 matMul\) differs from float64 by [\d.]+ \(bound 0\.001\) on amd rdna-3$/);
  assert.equal(report.active, 'wasm');
  assert.equal(report.gpu, false);
});

test('tfjs-node-gpu whose libtensorflow created no GPU device is not reported as GPU; its CPU device serves the tensorflow rung', async () => {
  const native = join(tmp, 'native-no-gpu');
  const pkg = join(native, 'node_modules', '@tensorflow', 'tfjs-node-gpu');
  mkdirSync(pkg, { recursive: true });
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: '@tensorflow/tfjs-node-gpu', version: '4.22.0', main: 'index.js' }));
  // What tfjs-node-gpu does when the CUDA libraries are missing: it registers 'tensorflow', and
  // its NodeJSKernelBackend has isUsingGpuDevice false (the binding's device list has no GPU).
  writeFileSync(join(pkg, 'index.js'), `
    const tf = require(${JSON.stringify(require.resolve('@tensorflow/tfjs-core'))});
    const { MathBackendCPU } = require(${JSON.stringify(require.resolve('@tensorflow/tfjs-backend-cpu'))});
    class NodeJSKernelBackend extends MathBackendCPU { constructor() { super(); this.isGPUPackage = true; this.isUsingGpuDevice = false; } }
    tf.registerBackend('tensorflow', () => new NodeJSKernelBackend());
    for (const k of tf.getKernelsForBackend('cpu')) tf.registerKernel({ ...k, backendName: 'tensorflow' });
  `);
  const report = await initBackend({ preference: 'auto', wasmDir, nativeModulesDir: native, webgpu: hooks(async () => gpuWith(null)) });
  const [gpu, webgpu, tensorflow] = report.attempts;
  assert.deepEqual([gpu.name, gpu.available, gpu.skip, gpu.gpu], ['tensorflow-gpu', false, 'no GPU device', undefined]);
  assert.equal(gpu.detail, '@tensorflow/tfjs-node-gpu loaded, but libtensorflow created no GPU device (its device list has the CPU only), so it would compute on the CPU: '
    + 'tfjs-node-gpu 4.22 needs an NVIDIA GPU with CUDA 11.2 and cuDNN 8.1 libraries on the library path (CUDA 12/13 alone do not load)');
  assert.deepEqual(gpu.probe?.map((s) => s.step), ['load @tensorflow/tfjs-node-gpu', 'backend init']);
  assert.equal(webgpu.skip, 'no adapter');
  assert.equal(report.active, 'tensorflow');
  assert.equal(report.gpu, false);
  assert.equal(report.device, 'CPU (native TensorFlow)');
  assert.equal(tensorflow.detail, 'native TensorFlow on the CPU, through @tensorflow/tfjs-node-gpu (loaded above, no GPU device)');
  assert.ok(tensorflow.product && tensorflow.product.maxError <= PROBE_BOUND);
  assert.ok(backendSummary(report).startsWith('tensorflow, CPU (native TensorFlow) (tensorflow-gpu skipped: no GPU device — @tensorflow/tfjs-node-gpu loaded, but libtensorflow created no GPU device'), backendSummary(report));
  // The fallback wording, whole: what was chosen, that it is the CPU, and why the GPU rung fell back.
  assert.equal(backendSummary(report), `tensorflow, CPU (native TensorFlow) (tensorflow-gpu skipped: no GPU device — ${gpu.detail}; WebGPU skipped: no adapter — ${webgpu.detail})`);
  assert.equal(report.reason, `tensorflow: tensorflow-gpu unavailable (no GPU device — ${gpu.detail}); webgpu unavailable (no adapter — ${webgpu.detail})`);
  const text = describeBackend(report).split('\n');
  assert.deepEqual(text.slice(0, 4), ['Compute backend: tensorflow (1 thread)', `Runs on: ${backendSummary(report)}`, `Why: ${report.reason}`, 'Tried, fastest first:']);
  assert.equal(text[4], `  ✗ tensorflow-gpu: no GPU device — ${gpu.detail}`);
  assert.match(text[5], /^ {6}probe: load @tensorflow\/tfjs-node-gpu \d+\.\d+ ms, backend init \d+\.\d+ ms$/);
  assert.equal(text[6], `  ✗ webgpu: no adapter — ${webgpu.detail}`);
  const tensorflowLine = text.indexOf('  ✓ tensorflow: native TensorFlow on the CPU, through @tensorflow/tfjs-node-gpu (loaded above, no GPU device) [CPU (native TensorFlow)]');
  assert.ok(tensorflowLine > 6, text.join('\n'));
  assert.match(text[tensorflowLine + 1], /^ {6}probe: backend init \d+\.\d+ ms; product 128x128: first [\d.]+ ms, warm [\d.]+ ms \([\d.]+ GFLOP\/s\), max error [\d.e+-]+$/);
  assert.ok(!/GPU:/.test(describeBackend(report)), 'nothing in the report calls it a GPU');
});

test('the device evidence of a tfjs-node backend', () => {
  assert.deepEqual(nativeDeviceEvidence({ isUsingGpuDevice: true, isGPUPackage: true }), { gpu: true, detail: 'libtensorflow created a GPU device (its device list has a device of type GPU)' });
  assert.equal(nativeDeviceEvidence({ isUsingGpuDevice: false }).gpu, false);
  assert.deepEqual(nativeDeviceEvidence({}), { gpu: false, detail: 'the tensorflow backend exposes no isUsingGpuDevice, so its device cannot be proved' });
  assert.equal(nativeDeviceEvidence(undefined).gpu, false);
});

test('the real loader on a webgpu package that is there: no adapter from Dawn, a requestAdapter that throws, tfjs-backend-webgpu missing', async () => {
  // A stand-in for the `webgpu` package (an ES module with create() and globals, as 0.6.2 has).
  const native = join(tmp, 'native-fake-webgpu');
  const pkg = join(native, 'node_modules', 'webgpu');
  mkdirSync(pkg, { recursive: true });
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'webgpu', version: '0.6.2', type: 'module', main: 'index.js' }));
  writeFileSync(join(pkg, 'index.js'), `
    export const globals = {};
    export function create() {
      return { requestAdapter: async () => {
        if (globalThis.__fakeDawn === 'throws') throw new Error('Dawn: vkCreateInstance failed\\nmore');
        return globalThis.__fakeDawn === 'adapter' ? { info: { vendor: 'amd', architecture: 'rdna-3' } } : null;
      } };
    }
  `);
  const g = globalThis as { __fakeDawn?: string };
  try {
    g.__fakeDawn = 'null';
    const none = await initBackend({ preference: 'webgpu', wasmDir, nativeModulesDir: native, platform: 'darwin' });
    assert.deepEqual([none.attempts[0].skip, none.attempts[0].detail], ['no adapter', noAdapterDetail('darwin')]);
    assert.equal(none.active, 'wasm');

    g.__fakeDawn = 'throws';
    const throwing = await initBackend({ preference: 'webgpu', wasmDir, nativeModulesDir: native });
    assert.deepEqual([throwing.attempts[0].skip, throwing.attempts[0].detail], ['no adapter', 'navigator.gpu.requestAdapter() failed: Dawn: vkCreateInstance failed']);

    g.__fakeDawn = 'adapter';
    const noBackend = await initBackend({ preference: 'webgpu', wasmDir, nativeModulesDir: native });
    const webgpu = noBackend.attempts[0];
    assert.equal(webgpu.skip, 'not installed');
    assert.equal(webgpu.detail, `@tensorflow/tfjs-backend-webgpu is not installed (looked in ${join(native, 'node_modules')}); install it with \`grassmann-lens install-gpu --webgpu\``);
    assert.deepEqual(webgpu.probe?.map((s) => s.step), ['load webgpu', 'requestAdapter', 'adapter info', 'load tfjs-backend-webgpu']);
    assert.equal(noBackend.gpu, false);
    assert.equal((globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu, undefined, 'navigator.gpu is taken back');
  } finally {
    delete g.__fakeDawn;
  }
});
