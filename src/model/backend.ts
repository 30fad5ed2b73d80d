/**
 * Picks the TensorFlow.js backend at run time, fastest first, and says why each faster one was
 * not used: tensorflow-gpu (@tensorflow/tfjs-node-gpu, CUDA) -> tensorflow (@tensorflow/tfjs-node)
 * -> wasm (@tensorflow/tfjs-backend-wasm, SIMD) -> cpu (@tensorflow/tfjs-backend-cpu).
 *
 * The native packages download libtensorflow when installed, so they are never dependencies of
 * this package: they are looked up at run time in a user folder (`grassmann-lens install-gpu` /
 * the "Install GPU Backend" command put them there) and next to the bundle.
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

export { BACKEND_NAMES, defaultNativeModulesDir, describeBackend } from './backendReport';
export type { BackendAttempt, BackendName, BackendPreference, BackendReport } from './backendReport';
import { BACKEND_NAMES, defaultNativeModulesDir, type BackendAttempt, type BackendName, type BackendPreference, type BackendReport } from './backendReport';

export interface BackendOptions {
  preference?: BackendPreference;
  /** Folder holding the .wasm binaries (the bundle's dist/). */
  wasmDir: string;
  /** Folder where native packages were installed (has node_modules/); defaults to defaultNativeModulesDir(). */
  nativeModulesDir?: string;
}


const NATIVE_PACKAGE: Record<'tensorflow-gpu' | 'tensorflow', string> = {
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  tensorflow: '@tensorflow/tfjs-node',
};

function tryNative(name: 'tensorflow-gpu' | 'tensorflow', nativeDir: string): BackendAttempt {
  const pkg = NATIVE_PACKAGE[name];
  // The user's folder first, then node_modules beside the bundle (dist/..).
  const places = [join(nativeDir, 'node_modules'), join(__dirname, '..', 'node_modules')];
  const where = places.find((p) => existsSync(join(p, pkg, 'package.json')));
  if (!where) {
    return {
      name, available: false,
      detail: `${pkg} is not installed (looked in ${join(nativeDir, 'node_modules')}); install it with \`grassmann-lens install-gpu${name === 'tensorflow' ? ' --cpu' : ''}\``,
    };
  }
  try {
    // Registers the 'tensorflow' backend in tfjs-core's global engine, shared by every copy of tfjs-core.
    createRequire(join(where, 'noop.js'))(pkg);
  } catch (e) {
    return { name, available: false, detail: `${pkg} is installed but failed to load: ${String((e as Error).message).split('\n')[0]}` };
  }
  if (!tf.findBackend('tensorflow')) {
    return { name, available: false, detail: `${pkg} loaded but registered no 'tensorflow' backend (version mismatch with tfjs-core ${tf.version_core}?)` };
  }
  return { name, available: true, detail: `${pkg} loaded` };
}

async function activate(tfName: string): Promise<string | undefined> {
  try {
    const ok = await tf.setBackend(tfName);
    await tf.ready();
    return ok ? undefined : `tf.setBackend('${tfName}') returned false`;
  } catch (e) {
    return String((e as Error)?.message ?? e).split('\n')[0];
  }
}

/** Selects and initialises the backend; never throws: the CPU backend always works. */
export async function initBackend(opts: BackendOptions): Promise<BackendReport> {
  const preference = opts.preference ?? 'auto';
  const nativeDir = opts.nativeModulesDir || defaultNativeModulesDir();
  const order: BackendName[] = preference === 'auto' ? [...BACKEND_NAMES] : [preference, ...BACKEND_NAMES.filter((b) => b !== preference && BACKEND_NAMES.indexOf(b) > BACKEND_NAMES.indexOf(preference))];
  const attempts: BackendAttempt[] = [];
  for (const name of order) {
    let attempt: BackendAttempt;
    if (name === 'tensorflow-gpu' || name === 'tensorflow') {
      attempt = tryNative(name, nativeDir);
      if (attempt.available) {
        const failure = await activate('tensorflow');
        if (failure) attempt = { name, available: false, detail: `${NATIVE_PACKAGE[name]} failed to initialise: ${failure}` };
      }
    } else if (name === 'wasm') {
      // Multi-threaded XNNPACK when the runtime allows it, else one thread (src/model/wasmThreads.ts).
      try {
        const wasm = await initWasmBackend(opts.wasmDir, defaultWasmThreads());
        registerWasmTransposedMatMul();
        attempt = { name, available: true, detail: wasm.detail };
      } catch (e) {
        attempt = { name, available: false, detail: `WebAssembly backend failed to start: ${String((e as Error)?.message ?? e).split('\n')[0]}` };
      }
    } else {
      const failure = await activate('cpu');
      attempt = failure ? { name, available: false, detail: failure } : { name, available: true, detail: `plain JavaScript kernels, tfjs-backend-cpu ${version_cpu} (slowest)` };
    }
    attempts.push(attempt);
    if (attempt.available) {
      const skipped = attempts.filter((a) => !a.available);
      const reason = preference !== 'auto' && name === preference
        ? `${name} was requested`
        : skipped.length
          ? `${name}: ${skipped.map((a) => `${a.name} unavailable (${a.detail})`).join('; ')}`
          : `${name} is the fastest backend available`;
      return { active: name, reason, attempts, threads: name === 'wasm' ? getThreadsCount() : 1 };
    }
  }
  // Unreachable in practice: the CPU backend is pure JavaScript.
  throw new Error(`no TensorFlow.js backend could be initialised: ${attempts.map((a) => `${a.name}: ${a.detail}`).join('; ')}`);
}

