/**
 * One request protocol for every webview, generic over a view's typed map (./editor.ts,
 * ./compare.ts, ./prune.ts): the view sends requests (each with params, an answer and what it
 * streams meanwhile) and commands (no answer); the host sends answers, partial results, progress,
 * errors, and notifications (unasked). Requests are paired with their answers here, once, by an id
 * the view's client allocates; neither side handles ids itself.
 *
 * Both ends are transport-free (a `post` function and a message source), so they are unit-tested
 * against each other without VS Code or a DOM (test/unit/protocol.test.ts). The host treats every
 * message as input: an unknown kind, method or command, or a malformed id, is dropped (reported
 * through `onInvalid`), never dispatched.
 */

/** A view's messages: what it asks, what it tells, and what the host tells it unasked. */
export interface Protocol {
  requests: Record<string, { params: unknown; answer: unknown; partial?: unknown }>;
  commands: Record<string, unknown>;
  notifications: Record<string, unknown>;
}

export interface ProgressNote {
  done: number;
  total: number;
  message?: string;
}

type Keys<T> = keyof T & string;
export type RequestName<P extends Protocol> = Keys<P['requests']>;
export type Params<P extends Protocol, M extends RequestName<P>> = P['requests'][M]['params'];
export type Answer<P extends Protocol, M extends RequestName<P>> = P['requests'][M]['answer'];
export type PartialOf<P extends Protocol, M extends RequestName<P>> = P['requests'][M] extends { partial: infer D } ? D : never;

/** view -> host */
export type ViewToHost<P extends Protocol> =
  | { [M in RequestName<P>]: { kind: 'request'; id: number; method: M; params: Params<P, M> } }[RequestName<P>]
  | { kind: 'cancel'; id: number }
  | { [C in Keys<P['commands']>]: { kind: 'command'; name: C; body: P['commands'][C] } }[Keys<P['commands']>];

/** host -> view */
export type HostToView<P extends Protocol> =
  | { kind: 'answer'; id: number; result: unknown }
  | { kind: 'partial'; id: number; data: unknown }
  | { kind: 'progress'; id: number; progress: ProgressNote }
  | { kind: 'error'; id: number; message: string; cancelled: boolean }
  | { [N in Keys<P['notifications']>]: { kind: 'notify'; name: N; body: P['notifications'][N] } }[Keys<P['notifications']>];

/** Where one end's messages come from: subscribe, get a handle to stop. */
export type MessageSource = (handler: (message: unknown) => void) => { dispose(): void };

// ---------------------------------------------------------------------------------------------
// host side
// ---------------------------------------------------------------------------------------------

/** What a request handler gets besides its params. */
export interface RequestContext<D> {
  /** Aborted when the view cancels the request, a newer one of the same method arrives, or the host is disposed. */
  signal: AbortSignal;
  partial(data: D): void;
  progress(p: ProgressNote): void;
}

export type RequestHandlers<P extends Protocol> = {
  [M in RequestName<P>]: (params: Params<P, M>, ctx: RequestContext<PartialOf<P, M>>) => Promise<Answer<P, M>>;
};
export type CommandHandlers<P extends Protocol> = {
  [C in Keys<P['commands']>]: (body: P['commands'][C]) => void | Promise<void>;
};

export interface ViewHostOptions<P extends Protocol> {
  requests: RequestHandlers<P>;
  commands: CommandHandlers<P>;
  /** The text of a failed request (and whether it was a cancellation); the default is the error's message. */
  describeError?(method: RequestName<P>, error: unknown, signal: AbortSignal): { message: string; cancelled: boolean };
  /** A message that was dropped, and why. */
  onInvalid?(problem: string): void;
}

const own = (o: object, key: unknown): boolean => typeof key === 'string' && Object.prototype.hasOwnProperty.call(o, key);
const isId = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) > 0;

/** The host's end: dispatches the view's requests and commands to handlers, sends the answers. */
export class ViewHost<P extends Protocol> {
  /** The request of each method in progress: a newer one of the method supersedes it. */
  private readonly running = new Map<string, { id: number; abort: AbortController }>();
  private readonly subscription: { dispose(): void };
  private disposed = false;

  constructor(private readonly post: (message: HostToView<P>) => void, source: MessageSource, private readonly options: ViewHostOptions<P>) {
    this.subscription = source((m) => void this.receive(m));
  }

  notify<N extends Keys<P['notifications']>>(name: N, body: P['notifications'][N]): void {
    this.send({ kind: 'notify', name, body } as HostToView<P>);
  }

  /** Aborts every request in progress (their views get a cancelled error). */
  cancelAll(): void {
    for (const r of this.running.values()) r.abort.abort();
    this.running.clear();
  }

  /** Whether a request of `method` is in progress. */
  busy(method: RequestName<P>): boolean {
    return this.running.has(method);
  }

  dispose(): void {
    this.cancelAll();
    this.disposed = true;
    this.subscription.dispose();
  }

  private send(message: HostToView<P>): void {
    if (!this.disposed) this.post(message);
  }

