/**
 * Starts the TensorFlow.js WebAssembly backend with XNNPACK's thread pool in Node (worker_threads),
 * which @tensorflow/tfjs-backend-wasm 4.22 does not do by itself. Without touching the package:
 *
 * 1. `WASM_HAS_MULTITHREAD_SUPPORT` is hard-wired to false under Node; we set the flag to true, so
 *    init() picks the threaded-SIMD emscripten factory and `tfjs-backend-wasm-threaded-simd.wasm`.
 * 2. Emscripten preallocates 8 pthread workers with `new Worker(URL.createObjectURL(blob))`; Node
 *    refuses blob: URLs (ERR_WORKER_PATH). While init runs, URL.createObjectURL answers with the
 *    path of the worker script we write into a private temp folder (removed when init is over):
 *    the stock emscripten worker script (which wasm-out's `tfjs-backend-wasm-threaded-simd.worker.js`
 *    exports as a string), preceded by a URL.createObjectURL override in the worker, so that the
 *    pthread worker loads the self-contained emscripten main script
 *    (wasm-out's `tfjs-backend-wasm-threaded-simd.js`) instead of the Blob init() posts, whose text
 *    is rollup's rewrite of the factory (it calls `require$$0`..`require$$4`, which only exist in the
 *    package's bundle scope). scripts/build.mjs copies both files next to the .wasm binaries.
 * 3. The C++ side caps the pool at `emscripten_num_logical_cores() / 2` ("2 hardware threads per
 *    core"), i.e. at 1 on a 2-CPU machine, which is why forcing the flag alone gave
 *    getThreadsCount() === 1. In Node that import is `require('os').cpus().length`, read once when
 *    the module's static constructors run; while init runs, os.cpus() reports at least 2 * threads.
 * 4. The pool's pthread workers are `ref()`ed while they run (forever: they park on a futex), which
 *    would keep the process alive; we unref them, and end the preallocated workers XNNPACK did not
 *    take (emscripten starts 8 whatever the thread count: ~53 MiB RSS saved with 2 threads).
 *
 * If anything fails (files missing, no SharedArrayBuffer, init error or time-out), the backend is
 * started single-threaded as before, and `detail` says why.
 */
import * as tf from '@tensorflow/tfjs-core';
import { setWasmPaths, setThreadsCount, getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

/** Files the threaded build needs in the wasm folder (see scripts/build.mjs). */
export const THREADED_WASM_FILES = [
  'tfjs-backend-wasm-threaded-simd.wasm',
  'tfjs-backend-wasm-threaded-simd.js',
  'tfjs-backend-wasm-threaded-simd.worker.js',
] as const;

export interface WasmInitResult {
  /** Threads XNNPACK's pool really uses (getThreadsCount()). */
  threads: number;
  /** One line for the backend report: what was started, or why threads were not used. */
  detail: string;
}

/**
 * Threads to ask for by default: $GRASSMANN_LENS_WASM_THREADS if set (e.g. 1 to compare, or to
 * leave cores to other work), else one per CPU this process may use; at most 8.
 */
export function defaultWasmThreads(): number {
  const fromEnv = Number.parseInt(process.env.GRASSMANN_LENS_WASM_THREADS ?? '', 10);
  const n = fromEnv > 0 ? fromEnv : nodeOs.availableParallelism?.() ?? nodeOs.cpus().length;
  return Math.max(1, Math.min(MAX_THREADS, n));
}

/** Upper bound of the package's C++ (`max_num_threads`) and of its preallocated worker pool. */
const MAX_THREADS = 8;
const INIT_TIMEOUT_MS = 60_000;

// The very module object the package reads (`require('os')`); an ES import would give a copy.
const nodeOs = createRequire(__filename)('node:os') as typeof import('node:os');

/** Why this runtime cannot run the threaded build, or undefined if it can. */
function threadSupportProblem(): string | undefined {
  if (typeof SharedArrayBuffer === 'undefined') return 'SharedArrayBuffer is not available';
  if (typeof Atomics === 'undefined') return 'Atomics is not available';
  try {
    // wasm-feature-detect's threads probe (the same bytes the package uses in browsers).
    const ok = WebAssembly.validate(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 5, 4, 1, 3, 1, 1, 10, 11, 1, 9, 0, 65, 0, 254, 16, 2, 0, 26, 11]));
    if (!ok) return 'WebAssembly threads are not supported';
  } catch (e) {
    return `WebAssembly threads probe failed: ${(e as Error).message}`;
  }
  return undefined;
}

/**
 * Writes the pthread worker script into a new private temp folder and returns its path: the
 * emscripten worker script the package would put in a Blob (wasm-out's `.worker.js` is a CommonJS
 * module exporting it as `wasmWorkerContents`), preceded by URL.createObjectURL/revokeObjectURL
 * overrides so that the Blob init() posts as the main script loads the file of the same build.
 * The folder is removed once init is over: the pool's 8 workers are all started during init.
 */
function writeWorkerScript(wasmDir: string): string {
  const mainScript = join(wasmDir, 'tfjs-backend-wasm-threaded-simd.js');
  const workerModule = join(wasmDir, 'tfjs-backend-wasm-threaded-simd.worker.js');
  const contents = (createRequire(__filename)(workerModule) as { wasmWorkerContents?: unknown }).wasmWorkerContents;
  if (typeof contents !== 'string') throw new Error(`${workerModule} does not export wasmWorkerContents`);
  const text = [
    '"use strict";',
    '// Grassmann Lens: emscripten pthread worker for @tensorflow/tfjs-backend-wasm in Node.',
    '// init() posts the main script as a Blob, which Node cannot import: load the file instead.',
    `const mainScript = ${JSON.stringify(mainScript)};`,
    'URL.createObjectURL = function () { return mainScript; };',
    'URL.revokeObjectURL = function () {};',
    // As the package does before making its Blob: the template literal turned "\\n" into newlines.
    contents.replace(/\n/g, '\\n'),
    '',
  ].join('\n');
  // mkdtemp makes the folder 0700: no other user can swap the script we are about to run.
  const path = join(mkdtempSync(join(tmpdir(), 'grassmann-lens-wasm-')), 'pthread-worker.js');
  writeFileSync(path, text);
  return path;
}

