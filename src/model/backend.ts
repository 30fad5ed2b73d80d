/**
 * Picks the TensorFlow.js backend at run time, fastest first, and says why each faster one was
 * not used: tensorflow-gpu (@tensorflow/tfjs-node-gpu, CUDA) -> webgpu (@tensorflow/tfjs-backend-webgpu
 * on the `webgpu` package: Dawn with Vulkan, Metal or D3D12) -> tensorflow (@tensorflow/tfjs-node)
 * -> wasm (@tensorflow/tfjs-backend-wasm, SIMD) -> cpu (@tensorflow/tfjs-backend-cpu).
 *
 * The optional packages carry native binaries (libtensorflow, dawn.node), so they are never
 * dependencies of this package: they are looked up at run time in a user folder
 * (`grassmann-lens install-gpu [--webgpu]` / the "Install GPU Backend…" command put them there)
 * and next to the bundle.
 *
 * A GPU rung is used only once a probe proves it computes on a GPU (./gpuProbe.ts): else it is
 * skipped, and the report says why. Every rung tried is in the report with its probe's timings.
 */
import * as tf from '@tensorflow/tfjs-core';
// A named import, not a bare one: esbuild drops bare imports of packages marked side-effect free,
// and this module's side effect is registering the 'cpu' backend.
import { version_cpu } from '@tensorflow/tfjs-backend-cpu';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { initWasmBackend, defaultWasmThreads } from './wasmThreads';
import { registerWasmTransposedMatMul } from './wasmMatMul';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { dawnApi, firstLine, nativeDeviceEvidence, NotInstalledError, probeWebGpuAdapter, type AdapterInfoLike, type GpuLike } from './gpuProbe';

export { BACKEND_NAMES, GPU_BACKENDS, backendSummary, defaultNativeModulesDir, describeBackend, skippedText } from './backendReport';
export type { BackendAttempt, BackendName, BackendPreference, BackendReport, ProbeProduct, ProbeStep } from './backendReport';
import { BACKEND_NAMES, defaultNativeModulesDir, type BackendAttempt, type BackendName, type BackendPreference, type BackendReport, type ProbeProduct, type ProbeStep } from './backendReport';

/** How the WebGPU rung reaches its packages; tests replace them with fakes. */
export interface WebGpuHooks {
  /** Loads `webgpu` and returns navigator.gpu (its create([])); throws NotInstalledError when it is not installed. */
  loadGpu(): Promise<GpuLike>;
  /** Makes navigator.gpu and the GPU* globals visible and registers tfjs-backend-webgpu's 'webgpu' backend. */
  registerBackend(gpu: GpuLike): Promise<void> | void;
}

export interface BackendOptions {
  preference?: BackendPreference;
  /** Folder holding the .wasm binaries (the bundle's dist/). */
  wasmDir: string;
  /** Folder where native packages were installed (has node_modules/); defaults to defaultNativeModulesDir(). */
  nativeModulesDir?: string;
  /** The WebGPU rung's loaders (default: the packages in nativeModulesDir). */
  webgpu?: WebGpuHooks;
  /** For the report's words (default process.platform). */
  platform?: NodeJS.Platform;
}

/** The probe product's size and the largest error it may have (float32 sums of 128 products of values in [-1, 1)). */
export const PROBE_N = 128;
export const PROBE_BOUND = 1e-3;

const NATIVE_PACKAGE: Record<'tensorflow-gpu' | 'tensorflow', string> = {
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  tensorflow: '@tensorflow/tfjs-node',
};

/** The folder whose node_modules holds `pkg`: the user's folder first, then beside the bundle (dist/..). */
function findPackage(pkg: string, nativeDir: string): string | undefined {
  const places = [join(nativeDir, 'node_modules'), join(__dirname, '..', 'node_modules')];
  return places.find((p) => existsSync(join(p, pkg, 'package.json')));
}

