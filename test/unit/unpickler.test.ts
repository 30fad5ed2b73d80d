import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isInputError } from '../../src/util/errors';
import {
  PickleComplex, PickleSet, PickleTruncatedError, PickleTuple, TorchStorage, TorchTensor, UNPICKLE_LIMITS,
  unpickle, unpickleBudget, type PickleValue, type UnpickleLimits,
} from '../../src/checkpoint/unpickler';
import { PickleWriter } from '../../src/checkpoint/torchWriter';

/**
 * pickle.dumps(obj, protocol=p) for p = 0..5 from CPython 3.11, where
 *   l = [9]
 *   obj = {'int': 7, 'neg': -300, 'big': 2**70, 'negbig': -2**65, 'float': 2.5,
 *          'str': 'h\u00e9llo \u2713', 'bytes': b'\x00\xff', 'none': None, 't': True, 'f': False,
 *          'list': [1, [2, 3]], 'tuple': (1, 2, 3, 4), 'set': {1}, 'fs': frozenset([2]),
 *          'c': complex(1, 2), 'od': OrderedDict([('x', 1)]), 'shared': (l, l)}
 * Protocols 0-1 exercise the text opcodes (INT, LONG, FLOAT, UNICODE, PUT/GET, DICT/LIST/TUPLE)
 * and Python 2 module names; protocol 2 encodes bytes with _codecs.encode; 4-5 use FRAME,
 * MEMOIZE, STACK_GLOBAL, EMPTY_SET/ADDITEMS/FROZENSET.
 */