  private async receive(raw: unknown): Promise<void> {
    if (typeof raw !== 'object' || raw === null) return this.options.onInvalid?.('a message that is not an object');
    const m = raw as Record<string, unknown>;
    if (m.kind === 'command') {
      if (!own(this.options.commands, m.name)) return this.options.onInvalid?.(`unknown command ${JSON.stringify(m.name)}`);
      try {
        await (this.options.commands as Record<string, (b: unknown) => void | Promise<void>>)[m.name as string](m.body);
      } catch (e) {
        this.options.onInvalid?.(`command ${m.name as string} failed: ${e instanceof Error ? e.message : String(e)}`);
      }
      return;
    }
    if (m.kind === 'cancel') {
      for (const [method, r] of this.running) if (r.id === m.id) {
        r.abort.abort();
        this.running.delete(method);
      }
      return;
    }
    if (m.kind !== 'request') return this.options.onInvalid?.(`unknown message kind ${JSON.stringify(m.kind)}`);
    if (!isId(m.id)) return this.options.onInvalid?.('a request without a valid id');
    if (!own(this.options.requests, m.method)) {
      this.send({ kind: 'error', id: m.id, message: `unknown request ${JSON.stringify(m.method)}`, cancelled: false });
      return;
    }
    const method = m.method as RequestName<P>;
    const id = m.id;
    this.running.get(method)?.abort.abort();
    const abort = new AbortController();
    this.running.set(method, { id, abort });
    const handler = (this.options.requests as Record<string, (p: unknown, c: RequestContext<unknown>) => Promise<unknown>>)[method];
    const live = (): boolean => !abort.signal.aborted;
    try {
      const result = await handler(m.params, {
        signal: abort.signal,
        partial: (data) => live() && this.send({ kind: 'partial', id, data }),
        progress: (progress) => live() && this.send({ kind: 'progress', id, progress }),
      });
      // An answer that arrives after the request was cancelled or superseded is dropped.
      if (live()) this.send({ kind: 'answer', id, result });
      else this.send({ kind: 'error', id, message: 'cancelled', cancelled: true });
    } catch (e) {
      const described = this.options.describeError?.(method, e, abort.signal)
        ?? { message: e instanceof Error ? e.message : String(e), cancelled: abort.signal.aborted };
      this.send({ kind: 'error', id, message: described.cancelled ? 'cancelled' : described.message, cancelled: described.cancelled || abort.signal.aborted });
    } finally {
      if (this.running.get(method)?.abort === abort) this.running.delete(method);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// view side
// ---------------------------------------------------------------------------------------------

/** A request that failed: its message, and whether it was cancelled. */
export class RequestFailed extends Error {
  constructor(message: string, readonly cancelled: boolean) {
    super(message);
    this.name = 'RequestFailed';
  }
}

export interface SentRequest<T> {
  /** The request's id (views keep it to tell a current answer from a stale one). */
  id: number;
  /** Resolves with the answer; rejects with RequestFailed. */
  answer: Promise<T>;
  /** Asks the host to stop; the answer then rejects as cancelled. */
  cancel(): void;
}

interface Waiting {
  resolve(v: unknown): void;
  reject(e: RequestFailed): void;
  partial?(d: unknown): void;
  progress?(p: ProgressNote): void;
}

/** The view's end: sends requests and commands, pairs answers with requests, routes notifications. */
export class ViewClient<P extends Protocol> {
  private lastId = 0;
  private readonly waiting = new Map<number, Waiting>();
  private readonly listeners = new Map<string, ((body: unknown) => void)[]>();

  constructor(private readonly post: (message: ViewToHost<P>) => void, source: MessageSource) {
    source((m) => this.receive(m as HostToView<P>));
  }

  request<M extends RequestName<P>>(
    method: M,
    params: Params<P, M>,
    on: { partial?(data: PartialOf<P, M>): void; progress?(p: ProgressNote): void } = {},
  ): SentRequest<Answer<P, M>> {
    const id = ++this.lastId;
    const answer = new Promise<Answer<P, M>>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject, partial: on.partial as ((d: unknown) => void) | undefined, progress: on.progress });
    });
    this.post({ kind: 'request', id, method, params } as ViewToHost<P>);
    return { id, answer, cancel: () => this.cancel(id) };
  }

  /** Asks the host to stop request `id` (its answer then rejects as cancelled); nothing if it has ended. */
  cancel(id: number): void {
    if (this.waiting.has(id)) this.post({ kind: 'cancel', id });
  }

  send<C extends Keys<P['commands']>>(name: C, body: P['commands'][C]): void {
    this.post({ kind: 'command', name, body } as ViewToHost<P>);
  }

  on<N extends Keys<P['notifications']>>(name: N, handler: (body: P['notifications'][N]) => void): void {
    const list = this.listeners.get(name) ?? [];
    list.push(handler as (body: unknown) => void);
    this.listeners.set(name, list);
  }

  private receive(m: HostToView<P>): void {
    if (typeof m !== 'object' || m === null) return;
    if (m.kind === 'notify') {
      for (const handler of this.listeners.get(m.name) ?? []) handler(m.body);
      return;
    }
    const w = this.waiting.get(m.id);
    if (!w) return;
    switch (m.kind) {
      case 'partial':
        w.partial?.(m.data);
        return;
      case 'progress':
        w.progress?.(m.progress);
        return;
      case 'answer':
        this.waiting.delete(m.id);
        w.resolve(m.result);
        return;
      case 'error':
        this.waiting.delete(m.id);
        w.reject(new RequestFailed(m.message, m.cancelled));
        return;
    }
  }
}
