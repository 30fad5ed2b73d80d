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