function stepTimer(steps: ProbeStep[]) {
  let t = performance.now();
  return (step: string) => {
    const now = performance.now();
    steps.push({ step, ms: now - t });
    t = now;
  };
}

function tryNative(name: 'tensorflow-gpu' | 'tensorflow', nativeDir: string, steps: ProbeStep[]): BackendAttempt {
  const pkg = NATIVE_PACKAGE[name];
  const lap = stepTimer(steps);
  if (name === 'tensorflow' && tf.findBackend('tensorflow')) {
    // tfjs-node-gpu loaded above and created no GPU device: its backend is native TensorFlow on the CPU.
    return { name, available: true, detail: 'native TensorFlow on the CPU, through @tensorflow/tfjs-node-gpu (loaded above, no GPU device)' };
  }
  const where = findPackage(pkg, nativeDir);
  if (!where) {
    return {
      name, available: false, skip: 'not installed',
      detail: `${pkg} is not installed (looked in ${join(nativeDir, 'node_modules')}); install it with \`grassmann-lens install-gpu${name === 'tensorflow' ? ' --cpu' : ''}\``,
    };
  }
  try {
    // Registers the 'tensorflow' backend in tfjs-core's global engine, shared by every copy of tfjs-core.
    createRequire(join(where, 'noop.js'))(pkg);
    lap(`load ${pkg}`);
  } catch (e) {
    lap(`load ${pkg}`);
    return { name, available: false, skip: 'failed to load', detail: `${pkg} is installed but failed to load: ${firstLine(e)}` };
  }
  if (!tf.findBackend('tensorflow')) {
    return { name, available: false, skip: 'failed to load', detail: `${pkg} loaded but registered no 'tensorflow' backend (version mismatch with tfjs-core ${tf.version_core}?)` };
  }
  return { name, available: true, detail: `${pkg} loaded` };
}

async function activate(tfName: string): Promise<string | undefined> {
  try {
    const ok = await tf.setBackend(tfName);
    await tf.ready();
    return ok ? undefined : `tf.setBackend('${tfName}') returned false`;
  } catch (e) {
    return firstLine(e);
  }
}

/** A reproducible matrix with entries in [-1, 1). */
function probeMatrix(n: number, seed: number): Float32Array {
  const out = new Float32Array(n * n);
  let s = seed >>> 0;
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/**
 * C = A B on the active backend (read back with data(), as the forward pass does), against the
 * float64 product of the same float32 inputs; the first run and the median of 5 warm runs.
 */
export async function probeProduct(n = PROBE_N): Promise<ProbeProduct> {
  const a = probeMatrix(n, 1);
  const b = probeMatrix(n, 2);
  const A = tf.tensor2d(a, [n, n]);
  const B = tf.tensor2d(b, [n, n]);
  try {
    const run = async (): Promise<[Float32Array, number]> => {
      const t0 = performance.now();
      const C = tf.matMul(A, B);
      const data = (await C.data()) as Float32Array;
      C.dispose();
      return [data, performance.now() - t0];
    };
    const [first, firstMs] = await run();
    const warm: number[] = [];
    for (let i = 0; i < 5; i++) warm.push((await run())[1]);
    warm.sort((x, y) => x - y);
    let maxError = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += a[i * n + k] * b[k * n + j];
        maxError = Math.max(maxError, Math.abs(first[i * n + j] - s));
      }
    }
    const ms = warm[2];
    return { n, firstMs, ms, gflops: (2 * n ** 3) / ms / 1e6, maxError };
  } finally {
    A.dispose();
    B.dispose();
  }
}

/** The product of a rung's probe, or the reason it is wrong (a device that computes garbage is no GPU to use). */
async function checkedProduct(): Promise<{ product: ProbeProduct } | { failure: string }> {
  try {
    const product = await probeProduct();
    if (!(product.maxError <= PROBE_BOUND)) return { failure: `the probe product (${product.n}x${product.n} matMul) differs from float64 by ${product.maxError} (bound ${PROBE_BOUND})` };
    return { product };
  } catch (e) {
    return { failure: `the probe product (${PROBE_N}x${PROBE_N} matMul) failed: ${firstLine(e)}` };
  }
}

