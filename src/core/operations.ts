/**
 * The core as a set of async methods with JSON-able params and results: what the compute worker
 * serves to the extension host. Each method is one call into the modules above.
 */
import { initBackend, type BackendReport } from '../model/backend';
import type { WorkerOptions, Progress } from '../worker/protocol';
import { inspectCheckpoint } from './inspect';
import { runText, type RunParams } from './run';
import { evaluateFile, type EvalParams } from './evaluate';

export interface Cancellation {
  readonly cancelled: boolean;
  progress(p: Progress): void;
}

/** Initialises the TensorFlow.js backend for this thread. */
export function startBackend(opts: WorkerOptions): Promise<BackendReport> {
  return initBackend({ preference: opts.backend, wasmDir: opts.wasmDir, nativeModulesDir: opts.nativeModulesDir });
}

export function createOperations(options: WorkerOptions) {
  const backend = startBackend(options);
  return {
    backend: (_: Record<string, never>, _c?: Cancellation) => backend,
    inspect: (p: { path: string; config?: string }, _c?: Cancellation) => inspectCheckpoint(p.path, { config: p.config }),
    run: async (p: RunParams & { checkpoint: string }, _c?: Cancellation) => runText(p.checkpoint, { ...p, backend: await backend }),
    eval: async (p: EvalParams & { checkpoint: string }, _c?: Cancellation) => evaluateFile(p.checkpoint, { ...p, backend: await backend }),
  };
}

export type ComputeMethods = ReturnType<typeof createOperations>;
