import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isInputError } from '../../src/util/errors';
import {
  PickleComplex, PickleSet, PickleTruncatedError, PickleTuple, TorchStorage, TorchTensor, unpickle,
  type PickleValue,
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

test('deep nesting does not recurse (200 000 nested lists)', () => {
  const n = 200_000;
  const p = new PickleWriter().proto(2);
  for (let i = 0; i < n; i++) p.emptyList();
  for (let i = 1; i < n; i++) p.raw(0x61); // APPEND each list into the one below it
  p.stop();
  let v = run(p.bytes());
  let depth = 1;
  while (Array.isArray(v) && v.length === 1) {
    v = v[0];
    depth++;
  }
  assert.equal(depth, n);
});

test('only storage persistent ids are accepted', () => {
  const p = new PickleWriter().proto(2).unicode('module').raw(0x85).binPersId().stop();
  assert.match(refusal(() => run(p.bytes())), /unsupported persistent id \('module', \.\.\.\)/);
  const q = new PickleWriter().proto(2).mark().unicode('storage').global('torch', 'float32').unicode('0').unicode('cpu').int(1).tuple().binPersId().stop();
  assert.match(refusal(() => run(q.bytes())), /names 'torch\.float32', which is not a storage type/);
});