// ---------------------------------------------------------------------------------------------
// WebGPU
// ---------------------------------------------------------------------------------------------

// `import()` kept as it is in the CommonJS bundle (the `webgpu` package is an ES module).
const importModule = new Function('url', 'return import(url)') as (url: string) => Promise<unknown>;

/** The packages of the user's folder (installed by `grassmann-lens install-gpu --webgpu`). */
export function installedWebGpu(nativeDir: string): WebGpuHooks {
  let globals: Record<string, unknown> = {};
  return {
    async loadGpu() {
      const where = findPackage('webgpu', nativeDir);
      if (!where) throw new NotInstalledError(`the webgpu package is not installed (looked in ${join(nativeDir, 'node_modules')}); install it with \`grassmann-lens install-gpu --webgpu\``);
      const entry = createRequire(join(where, 'noop.js')).resolve('webgpu');
      const mod = (await importModule(pathToFileURL(entry).href)) as { create(options: string[]): GpuLike; globals: Record<string, unknown> };
      globals = mod.globals;
      return mod.create([]);
    },
    registerBackend(gpu) {
      const pkg = '@tensorflow/tfjs-backend-webgpu';
      const where = findPackage(pkg, nativeDir);
      if (!where) throw new NotInstalledError(`${pkg} is not installed (looked in ${join(nativeDir, 'node_modules')}); install it with \`grassmann-lens install-gpu --webgpu\``);
      // tfjs-backend-webgpu registers only when navigator.gpu exists, and uses GPUBufferUsage & co.
      Object.assign(globalThis, globals);
      setNavigatorGpu(gpu);
      createRequire(join(where, 'noop.js'))(pkg);
    },
  };
}

function setNavigatorGpu(gpu: GpuLike | undefined): void {
  const g = globalThis as { navigator?: { gpu?: unknown } };
  if (gpu === undefined) {
    if (g.navigator && 'gpu' in g.navigator) delete g.navigator.gpu;
    return;
  }
  if (g.navigator) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true, writable: true });
  else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
}

/**
 * The message a synchronous read of a GPU tensor fails with on webgpu: tfjs-backend-webgpu 4.22
 * reads synchronously through OffscreenCanvas, which Node does not have. Forward passes, taps,
 * gradients, LRP relevance, the pruning criteria's probes and text analysis read asynchronously
 * (test/unit/asyncReads.test.ts runs them on a backend that refuses synchronous reads), so this is
 * a safety net for a read they do not make (a new code path, third-party code).
 */
export const WEBGPU_SYNC_READ_MESSAGE =
  'the webgpu backend cannot read a GPU tensor synchronously in Node (tfjs-backend-webgpu 4.22 reads through OffscreenCanvas, which Node lacks); '
  + 'this request read one synchronously: choose another backend for it (setting grassmannLens.backend, or --backend wasm)';

/** Makes a failing synchronous read say why (and what to do) instead of "OffscreenCanvas is not defined" (a safety net: see WEBGPU_SYNC_READ_MESSAGE). */
function explainSyncReads(backend: tf.KernelBackend): void {
  const original = backend.readSync.bind(backend);
  backend.readSync = (dataId: object) => {
    try {
      return original(dataId);
    } catch (e) {
      if (/OffscreenCanvas/.test(String((e as Error)?.message ?? e))) throw new Error(WEBGPU_SYNC_READ_MESSAGE);
      throw e;
    }
  };
}

