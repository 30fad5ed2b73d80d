/**
 * The one webview protocol (src/protocol/rpc.ts): a ViewHost and a ViewClient joined by an
 * in-memory channel that delivers asynchronously, as postMessage does.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RequestFailed, ViewClient, ViewHost, type MessageSource, type Protocol, type RequestContext } from '../../src/protocol/rpc';

interface TestProtocol extends Protocol {
  requests: {
    square: { params: { x: number }; answer: number };
    count: { params: { to: number }; answer: string; partial: number };
    wait: { params: { ms: number }; answer: 'done' };
    fail: { params: Record<string, never>; answer: null };
  };
  commands: { hello: { name: string } };
  notifications: { note: { text: string } };
}

function channel(): { toHost: (m: unknown) => void; toView: (m: unknown) => void; hostSource: MessageSource; viewSource: MessageSource; sent: unknown[] } {
  const hostHandlers = new Set<(m: unknown) => void>();
  const viewHandlers = new Set<(m: unknown) => void>();
  const sent: unknown[] = [];
  const source = (set: Set<(m: unknown) => void>): MessageSource => (h) => {
    set.add(h);
    return { dispose: () => set.delete(h) };
  };
  return {
    toHost: (m) => setImmediate(() => hostHandlers.forEach((h) => h(structuredClone(m)))),
    toView: (m) => {
      sent.push(m);
      setImmediate(() => viewHandlers.forEach((h) => h(structuredClone(m))));
    },
    hostSource: source(hostHandlers),
    viewSource: source(viewHandlers),
    sent,
  };
}

function pair(): { host: ViewHost<TestProtocol>; client: ViewClient<TestProtocol>; log: string[]; invalid: string[]; signals: AbortSignal[]; c: ReturnType<typeof channel> } {
  const c = channel();
  const log: string[] = [];
  const invalid: string[] = [];
  const signals: AbortSignal[] = [];
  const host = new ViewHost<TestProtocol>(c.toView, c.hostSource, {
    requests: {
      square: async ({ x }) => x * x,
      count: async ({ to }, ctx: RequestContext<number>) => {
        for (let i = 1; i <= to; i++) {
          ctx.partial(i);
          ctx.progress({ done: i, total: to });
          await new Promise((r) => setImmediate(r));
        }
        return `counted to ${to}`;
      },
      wait: ({ ms }, ctx) => new Promise((resolve, reject) => {
        signals.push(ctx.signal);
        const timer = setTimeout(() => resolve('done'), ms);
        ctx.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          const e = new Error('stopped');
          e.name = 'CancelledError';
          reject(e);
        });
      }),
      fail: async () => {
        throw new Error('the checkpoint is truncated');
      },
    },
    commands: { hello: ({ name }) => void log.push(`hello ${name}`) },
    onInvalid: (problem) => invalid.push(problem),
  });
  const client = new ViewClient<TestProtocol>(c.toHost, c.viewSource);
  return { host, client, log, invalid, signals, c };
}

const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 20));

describe('webview protocol', () => {
  test('a request gets its answer; partial results and progress arrive before it, in order', async () => {
    const { client } = pair();
    assert.equal(await client.request('square', { x: 7 }).answer, 49);
    const pieces: number[] = [];
    const progress: string[] = [];
    const answer = await client.request('count', { to: 3 }, { partial: (d) => pieces.push(d), progress: (p) => progress.push(`${p.done}/${p.total}`) }).answer;
    assert.equal(answer, 'counted to 3');
    assert.deepEqual(pieces, [1, 2, 3]);
    assert.deepEqual(progress, ['1/3', '2/3', '3/3']);
  });

  test('ids are the client\'s own, and two methods in flight each get their own answer', async () => {
    const { client } = pair();
    const a = client.request('wait', { ms: 30 });
    const b = client.request('square', { x: 3 });
    assert.deepEqual([a.id, b.id], [1, 2]);
    assert.deepEqual(await Promise.all([a.answer, b.answer]), ['done', 9]);
  });

  test('a newer request of a method supersedes the running one: it is aborted and its answer rejects as cancelled', async () => {
    const { client, signals } = pair();
    const first = client.request('wait', { ms: 5_000 });
    await settle();
    const second = client.request('wait', { ms: 10 });
    await assert.rejects(first.answer, (e: unknown) => e instanceof RequestFailed && e.cancelled && e.message === 'cancelled');
    assert.equal(await second.answer, 'done');
    assert.equal(signals[0].aborted, true);
    assert.equal(signals[1].aborted, false);
  });

  test('cancel stops the host\'s work', async () => {
    const { client, signals } = pair();
    const started = Date.now();
    const r = client.request('wait', { ms: 5_000 });
    await settle();
    r.cancel();
    await assert.rejects(r.answer, (e: unknown) => e instanceof RequestFailed && e.cancelled);
    assert.equal(signals[0].aborted, true);
    assert.ok(Date.now() - started < 2_000);
    // an ended request is not cancelled again
    const { client: c2, c } = pair();
    const done = c2.request('square', { x: 2 });
    await done.answer;
    const before = c.sent.length;
    c2.cancel(done.id);
    await settle();
    assert.equal(c.sent.length, before);
  });

  test('a failure reaches the view as its message, not as a cancellation', async () => {
    const { client } = pair();
    await assert.rejects(client.request('fail', {}).answer, (e: unknown) => e instanceof RequestFailed && !e.cancelled && e.message === 'the checkpoint is truncated');
  });

  test('commands reach their handlers; notifications reach every listener', async () => {
    const { host, client, log } = pair();
    client.send('hello', { name: 'view' });
    const notes: string[] = [];
    client.on('note', ({ text }) => notes.push(`a ${text}`));
    client.on('note', ({ text }) => notes.push(`b ${text}`));
    host.notify('note', { text: 'saved' });
    await settle();
    assert.deepEqual(log, ['hello view']);
    assert.deepEqual(notes, ['a saved', 'b saved']);
  });

  test('the host treats messages as input: unknown kinds, methods, commands and bad ids are dropped or refused', async () => {
    const { invalid, c, log } = pair();
    const bad: unknown[] = [
      null,
      'ready',
      { kind: 'shout' },
      { kind: 'command', name: 'constructor', body: {} },
      { kind: 'command', name: '__proto__', body: {} },
      { kind: 'request', id: 0, method: 'square', params: { x: 1 } },
      { kind: 'request', id: 'x', method: 'square', params: { x: 1 } },
      { kind: 'request', id: 1.5, method: 'square', params: { x: 1 } },
    ];
    for (const m of bad) c.toHost(m);
    c.toHost({ kind: 'request', id: 9, method: 'toString', params: {} });
    await settle();
    assert.equal(invalid.length, bad.length, invalid.join('\n'));
    assert.deepEqual(log, []);
    // the unknown method gets an error answer naming it, and nothing ran
    assert.deepEqual(c.sent, [{ kind: 'error', id: 9, message: 'unknown request "toString"', cancelled: false }]);
  });

  test('after dispose the host sends nothing and aborts what runs', async () => {
    const { host, client, c, signals } = pair();
    const r = client.request('wait', { ms: 5_000 });
    r.answer.catch(() => undefined);
    await settle();
    host.dispose();
    assert.equal(signals[0].aborted, true);
    const before = c.sent.length;
    host.notify('note', { text: 'late' });
    client.request('square', { x: 1 }).answer.catch(() => undefined);
    await settle();
    assert.equal(c.sent.length, before);
  });
});
