/**
 * The compute thread: hosts the core (checkpoint readers, model runtime) so that the caller's
 * event loop — the VS Code extension host, shared by every extension — never waits on compute.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createOperations, type Cancellation } from './operations';
import type { FromWorker, SerializedError, ToWorker, WorkerOptions } from './protocol';

if (!parentPort) throw new Error('worker.ts must run in a worker thread');
const port = parentPort;
const options = workerData as WorkerOptions;
const operations = createOperations(options);
const cancelled = new Set<number>();

function post(message: FromWorker): void {
  port.postMessage(message);
}

/** An error as the caller sees it (name, message, file and problem survive; bounded). */
function serialize(e: unknown): SerializedError {
  const err = e instanceof Error ? e : new Error(String(e));
  const { file, problem } = err as Error & { file?: unknown; problem?: unknown };
  const message = typeof err.message === 'string' ? err.message : String(err.message);
  return {
    name: typeof err.name === 'string' ? err.name : 'Error',
    // A message can quote a 20 MB name: the caller gets at most 64 KiB of it.
    message: message.length > 65536 ? `${message.slice(0, 65536)}… (cut)` : message,
    file: typeof file === 'string' ? file : undefined,
    problem: typeof problem === 'string' ? problem.slice(0, 65536) : undefined,
    stack: typeof err.stack === 'string' ? err.stack.slice(0, 16384) : undefined,
  };
}

/**
 * Answers one request with an error. Whatever a reader throws (an InputError, a RangeError from a
 * stack overflow, a TypeError from a bug) ends that request only: the worker serves the next one.
 */
function postError(id: number, e: unknown): void {
  try {
    post({ kind: 'error', id, error: serialize(e) });
  } catch {
    post({ kind: 'error', id, error: { name: 'Error', message: 'the compute worker could not report its error' } });
  }
}

function postResult(id: number, result: unknown): void {
  try {
    post({ kind: 'response', id, result });
  } catch (e) {
    // A result that cannot be cloned (a bug): an error for this request, not a dead worker.
    postError(id, e);
  }
}

port.on('message', (message: ToWorker) => {
  if (message?.kind === 'cancel') {
    cancelled.add(message.id);
    return;
  }
  const { id, method, params } = message;
  const cancellation: Cancellation = {
    get cancelled() {
      return cancelled.has(id);
    },
    progress: (progress) => post({ kind: 'progress', id, progress }),
    partial: (data) => post({ kind: 'partial', id, data }),
  };
  // Started inside a promise: an unknown method or a synchronous throw rejects like any failure.
  new Promise<unknown>((resolve) => {
    const fn = Object.prototype.hasOwnProperty.call(operations, method)
      ? (operations[method] as (p: unknown, c: Cancellation) => Promise<unknown>)
      : undefined;
    if (typeof fn !== 'function') throw new Error(`unknown compute method '${String(method).slice(0, 100)}'`);
    resolve(fn(params, cancellation));
  }).then(
    (result) => postResult(id, result),
    (e: unknown) => postError(id, e),
  ).finally(() => cancelled.delete(id));
});

// A stray rejection or throw outside any request must not take the thread (and every open view) down.
process.on('unhandledRejection', (e) => console.error('grassmann-lens compute worker: unhandled rejection:', e));
process.on('uncaughtException', (e) => console.error('grassmann-lens compute worker: uncaught exception:', e));
post({ kind: 'ready' });
