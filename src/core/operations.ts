/**
 * The core as a set of async methods with JSON-able params and results: what the compute worker
 * serves to the extension host. Each method is one call into the modules above.
 */
import { initBackend, type BackendReport } from '../model/backend';
import type { WorkerOptions } from '../worker/protocol';
import type { Cancellation } from './cancellation';
import { inspectCheckpoint } from './inspect';
import { runText, type RunParams } from './run';
import { evaluateFile, type EvalParams } from './evaluate';
import { distancesOfText, featuresOfText, type DistancesParams, type FeaturesParams } from './features';
import { compareCheckpoints, driftOfCheckpoints, type CompareParams, type DriftParams } from './drift';

export type { Cancellation } from './cancellation';

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
    features: async (p: FeaturesParams & { checkpoint: string }, _c?: Cancellation) => featuresOfText(p.checkpoint, { ...p, backend: await backend }),
    distances: async (p: DistancesParams & { checkpoint: string }, _c?: Cancellation) => distancesOfText(p.checkpoint, { ...p, backend: await backend }),
    drift: (p: DriftParams, c?: Cancellation) => driftOfCheckpoints(p, c),
    compare: (p: CompareParams, _c?: Cancellation) => compareCheckpoints(p),
  };
}

export type ComputeMethods = ReturnType<typeof createOperations>;