const PYTHON_PICKLES: readonly string[] = [
  'KGRwMApWaW50CnAxCkk3CnNWbmVnCnAyCkktMzAwCnNWYmlnCnAzCkwxMTgwNTkxNjIwNzE3NDExMzAzNDI0TApzVm5lZ2JpZwpwNApMLTM2ODkzNDg4MTQ3NDE5MTAzMjMyTApzVmZsb2F0CnA1CkYyLjUKc1ZzdHIKcDYKVmjpbGxvIFx1MjcxMwpwNwpzVmJ5dGVzCnA4CmNfY29kZWNzCmVuY29kZQpwOQooVlx1MDAwMP8KcDEwClZsYXRpbjEKcDExCnRwMTIKUnAxMwpzVm5vbmUKcDE0Ck5zVnQKcDE1CkkwMQpzVmYKcDE2CkkwMApzVmxpc3QKcDE3CihscDE4CkkxCmEobHAxOQpJMgphSTMKYWFzVnR1cGxlCnAyMAooSTEKSTIKSTMKSTQKdHAyMQpzVnNldApwMjIKY19fYnVpbHRpbl9fCnNldApwMjMKKChscDI0CkkxCmF0cDI1ClJwMjYKc1ZmcwpwMjcKY19fYnVpbHRpbl9fCmZyb3plbnNldApwMjgKKChscDI5CkkyCmF0cDMwClJwMzEKc1ZjCnAzMgpjX19idWlsdGluX18KY29tcGxleApwMzMKKEYxLjAKRjIuMAp0cDM0ClJwMzUKc1ZvZApwMzYKY2NvbGxlY3Rpb25zCk9yZGVyZWREaWN0CnAzNwoodFJwMzgKVngKcDM5CkkxCnNzVnNoYXJlZApwNDAKKChscDQxCkk5CmFnNDEKdHA0MgpzLg==',
  'fXEAKFgDAAAAaW50cQFLB1gDAAAAbmVncQJK1P7//1gDAAAAYmlncQNMMTE4MDU5MTYyMDcxNzQxMTMwMzQyNEwKWAYAAABuZWdiaWdxBEwtMzY4OTM0ODgxNDc0MTkxMDMyMzJMClgFAAAAZmxvYXRxBUdABAAAAAAAAFgDAAAAc3RycQZYCgAAAGjDqWxsbyDinJNxB1gFAAAAYnl0ZXNxCGNfY29kZWNzCmVuY29kZQpxCShYAwAAAADDv3EKWAYAAABsYXRpbjFxC3RxDFJxDVgEAAAAbm9uZXEOTlgBAAAAdHEPSTAxClgBAAAAZnEQSTAwClgEAAAAbGlzdHERXXESKEsBXXETKEsCSwNlZVgFAAAAdHVwbGVxFChLAUsCSwNLBHRxFVgDAAAAc2V0cRZjX19idWlsdGluX18Kc2V0CnEXKF1xGEsBYXRxGVJxGlgCAAAAZnNxG2NfX2J1aWx0aW5fXwpmcm96ZW5zZXQKcRwoXXEdSwJhdHEeUnEfWAEAAABjcSBjX19idWlsdGluX18KY29tcGxleApxIShHP/AAAAAAAABHQAAAAAAAAAB0cSJScSNYAgAAAG9kcSRjY29sbGVjdGlvbnMKT3JkZXJlZERpY3QKcSUpUnEmWAEAAAB4cSdLAXNYBgAAAHNoYXJlZHEoKF1xKUsJYWgpdHEqdS4=',
  'gAJ9cQAoWAMAAABpbnRxAUsHWAMAAABuZWdxAkrU/v//WAMAAABiaWdxA4oJAAAAAAAAAABAWAYAAABuZWdiaWdxBIoJAAAAAAAAAAD+WAUAAABmbG9hdHEFR0AEAAAAAAAAWAMAAABzdHJxBlgKAAAAaMOpbGxvIOKck3EHWAUAAABieXRlc3EIY19jb2RlY3MKZW5jb2RlCnEJWAMAAAAAw79xClgGAAAAbGF0aW4xcQuGcQxScQ1YBAAAAG5vbmVxDk5YAQAAAHRxD4hYAQAAAGZxEIlYBAAAAGxpc3RxEV1xEihLAV1xEyhLAksDZWVYBQAAAHR1cGxlcRQoSwFLAksDSwR0cRVYAwAAAHNldHEWY19fYnVpbHRpbl9fCnNldApxF11xGEsBYYVxGVJxGlgCAAAAZnNxG2NfX2J1aWx0aW5fXwpmcm96ZW5zZXQKcRxdcR1LAmGFcR5ScR9YAQAAAGNxIGNfX2J1aWx0aW5fXwpjb21wbGV4CnEhRz/wAAAAAAAAR0AAAAAAAAAAhnEiUnEjWAIAAABvZHEkY2NvbGxlY3Rpb25zCk9yZGVyZWREaWN0CnElKVJxJlgBAAAAeHEnSwFzWAYAAABzaGFyZWRxKF1xKUsJYWgphnEqdS4=',
  'gAN9cQAoWAMAAABpbnRxAUsHWAMAAABuZWdxAkrU/v//WAMAAABiaWdxA4oJAAAAAAAAAABAWAYAAABuZWdiaWdxBIoJAAAAAAAAAAD+WAUAAABmbG9hdHEFR0AEAAAAAAAAWAMAAABzdHJxBlgKAAAAaMOpbGxvIOKck3EHWAUAAABieXRlc3EIQwIA/3EJWAQAAABub25lcQpOWAEAAAB0cQuIWAEAAABmcQyJWAQAAABsaXN0cQ1dcQ4oSwFdcQ8oSwJLA2VlWAUAAAB0dXBsZXEQKEsBSwJLA0sEdHERWAMAAABzZXRxEmNidWlsdGlucwpzZXQKcRNdcRRLAWGFcRVScRZYAgAAAGZzcRdjYnVpbHRpbnMKZnJvemVuc2V0CnEYXXEZSwJhhXEaUnEbWAEAAABjcRxjYnVpbHRpbnMKY29tcGxleApxHUc/8AAAAAAAAEdAAAAAAAAAAIZxHlJxH1gCAAAAb2RxIGNjb2xsZWN0aW9ucwpPcmRlcmVkRGljdApxISlScSJYAQAAAHhxI0sBc1gGAAAAc2hhcmVkcSRdcSVLCWFoJYZxJnUu',
  'gASVLgEAAAAAAAB9lCiMA2ludJRLB4wDbmVnlErU/v//jANiaWeUigkAAAAAAAAAAECMBm5lZ2JpZ5SKCQAAAAAAAAAA/owFZmxvYXSUR0AEAAAAAAAAjANzdHKUjApow6lsbG8g4pyTlIwFYnl0ZXOUQwIA/5SMBG5vbmWUTowBdJSIjAFmlImMBGxpc3SUXZQoSwFdlChLAksDZWWMBXR1cGxllChLAUsCSwNLBHSUjANzZXSUj5QoSwGQjAJmc5QoSwKRlIwBY5SMCGJ1aWx0aW5zlIwHY29tcGxleJSTlEc/8AAAAAAAAEdAAAAAAAAAAIaUUpSMAm9klIwLY29sbGVjdGlvbnOUjAtPcmRlcmVkRGljdJSTlClSlIwBeJRLAXOMBnNoYXJlZJRdlEsJYWgjhpR1Lg==',
  'gAWVLgEAAAAAAAB9lCiMA2ludJRLB4wDbmVnlErU/v//jANiaWeUigkAAAAAAAAAAECMBm5lZ2JpZ5SKCQAAAAAAAAAA/owFZmxvYXSUR0AEAAAAAAAAjANzdHKUjApow6lsbG8g4pyTlIwFYnl0ZXOUQwIA/5SMBG5vbmWUTowBdJSIjAFmlImMBGxpc3SUXZQoSwFdlChLAksDZWWMBXR1cGxllChLAUsCSwNLBHSUjANzZXSUj5QoSwGQjAJmc5QoSwKRlIwBY5SMCGJ1aWx0aW5zlIwHY29tcGxleJSTlEc/8AAAAAAAAEdAAAAAAAAAAIaUUpSMAm9klIwLY29sbGVjdGlvbnOUjAtPcmRlcmVkRGljdJSTlClSlIwBeJRLAXOMBnNoYXJlZJRdlEsJYWgjhpR1Lg==',
];

