/** How core operations report progress, stream partial results, and notice that their caller gave up. */

export interface Progress {
  done: number;
  total: number;
  message?: string;
}

export interface Cancellation {
  readonly cancelled: boolean;
  progress(p: Progress): void;
  /** A piece of the result, sent ahead of the whole (streamed views paint progressively). */
  partial?(data: unknown): void;
}

/** Thrown by an operation that stopped because its caller cancelled it. */
export class OperationCancelled extends Error {
  constructor() {
    super('cancelled');
    this.name = 'OperationCancelled';
  }
}

export function throwIfCancelled(c: Cancellation | undefined): void {
  if (c?.cancelled) throw new OperationCancelled();
}

/**
 * One turn of the event loop. A worker thread runs one request's JavaScript at a time: a cancel
 * message (or the next request) is only handled while the running one awaits a macrotask such
 * as this; an awaited tensor read (data()) on the cpu and wasm backends is a microtask and is not one.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * What a long computation awaits between its steps (the model between blocks: ForwardOptions.pause):
 * a turn of the event loop, then OperationCancelled if the caller gave up. None without a
 * cancellation (the CLI): the computation then runs without yielding, as one synchronous pass.
 */
export function pauseFor(c: Cancellation | undefined): (() => Promise<void>) | undefined {
  if (!c) return undefined;
  return async () => {
    throwIfCancelled(c);
    await yieldToEventLoop();
    throwIfCancelled(c);
  };
}