async function setBackendWithin(ms: number): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((res) => { timer = setTimeout(() => res(`initialisation did not finish within ${ms / 1000} s`), ms); });
  try {
    const attempt = (async () => {
      const ok = await tf.setBackend('wasm');
      await tf.ready();
      return ok ? undefined : "tf.setBackend('wasm') returned false";
    })().catch((e: unknown) => String((e as Error)?.message ?? e).split('\n')[0]);
    return await Promise.race([attempt, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

interface EmscriptenWorker { unref?: () => void; terminate?: () => unknown }
interface EmscriptenPThread { runningWorkers: EmscriptenWorker[]; unusedWorkers: EmscriptenWorker[] }

/** The emscripten module behind the active wasm backend, if it is the threaded build. */
function pthreadOf(): EmscriptenPThread | undefined {
  const backend = tf.engine().backend as unknown as { wasm?: { PThread?: EmscriptenPThread } };
  return backend?.wasm?.PThread;
}

/**
 * Lets the process (or worker thread) exit while the pool's threads are parked, and ends the
 * workers XNNPACK did not take: emscripten always starts 8 (about 7 MiB each), and no pthread is
 * created after init (the pool is created once, with at most 8 threads, the caller being one).
 */
function settlePoolWorkers(): void {
  const pthread = pthreadOf();
  if (!pthread) return;
  for (const w of pthread.runningWorkers) w.unref?.();
  for (const w of pthread.unusedWorkers.splice(0)) {
    w.unref?.();
    void w.terminate?.();
  }
}

/**
 * Makes the wasm backend the active TensorFlow.js backend, with `threads` XNNPACK threads when
 * the threaded build can start in this runtime (Node main thread or worker_thread), else with one.
 * Must run before the wasm backend is first initialised. Throws only if the single-threaded
 * backend cannot start either (e.g. missing binaries), with the reason.
 */
export async function initWasmBackend(wasmDir: string, threads: number): Promise<WasmInitResult> {
  const dir = resolve(wasmDir);
  if (tf.findBackend('wasm')) {
    // Started before (threaded or not): switch back to it; it cannot be restarted differently.
    const failure = await setBackendWithin(INIT_TIMEOUT_MS);
    if (failure) throw new Error(failure);
    const got = getThreadsCount();
    return { threads: got, detail: `WebAssembly (XNNPACK, ${got} thread${got === 1 ? '' : 's'}; started earlier)` };
  }
  setWasmPaths(dir.endsWith('/') ? dir : dir + '/');
  const wanted = Math.max(1, Math.min(MAX_THREADS, Math.floor(threads) || 1));
  let why: string | undefined;

  if (wanted > 1) {
    const missing = THREADED_WASM_FILES.filter((f) => !existsSync(join(dir, f)));
    why = missing.length ? `${missing.join(', ')} missing from ${dir}` : threadSupportProblem();
    // The only threaded binary is the SIMD one.
    if (!why && !(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'))) why = 'WebAssembly SIMD is not supported';
    let loader = '';
    if (!why) {
      try { loader = writeWorkerScript(dir); } catch (e) { why = `cannot write the pthread worker script: ${(e as Error).message}`; }
    }
    if (!why) {
      const originalCreateObjectURL = URL.createObjectURL;
      const originalCpus = nodeOs.cpus;
      const realCpus = originalCpus.call(nodeOs);
      tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
      setThreadsCount(wanted);
      URL.createObjectURL = (obj: Blob) => (obj instanceof Blob && obj.type === 'application/javascript' ? loader : originalCreateObjectURL(obj));
      nodeOs.cpus = () => {
        const cpus = originalCpus.call(nodeOs);
        while (cpus.length < 2 * wanted) cpus.push(realCpus[0] ?? cpus[0]);
        return cpus;
      };
      try {
        why = await setBackendWithin(INIT_TIMEOUT_MS);
      } finally {
        URL.createObjectURL = originalCreateObjectURL;
        nodeOs.cpus = originalCpus;
        try { rmSync(dirname(loader), { recursive: true, force: true }); } catch { /* a temp folder left behind */ }
      }
      if (!why) {
        settlePoolWorkers();
        const got = getThreadsCount();
        return {
          threads: got,
          detail: got === wanted
            ? `WebAssembly (XNNPACK, SIMD, ${got} threads)`
            : `WebAssembly (XNNPACK, SIMD, ${got} thread${got === 1 ? '' : 's'}; ${wanted} requested)`,
        };
      }
      // Start over with the single-threaded build: the engine keeps the factory after a failure.
      tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    }
  }

  setThreadsCount(1);
  const failure = existsSync(join(dir, 'tfjs-backend-wasm-simd.wasm')) || existsSync(join(dir, 'tfjs-backend-wasm.wasm'))
    ? await setBackendWithin(INIT_TIMEOUT_MS)
    : `the wasm binaries are missing from ${dir}`;
  if (failure) throw new Error(why ? `${failure} (threaded build also failed: ${why})` : failure);
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  return {
    threads: getThreadsCount(),
    detail: `WebAssembly (XNNPACK${simd ? ', SIMD' : ', no SIMD'}, 1 thread${why ? `; multi-threading unavailable: ${why}` : ''})`,
  };
}