const FILE = 'test.pkl';

function run(bytes: Uint8Array): PickleValue {
  return unpickle(FILE, bytes).value;
}

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(isInputError(e), `expected an InputError, got ${String(e)}`);
    assert.ok((e as Error).message.startsWith(`${FILE}: `), 'the message names the file');
    assert.ok(!(e as Error).message.includes('\n'), 'the message is one line');
    return (e as Error).message;
  }
  assert.fail('expected an error');
}

for (let protocol = 0; protocol < PYTHON_PICKLES.length; protocol++) {
  test(`decodes a CPython protocol-${protocol} pickle of every plain data type`, () => {
    const v = run(Buffer.from(PYTHON_PICKLES[protocol], 'base64'));
    assert.ok(v instanceof Map);
    const d = v;
    assert.equal(d.get('int'), 7);
    assert.equal(d.get('neg'), -300);
    assert.equal(d.get('big'), 2n ** 70n);
    assert.equal(d.get('negbig'), -(2n ** 65n));
    assert.equal(d.get('float'), 2.5);
    assert.equal(d.get('str'), 'h\u00e9llo \u2713');
    assert.deepEqual(d.get('bytes'), new Uint8Array([0, 255]));
    assert.equal(d.get('none'), null);
    assert.equal(d.get('t'), true);
    assert.equal(d.get('f'), false);
    assert.deepEqual(d.get('list'), [1, [2, 3]]);
    assert.deepEqual(d.get('tuple'), new PickleTuple([1, 2, 3, 4]));
    const set = d.get('set');
    assert.ok(set instanceof PickleSet && !set.frozen);
    assert.deepEqual(set.items, [1]);
    const fs = d.get('fs');
    assert.ok(fs instanceof PickleSet && fs.frozen);
    assert.deepEqual(fs.items, [2]);
    assert.deepEqual(d.get('c'), new PickleComplex(1, 2));
    assert.deepEqual(d.get('od'), new Map([['x', 1]]));
    const shared = d.get('shared');
    assert.ok(shared instanceof PickleTuple);
    // The memo preserves identity: both tuple slots are the same list object.
    assert.equal(shared.items[0], shared.items[1]);
    assert.deepEqual(shared.items[0], [9]);
  });
}

