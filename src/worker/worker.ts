/**
 * The compute thread: hosts the core (checkpoint readers, model runtime) so that the caller's
 * event loop — the VS Code extension host, shared by every extension — never waits on compute.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createOperations, type Cancellation } from '../core/operations';
import type { FromWorker, ToWorker, WorkerOptions } from './protocol';

if (!parentPort) throw new Error('worker.ts must run in a worker thread');
const port = parentPort;
const options = workerData as WorkerOptions;
const operations = createOperations(options);
const cancelled = new Set<number>();

function post(message: FromWorker): void {
  port.postMessage(message);
}

port.on('message', (message: ToWorker) => {
  if (message.kind === 'cancel') {
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
  const fn = operations[method] as (p: unknown, c: Cancellation) => Promise<unknown>;
  fn(params, cancellation).then(
    (result) => post({ kind: 'response', id, result }),
    (e: unknown) => {
      const err = e instanceof Error ? e : new Error(String(e));
      const { file, problem } = err as Error & { file?: string; problem?: string };
      post({ kind: 'error', id, error: { name: err.name, message: err.message, file, problem, stack: err.stack } });
    },
  ).finally(() => cancelled.delete(id));
});
post({ kind: 'ready' });
