/**
 * The caller's side of the compute worker: typed request/response with progress and cancellation.
 * Used by the extension host and the bench; the CLI calls the core directly.
 */
import { Worker } from 'node:worker_threads';
import { dirname, join } from 'node:path';
import type { BackendPreference, BackendReport } from '../model/backend';
import type { FromWorker, MethodName, ParamsOf, Progress, ResultOf, SerializedError, WorkerOptions } from './protocol';

export interface RequestOptions {
  onProgress?: (p: Progress) => void;
  /** Pieces of the result the operation streams ahead of the whole (Cancellation.partial). */
  onPartial?: (data: unknown) => void;
  /** Aborting sends a cancel to the worker; the promise then rejects with a CancelledError. */
  signal?: AbortSignal;
  /**
   * After an abort, reject only once the operation has stopped in the worker (it has cleaned up
   * after itself: a pruning sweep removes its partial output), not at once.
   */
  untilStopped?: boolean;
}

export class CancelledError extends Error {
  constructor() {
    super('cancelled');
    this.name = 'CancelledError';
  }
}

/** Rebuilds an error thrown in the worker so `name`, `file` and `problem` survive the thread hop. */
function revive(e: SerializedError): Error {
  const err = new Error(e.message) as Error & { file?: string; problem?: string };
  err.name = e.name;
  if (e.file !== undefined) err.file = e.file;
  if (e.problem !== undefined) err.problem = e.problem;
  if (e.stack) err.stack = e.stack;
  return err;
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  onProgress?: (p: Progress) => void;
  onPartial?: (data: unknown) => void;
  /** Cancelled with untilStopped: rejects with CancelledError when the worker answers. */
  stopping?: boolean;
}

export class ComputeClient {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private exited: Error | undefined;

  constructor(opts: { workerPath: string; backend?: BackendPreference; nativeModulesDir?: string; wasmDir?: string }) {
    const data: WorkerOptions = {
      backend: opts.backend ?? 'auto',
      wasmDir: opts.wasmDir ?? dirname(opts.workerPath),
      nativeModulesDir: opts.nativeModulesDir,
    };
    this.worker = new Worker(opts.workerPath, { workerData: data });
    this.worker.on('message', (m: FromWorker) => this.onMessage(m));
    this.worker.on('error', (e) => {
      // A file that still exhausts the worker's heap ends this worker only (not the host); the
      // caller (src/extension/computeService.ts) starts a new one for the next request.
      const oom = (e as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY';
      this.failAll(oom ? new Error(`the compute worker ran out of memory (${e.message}); it is restarted for the next request`) : e);
    });
    this.worker.on('exit', (code) => this.failAll(new Error(`compute worker exited with code ${code}`)));
  }

  /** The default worker bundle beside this one (dist/worker.js). */
  static defaultWorkerPath(): string {
    return join(__dirname, 'worker.js');
  }

  private onMessage(m: FromWorker): void {
    if (m.kind === 'ready') return;
    const p = this.pending.get(m.id);
    if (!p) return;
    if (m.kind === 'progress') {
      p.onProgress?.(m.progress);
      return;
    }
    if (m.kind === 'partial') {
      p.onPartial?.(m.data);
      return;
    }
    this.pending.delete(m.id);
    if (p.stopping) p.reject(new CancelledError());
    else if (m.kind === 'response') p.resolve(m.result);
    else p.reject(revive(m.error));
  }

  /** False once the worker has exited (crashed, ran out of memory, or was disposed). */
  get alive(): boolean {
    return this.exited === undefined;
  }

  private failAll(e: Error): void {
    this.exited ??= e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  request<M extends MethodName>(method: M, params: ParamsOf<M>, opts: RequestOptions = {}): Promise<ResultOf<M>> {
    if (this.exited) return Promise.reject(this.exited);
    const id = this.nextId++;
    return new Promise<ResultOf<M>>((resolve, reject) => {
      if (opts.signal?.aborted) return reject(new CancelledError());
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, onProgress: opts.onProgress, onPartial: opts.onPartial });
      opts.signal?.addEventListener('abort', () => {
        const pending = this.pending.get(id);
        if (!pending) return;
        this.worker.postMessage({ kind: 'cancel', id });
        if (opts.untilStopped) {
          pending.stopping = true; // rejected when the worker answers
          return;
        }
        this.pending.delete(id);
        reject(new CancelledError());
      }, { once: true });
      this.worker.postMessage({ kind: 'request', id, method, params });
    });
  }

  backend(): Promise<BackendReport> {
    return this.request('backend', {});
  }

  inspect(path: string, opts: { config?: string; arch?: string } = {}, req?: RequestOptions): Promise<ResultOf<'inspect'>> {
    return this.request('inspect', { path, ...opts }, req);
  }

  async dispose(): Promise<void> {
    this.exited ??= new Error('compute worker disposed');
    await this.worker.terminate();
  }
}