async function tryWebGpu(hooks: WebGpuHooks, platform: NodeJS.Platform): Promise<BackendAttempt> {
  const name: BackendName = 'webgpu';
  const adapter = await probeWebGpuAdapter(() => hooks.loadGpu(), platform);
  const steps = [...adapter.steps];
  if (!adapter.ok) return { name, available: false, skip: adapter.skip, detail: adapter.detail, probe: steps };
  const lap = stepTimer(steps);
  try {
    await hooks.registerBackend(adapter.gpu);
    lap('load tfjs-backend-webgpu');
  } catch (e) {
    lap('load tfjs-backend-webgpu');
    setNavigatorGpu(undefined);
    if (e instanceof NotInstalledError) return { name, available: false, skip: 'not installed', detail: e.message, probe: steps };
    return { name, available: false, skip: 'failed to load', detail: `@tensorflow/tfjs-backend-webgpu failed to load: ${firstLine(e)}`, probe: steps };
  }
  if (!tf.engine().registryFactory.webgpu) {
    setNavigatorGpu(undefined);
    return { name, available: false, skip: 'failed to load', detail: `@tensorflow/tfjs-backend-webgpu loaded but registered no 'webgpu' backend (version mismatch with tfjs-core ${tf.version_core}?)`, probe: steps };
  }
  const failure = await activate('webgpu');
  lap('backend init (requestDevice)');
  if (failure) {
    setNavigatorGpu(undefined);
    return { name, available: false, skip: 'failed to initialise', detail: `the webgpu backend failed to initialise on ${adapter.name}: ${failure}`, probe: steps };
  }
  // The adapter the backend itself requested (the same request as the probe's), as it reports it.
  const own = (tf.backend() as unknown as { adapterInfo?: AdapterInfoLike }).adapterInfo;
  const device = `GPU: ${own?.vendor || own?.architecture ? [own.vendor, own.architecture].filter(Boolean).join(' ') : adapter.name} (WebGPU, ${dawnApi(platform)})`;
  const checked = await checkedProduct();
  if ('failure' in checked) return { name, available: false, skip: 'probe failed', detail: `${checked.failure} on ${adapter.name}`, probe: steps };
  explainSyncReads(tf.backend());
  return {
    name, available: true, gpu: true, device, probe: steps, product: checked.product,
    detail: `adapter ${adapter.name}, tfjs-backend-webgpu ${tf.version_core}; forward passes, taps and gradients run on it, `
      + 'LRP relevance, the pruning probes and text analysis too (they read tensors asynchronously; not yet run on a real GPU by this project\'s tests)',
  };
}