test('refuses a non-allowed global nested deep inside data, naming it', () => {
  // {'a': [1, (2, os.system('touch x'))]}
  const p = new PickleWriter().proto(2).emptyDict().unicode('a').emptyList().mark().int(1);
  p.int(2).global('os', 'system').unicode('touch /tmp/x').raw(0x85).reduce().raw(0x86);
  p.appends().setItem().stop();
  const msg = refusal(() => run(p.bytes()));
  assert.match(msg, /refused to load: the pickle references the global 'os\.system', which is not on the allow-list/);
  assert.match(msg, /nothing was executed/);
});

test('refuses a non-allowed global reached through STACK_GLOBAL (protocol 4)', () => {
  const p = new PickleWriter().proto(4);
  p.raw(0x8c, 8).rawBytes(new TextEncoder().encode('builtins'));
  p.raw(0x8c, 4).rawBytes(new TextEncoder().encode('eval'));
  p.raw(0x93).unicode('1+1').raw(0x85).reduce().stop();
  assert.match(refusal(() => run(p.bytes())), /'builtins\.eval'/);
});

test('refuses a global even when it is never called', () => {
  const p = new PickleWriter().proto(2).global('subprocess', 'Popen').stop();
  assert.match(refusal(() => run(p.bytes())), /'subprocess\.Popen'/);
});

test('refuses calling an allow-listed value global and constructing objects with NEWOBJ', () => {
  const call = new PickleWriter().proto(2).global('torch', 'FloatStorage').emptyTuple().reduce().stop();
  assert.match(refusal(() => run(call.bytes())), /'torch\.FloatStorage', which is allowed only as a value/);
  const newobj = new PickleWriter().proto(2).global('torch', 'Tensor').emptyTuple().raw(0x81).stop();
  assert.match(refusal(() => run(newobj.bytes())), /constructs a 'torch\.Tensor' object/);
});

test('refuses BUILD on anything but dicts and attribute-free tensors', () => {
  const p = new PickleWriter().proto(2).emptyList().emptyDict().build().stop();
  assert.match(refusal(() => run(p.bytes())), /sets the state of a list/);
});

test('builds tensors through _rebuild_tensor_v2 and _rebuild_parameter with shared storages', () => {
  const p = new PickleWriter().proto(2);
  p.global('torch._utils', '_rebuild_parameter').mark();
  p.global('torch._utils', '_rebuild_tensor_v2').mark();
  p.mark().unicode('storage').global('torch', 'HalfStorage').unicode('7').unicode('cuda:0').int(12).tuple().binPersId();
  p.int(2).intTuple([2, 3]).intTuple([1, 2]).bool(true).global('collections', 'OrderedDict').emptyTuple().reduce();
  p.tuple().reduce();
  p.bool(true).global('collections', 'OrderedDict').emptyTuple().reduce().tuple().reduce();
  // A second reference to storage '7'.
  p.mark().unicode('storage').global('torch', 'HalfStorage').unicode('7').unicode('cuda:0').int(12).tuple().binPersId();
  p.raw(0x86).stop();
  const { value, storages } = unpickle(FILE, p.bytes());
  assert.ok(value instanceof PickleTuple);
  const [t, s] = value.items;
  assert.ok(t instanceof TorchTensor && s instanceof TorchStorage);
  assert.equal(t.storage, s, 'one storage object per key');
  assert.deepEqual([t.storageOffset, t.shape, t.stride, t.requiresGrad, t.isParameter], [2, [2, 3], [1, 2], true, true]);
  assert.deepEqual([s.key, s.dtype, s.numel, s.location], ['7', 'float16', 12, 'cuda:0']);
  assert.deepEqual([...storages.keys()], ['7']);
});

test('rejects a length field larger than the remaining bytes before allocating', () => {
  // BINUNICODE claiming 4 GiB - 1 bytes, followed by 3 bytes.
  const bytes = new Uint8Array([0x80, 0x02, 0x58, 0xff, 0xff, 0xff, 0xff, 0x61, 0x62, 0x63, 0x2e]);
  assert.match(refusal(() => run(bytes)), /length field of 4294967295 bytes is larger than the 4 bytes that remain/);
  // BINBYTES8 claiming 2^63 bytes.
  const huge = new Uint8Array([0x80, 0x04, 0x8e, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x2e]);
  assert.match(refusal(() => run(huge)), /length field of 9223372036854775808 bytes/);
  // LONG4 with an absurd byte count.
  const long4 = new Uint8Array([0x80, 0x02, 0x8b, 0x00, 0x00, 0x10, 0x00, 0x2e]);
  assert.match(refusal(() => run(long4)), /integer literal of 1048576 bytes/);
});

