/**
 * The core as a set of async methods with JSON-able params and results: what the compute worker
 * serves to the extension host. Each method is one call into the modules above.
 */
import { initBackend, type BackendReport } from '../model/backend';
import type { WorkerOptions } from './protocol';
import type { Cancellation } from '../core/cancellation';
import { inspectCheckpoint } from '../core/inspect';
import { draftArchitecture } from '../core/describeArch';
import { runText, type RunParams } from '../core/run';
import { evaluateFile, type EvalParams } from '../core/evaluate';
import { distancesOfText, featuresOfText, type DistancesParams, type FeaturesParams } from '../core/features';
import { compareCheckpoints, driftOfCheckpoints, type CompareParams, type DriftParams } from '../core/drift';
import { compareOnText, type CompareTextParams } from '../core/compareText';
import { AnalysisCache, type ModelRef, type TextRef } from '../core/analysis';
import type { GrassmannMetric } from '../geometry/angles';
import { relevanceOfText, type RelevanceParams } from '../core/relevance';
import { pruneSweep, type PruneParams } from '../pruning/sweep';
import { TextAnalyses, type TextAnalysisParams } from '../core/textAnalysis';
import { cachedTokenizers } from '../tokenizer';
import { catalogueFiles } from '../core/catalogue';

export type { Cancellation } from '../core/cancellation';

/** Initialises the TensorFlow.js backend for this thread. */
export function startBackend(opts: WorkerOptions): Promise<BackendReport> {
  return initBackend({ preference: opts.backend, wasmDir: opts.wasmDir, nativeModulesDir: opts.nativeModulesDir });
}

export function createOperations(options: WorkerOptions) {
  const backend = startBackend(options);
  // The checkpoint editor's models and texts, kept between requests (core/analysis.ts).
  const analyses = new AnalysisCache();
  // Text editors' hovers and colours (core/textAnalysis.ts), on the same opened models.
  const textAnalyses = new TextAnalyses(analyses);
  // Every operation that opens a model takes it from the cache (a repeated request reads no
  // weights; `forget` drops a file that changed on disk), and stops between the blocks of its
  // forward and backward passes when cancelled (the worker turns its event loop there).
  const sessions = analyses.provider;
  return {
    backend: (_: Record<string, never>, _c?: Cancellation) => backend,
    /** Checkpoint files header-only: model or not, architecture, saved epoch / step, size, mtime (at most 500 paths). */
    catalogue: (p: { paths: string[]; arch?: string }, _c?: Cancellation) => catalogueFiles(p.paths, { arch: p.arch }),
    inspect: (p: { path: string; config?: string; arch?: string }, _c?: Cancellation) => inspectCheckpoint(p.path, { config: p.config, arch: p.arch }),
    /** describe-arch's draft (the caller writes the file): headers only. */
    draftArchitecture: (p: { checkpoint: string; config?: string }, _c?: Cancellation) => draftArchitecture(p.checkpoint, { config: p.config }),
    run: async (p: RunParams & { checkpoint: string }, c?: Cancellation) => runText(p.checkpoint, { ...p, backend: await backend }, c, sessions),
    eval: async (p: EvalParams & { checkpoint: string }, c?: Cancellation) => evaluateFile(p.checkpoint, { ...p, backend: await backend }, c, sessions),
    features: async (p: FeaturesParams & { checkpoint: string }, c?: Cancellation) => featuresOfText(p.checkpoint, { ...p, backend: await backend }, c, sessions),
    distances: async (p: DistancesParams & { checkpoint: string }, c?: Cancellation) => distancesOfText(p.checkpoint, { ...p, backend: await backend }, c, sessions),
    drift: (p: DriftParams, c?: Cancellation) => driftOfCheckpoints(p, c),
    compare: (p: CompareParams, _c?: Cancellation) => compareCheckpoints(p),
    compareText: async (p: CompareTextParams & { a: string; b: string }, c?: Cancellation) => compareOnText(p.a, p.b, { ...p, backend: await backend }, c, sessions),
    relevance: async (p: RelevanceParams & { checkpoint: string }, c?: Cancellation) => relevanceOfText(p.checkpoint, { ...p, backend: await backend }, c, sessions),
    prune: async (p: PruneParams, c?: Cancellation) => pruneSweep({ ...p, backend: await backend }, c, sessions),
    // The checkpoint editor (cached sessions and forward passes):
    modelReport: (p: ModelRef, _c?: Cancellation) => analyses.inspect(p),
    tensor: (p: ModelRef & { name: string }, c?: Cancellation) => backend.then(() => analyses.tensor(p, c)),
    analyze: (p: TextRef, c?: Cancellation) => backend.then(() => analyses.analyze(p, c)),
    planes: (p: TextRef & { layer: number; offset: number }, c?: Cancellation) => backend.then(() => analyses.planes(p, c)),
    planeDistances: (p: TextRef & { layer: number; offset: number; metric: GrassmannMetric }, c?: Cancellation) => backend.then(() => analyses.distances(p, c)),
    nearest: (p: TextRef & { layer: number; offset: number; position: number; k: number; metric: GrassmannMetric }, c?: Cancellation) =>
      backend.then(() => analyses.nearest(p, c)),
    forget: (p: { path: string }, _c?: Cancellation) => analyses.forget(p.path),
    /** The tokenizer `p` runs with (found or chosen), or an InputError saying where it looked. */
    tokenizerInfo: async (p: ModelRef, _c?: Cancellation) => {
      const { path, description } = (await analyses.session(p)).tokenizer;
      return { path, description };
    },
    /** The Hugging Face cache's tokenizers, for Choose Tokenizer…. */
    cachedTokenizers: (_: Record<string, never>, _c?: Cancellation) => Promise.resolve(cachedTokenizers()),
    textAnalysis: (p: TextAnalysisParams, c?: Cancellation) => backend.then(() => textAnalyses.analyze(p, c)),
    /** Whether the model of `p` is open with its weights loaded in this worker (tests, the bench). */
    cachedModel: (p: ModelRef, _c?: Cancellation) => analyses.loaded(p),
  };
}

export type ComputeMethods = ReturnType<typeof createOperations>;