/** Ends what keeps the process alive after a WebGPU run (Dawn runs while navigator.gpu is referenced). */
export function releaseBackend(): void {
  // engine().backendName, not getBackend(): that would start a backend where none was started.
  try {
    if (tf.engine().backendName === 'webgpu') tf.removeBackend('webgpu');
  } finally {
    setNavigatorGpu(undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// The ladder
// ---------------------------------------------------------------------------------------------

/** Selects and initialises the backend; never throws: the CPU backend always works. */
export async function initBackend(opts: BackendOptions): Promise<BackendReport> {
  const preference = opts.preference ?? 'auto';
  const nativeDir = opts.nativeModulesDir || defaultNativeModulesDir();
  const platform = opts.platform ?? process.platform;
  const order: BackendName[] = preference === 'auto' ? [...BACKEND_NAMES] : [preference, ...BACKEND_NAMES.filter((b) => b !== preference && BACKEND_NAMES.indexOf(b) > BACKEND_NAMES.indexOf(preference))];
  const attempts: BackendAttempt[] = [];
  for (const name of order) {
    let attempt: BackendAttempt;
    if (name === 'tensorflow-gpu' || name === 'tensorflow') {
      const steps: ProbeStep[] = [];
      attempt = tryNative(name, nativeDir, steps);
      if (attempt.available) {
        const lap = stepTimer(steps);
        const failure = await activate('tensorflow');
        lap('backend init');
        if (failure) attempt = { name, available: false, skip: 'failed to initialise', detail: `${NATIVE_PACKAGE[name]} failed to initialise: ${failure}` };
        else {
          const evidence = nativeDeviceEvidence(tf.backend());
          if (name === 'tensorflow-gpu' && !evidence.gpu) attempt = { name, available: false, skip: 'no GPU device', detail: `${NATIVE_PACKAGE[name]} loaded, but ${evidence.detail}` };
          else {
            const checked = await checkedProduct();
            if ('failure' in checked) attempt = { name, available: false, skip: 'probe failed', detail: checked.failure };
            else if (name === 'tensorflow-gpu') attempt = { ...attempt, gpu: true, device: 'GPU: a CUDA device of libtensorflow (tfjs-node-gpu does not expose its name)', detail: `${attempt.detail}; ${evidence.detail}`, product: checked.product };
            else attempt = { ...attempt, gpu: false, device: 'CPU (native TensorFlow)', product: checked.product };
          }
        }
      }
      attempt.probe = steps;
    } else if (name === 'webgpu') {
      attempt = await tryWebGpu(opts.webgpu ?? installedWebGpu(nativeDir), platform);
    } else if (name === 'wasm') {
      // Multi-threaded XNNPACK when the runtime allows it, else one thread (src/model/wasmThreads.ts).
      const steps: ProbeStep[] = [];
      const lap = stepTimer(steps);
      try {
        const wasm = await initWasmBackend(opts.wasmDir, defaultWasmThreads());
        registerWasmTransposedMatMul();
        lap('backend init');
        attempt = { name, available: true, gpu: false, device: `CPU (WebAssembly SIMD, ${getThreadsCount()} thread${getThreadsCount() === 1 ? '' : 's'})`, detail: wasm.detail, probe: steps };
      } catch (e) {
        lap('backend init');
        attempt = { name, available: false, skip: 'failed to initialise', detail: `WebAssembly backend failed to start: ${firstLine(e)}`, probe: steps };
      }
    } else {
      const failure = await activate('cpu');
      // tfjs-backend-cpu warns on its first tensor in Node ("install our node backend"), now the
      // probe product's: the report already says why tensorflow is not used and how to install
      // it, and a CLI error must stay one line on stderr.
      const cpu = failure ? undefined : (tf.backend() as unknown as { firstUse?: boolean });
      if (cpu?.firstUse) cpu.firstUse = false;
      attempt = failure
        ? { name, available: false, skip: 'failed to initialise', detail: failure }
        : { name, available: true, gpu: false, device: 'CPU (plain JavaScript)', detail: `plain JavaScript kernels, tfjs-backend-cpu ${version_cpu} (slowest)` };
    }
    if (attempt.available && (name === 'wasm' || name === 'cpu')) {
      // The same product as the GPU rungs' probe, for comparison (a CPU backend needs no proof).
      const checked = await checkedProduct();
      if ('product' in checked) attempt.product = checked.product;
      else if (name === 'wasm') attempt = { ...attempt, available: false, skip: 'probe failed', detail: checked.failure };
      // (cpu stays: it is the rung that always works)
    }
    attempts.push(attempt);
    if (attempt.available) {
      const skipped = attempts.filter((a) => !a.available);
      const reason = preference !== 'auto' && name === preference
        ? `${name} was requested`
        : skipped.length
          ? `${name}: ${skipped.map((a) => `${a.name} unavailable (${a.skip ?? 'unavailable'} — ${a.detail})`).join('; ')}`
          : `${name} is the fastest backend available`;
      return { active: name, reason, attempts, threads: name === 'wasm' ? getThreadsCount() : 1, gpu: attempt.gpu === true, device: attempt.device ?? 'CPU' };
    }
  }
  // Unreachable in practice: the CPU backend is pure JavaScript.
  throw new Error(`no TensorFlow.js backend could be initialised: ${attempts.map((a) => `${a.name}: ${a.detail}`).join('; ')}`);
}