test('reports a pickle without STOP as truncated (PickleTruncatedError)', () => {
  const full = new PickleWriter().proto(2).emptyList().mark().int(1).int(2).appends().stop().bytes();
  assert.throws(() => run(full.subarray(0, full.length - 1)), (e: unknown) => e instanceof PickleTruncatedError && /truncated/.test((e as Error).message));
});

test('reports stack underflow, bad memo reads and unknown opcodes as corrupt pickles', () => {
  assert.match(refusal(() => run(new Uint8Array([0x80, 0x02, 0x2e]))), /stack underflow/);
  assert.match(refusal(() => run(new Uint8Array([0x80, 0x02, 0x68, 0x05, 0x2e]))), /memo slot 5, which was never written/);
  assert.match(refusal(() => run(new Uint8Array([0x80, 0x02, 0xff]))), /unknown pickle opcode 0xff/);
  assert.match(refusal(() => run(new Uint8Array([0x80, 0x09]))), /unsupported pickle protocol 9/);
});

test('deep nesting is refused past UNPICKLE_LIMITS.maxNesting, without recursing (200 000 nested lists)', () => {
  const n = 200_000;
  const p = new PickleWriter().proto(2);
  for (let i = 0; i < n; i++) p.emptyList();
  for (let i = 1; i < n; i++) p.raw(0x61); // APPEND each list into the one below it
  p.stop();
  assert.match(refusal(() => run(p.bytes())), /refused: the pickle nests containers deeper than 1000 \(budget maxNesting/);
});

test('only storage persistent ids are accepted', () => {
  const p = new PickleWriter().proto(2).unicode('module').raw(0x85).binPersId().stop();
  assert.match(refusal(() => run(p.bytes())), /unsupported persistent id \('module', \.\.\.\)/);
  const q = new PickleWriter().proto(2).mark().unicode('storage').global('torch', 'float32').unicode('0').unicode('cpu').int(1).tuple().binPersId().stop();
  assert.match(refusal(() => run(q.bytes())), /names 'torch\.float32', which is not a storage type/);
});

// ---------------------------------------------------------------------------------------------
// resource budgets (issue 13): each one, directly
// ---------------------------------------------------------------------------------------------

function runWith(bytes: Uint8Array, limits: Partial<UnpickleLimits>): PickleValue {
  return unpickle(FILE, bytes, 0, { limits }).value;
}

/** Lists nested `n` deep, innermost first (as CPython writes them). */
function nestedLists(n: number): Uint8Array {
  const p = new PickleWriter().proto(2);
  for (let i = 0; i < n; i++) p.emptyList();
  for (let i = 1; i < n; i++) p.raw(0x61);
  return p.stop().bytes();
}

test('maxNesting: 1000 levels open, 1001 are refused; the limit is configurable', () => {
  assert.equal(UNPICKLE_LIMITS.maxNesting, 1000);
  const r = unpickle(FILE, nestedLists(1000));
  assert.equal(r.usage.nesting, 1000);
  assert.match(refusal(() => run(nestedLists(1001))), /nests containers deeper than 1000/);
  assert.match(refusal(() => runWith(nestedLists(11), { maxNesting: 10 })), /nests containers deeper than 10 /);
});

test('maxNesting holds for values nested out of order through the memo, and for dicts', () => {
  // Each list is appended to its parent while still empty, then filled: depth is only known at the end.
  const p = new PickleWriter().proto(2).emptyList().raw(0x71, 0).raw(0x71, 1);
  for (let i = 0; i < 1500; i++) p.raw(0x68, 1).emptyList().raw(0x71, 1).raw(0x61).raw(0x30);
  assert.match(refusal(() => run(p.stop().bytes())), /nests containers deeper than 1000/);
  const d = new PickleWriter().proto(2);
  for (let i = 0; i < 1200; i++) d.emptyDict().unicode('k');
  d.emptyDict();
  for (let i = 0; i < 1200; i++) d.setItem();
  assert.match(refusal(() => run(d.stop().bytes())), /nests containers deeper than 1000/);
});

test('a cyclic list (legal in Python) is accepted: the walk counts the cycle once', () => {
  // l = []; l.append(l)
  const p = new PickleWriter().proto(2).emptyList().raw(0x32).raw(0x61).stop();
  const v = run(p.bytes());
  assert.ok(Array.isArray(v) && v[0] === v);
});

test('maxExpandedValues: memo/DUP doubling to 2^32 would-be elements is refused from a few hundred bytes', () => {
  const p = new PickleWriter().proto(2).emptyList().mark().int(0).appends();
  for (let i = 0; i < 32; i++) p.raw(0x32, 0x86); // DUP, TUPLE2: (x, x)
  const bytes = p.stop().bytes();
  assert.ok(bytes.length < 200);
  const started = Date.now();
  assert.match(refusal(() => run(bytes)), /expands to more than 67108864 values .*budget maxExpandedValues/);
  assert.ok(Date.now() - started < 2000);
  // Sharing that stays small is fine: 10 doublings = 1024 leaves.
  const q = new PickleWriter().proto(2).emptyList().mark().int(0).appends();
  for (let i = 0; i < 10; i++) q.raw(0x32, 0x86);
  assert.equal(unpickle(FILE, q.stop().bytes()).usage.expandedValues, 2 ** 11 - 1 + 2 ** 10);
});

test('allocBytes: repeated OrderedDict copies of one dict are refused before they are made', () => {
  // d = {0: 0, ..., 4095: 4095}; then [OrderedDict(d) for _ in range(20000)]: ~2.6 GB as values.
  const p = new PickleWriter().proto(2).emptyDict().mark();
  for (let i = 0; i < 4096; i++) p.int(i).int(i);
  // Memo slots 250+ stay clear of the ones PickleWriter assigns itself.
  p.setItems().raw(0x71, 250).raw(0x30).global('collections', 'OrderedDict').raw(0x71, 251).raw(0x30).emptyList().mark();
  for (let i = 0; i < 20_000; i++) p.raw(0x68, 251, 0x68, 250, 0x85).reduce();
  const bytes = p.appends().stop().bytes();
  const before = process.memoryUsage().rss;
  assert.match(refusal(() => run(bytes)), /refused: the pickle would build more than 64 MiB of values \(budget allocBytes: 48 x the pickle's size, at least 64 MiB, at most 768 MiB/);
  assert.ok(process.memoryUsage().rss - before < 400 * 1024 * 1024);
});

test('allocBytes: _codecs.encode of one big string, repeated, and set() of a growing list (quadratic)', () => {
  const big = 'g'.repeat(65536);
  const e = new PickleWriter().proto(2).unicode(big).raw(0x71, 250, 0x30).unicode('latin1').raw(0x71, 251, 0x30);
  e.global('_codecs', 'encode').raw(0x71, 252, 0x30).emptyList().mark();
  for (let i = 0; i < 5000; i++) e.raw(0x68, 252, 0x68, 250, 0x68, 251, 0x86).reduce();
  assert.match(refusal(() => run(e.appends().stop().bytes())), /would build more than 64 MiB of values/);
  const q = new PickleWriter().proto(2).global('builtins', 'set').raw(0x71, 251, 0x30).emptyList().raw(0x71, 250, 0x30).emptyList().mark();
  for (let i = 0; i < 20_000; i++) q.raw(0x68, 250).int(i).raw(0x61, 0x30, 0x68, 251, 0x68, 250, 0x85).reduce();
  assert.match(refusal(() => run(q.appends().stop().bytes())), /would build more than 64 MiB of values|creates or copies more than/);
});

test('allocBytes and totalElements are relative to the pickle, within a floor and a cap', () => {
  const MiB = 1024 * 1024;
  assert.deepEqual(unpickleBudget(1000), { allocBytes: 64 * MiB, totalElements: 8 * MiB });
  assert.deepEqual(unpickleBudget(4 * MiB), { allocBytes: 192 * MiB, totalElements: 16 * MiB });
  assert.deepEqual(unpickleBudget(400 * MiB), { allocBytes: 768 * MiB, totalElements: 96 * MiB });
  // A small override shows the relative part: 1 KB of pickle x 48 with no floor.
  const p = new PickleWriter().proto(2).emptyList().mark();
  for (let i = 0; i < 200; i++) p.int(i);
  const bytes = p.appends().stop().bytes();
  assert.ok(Array.isArray(runWith(bytes, { allocBytesFloor: 0 })));
  assert.match(refusal(() => runWith(bytes, { allocBytesFloor: 0, allocBytesPerByte: 1 })), /would build more than \d+ bytes of values/);
});

test('totalElements, maxContainerElements, maxMemoEntries, maxStringBytes and maxOpcodes each refuse', () => {
  const list = (n: number): Uint8Array => {
    const p = new PickleWriter().proto(2).emptyList().mark();
    for (let i = 0; i < n; i++) p.none();
    return p.appends().stop().bytes();
  };
  assert.match(refusal(() => runWith(list(101), { totalElementsFloor: 100, totalElementsPerByte: 0 })), /creates or copies more than 100 container elements \(budget totalElements/);
  assert.match(refusal(() => runWith(list(11), { maxContainerElements: 10 })), /builds a container of more than 10 elements \(budget maxContainerElements/);
  const d = new PickleWriter().proto(2).emptyDict().mark();
  for (let i = 0; i < 11; i++) d.int(i).none();
  assert.match(refusal(() => runWith(d.setItems().stop().bytes(), { maxContainerElements: 10 })), /more than 10 elements/);
  const memo = new PickleWriter().proto(4).none();
  for (let i = 0; i < 6; i++) memo.raw(0x94);
  assert.match(refusal(() => runWith(memo.stop().bytes(), { maxMemoEntries: 5 })), /fills more than 5 memo slots \(budget maxMemoEntries/);
  assert.match(refusal(() => runWith(new PickleWriter().proto(2).unicode('x'.repeat(11)).stop().bytes(), { maxStringBytes: 10 })), /11-byte string or bytes literal, more than 10 bytes \(budget maxStringBytes/);
  assert.match(refusal(() => runWith(new Uint8Array([0x80, 0x02, 0x42, 11, 0, 0, 0, ...new Uint8Array(11), 0x2e]), { maxStringBytes: 10 })), /budget maxStringBytes/);
  assert.match(refusal(() => runWith(list(100), { maxOpcodes: 50 })), /runs more than 50 opcodes \(budget maxOpcodes/);
  assert.equal(unpickle(FILE, list(100)).usage.opcodes, 105);
});

test('every budget refusal says nothing was executed and names the offset', () => {
  const msg = refusal(() => runWith(new PickleWriter().proto(2).emptyList().stop().bytes(), { maxOpcodes: 1 }));
  assert.match(msg, /nothing was executed\) \(pickle offset \d+\)$/);
});

test('ADDITEMS of 200 000 items works (a loop, not an argument spread that overflows the stack)', () => {
  const p = new PickleWriter().proto(4).raw(0x8f).mark();
  for (let i = 0; i < 200_000; i++) p.none();
  const v = run(p.raw(0x90).stop().bytes());
  assert.ok(v instanceof PickleSet && v.items.length === 200_000);
});

test('dict keys such as __proto__ stay data: dicts are Maps and nothing reaches a prototype', () => {
  const p = new PickleWriter().proto(2).emptyDict().mark().unicode('__proto__').emptyDict().unicode('constructor').int(1).setItems().stop();
  const v = run(p.bytes());
  assert.ok(v instanceof Map && v.get('__proto__') instanceof Map && v.get('constructor') === 1);
  assert.equal(({} as Record<string, unknown>).constructor, Object);
  // A Python 2 module name of '__proto__' does not find Object.prototype in the fix_imports table.
  assert.match(refusal(() => run(new PickleWriter().proto(2).global('__proto__', 'x').stop().bytes())), /'__proto__\.x'/);
});

test('messages about odd persistent ids do not String() untrusted values (a deep or shared list)', () => {
  const q = new PickleWriter().proto(2).emptyList().raw(0x85).binPersId().stop();
  assert.match(refusal(() => run(q.bytes())), /unsupported persistent id \(a list, \.\.\.\)/);
});
