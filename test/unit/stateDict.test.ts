import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isInputError } from '../../src/util/errors';
import { MAX_CONFIG_DEPTH, MAX_ENTRY_WARNINGS, extractStateDict, plainConfig, stripPrefixes } from '../../src/checkpoint/stateDict';
import { TorchStorage, TorchTensor } from '../../src/checkpoint/unpickler';

/** Plain-object tensors: the extraction logic takes any leaf type through its predicate. */
interface FakeTensor { tensor: string }
const T = (id: string): FakeTensor => ({ tensor: id });
const isFake = (v: unknown): v is FakeTensor => typeof v === 'object' && v !== null && 'tensor' in v;

test('a bare state dict (top level holds the tensors)', () => {
  const r = extractStateDict('f.pt', { 'a.weight': T('a'), 'b.bias': T('b') }, isFake);
  assert.deepEqual([...r.tensors.keys()], ['a.weight', 'b.bias']);
  assert.deepEqual(r.tensors.get('b.bias'), T('b'));
  assert.deepEqual(r.metadata, {});
  assert.deepEqual(r.warnings, []);
});

test('a training checkpoint: model_state_dict, scalar metadata, optimizer skipped', () => {
  const root = new Map<unknown, unknown>([
    ['epoch', 3],
    ['model_state_dict', new Map([['w', T('w')], ['v', T('v')]])],
    ['optimizer_state_dict', new Map([['state', new Map([[0, new Map([['exp_avg', T('opt')]])]])]])],
    ['val_loss', 3.5],
    ['arch', 'GrassmannGPT'],
    ['best', true],
    ['seed', 2n ** 64n],
    ['scheduler', new Map([['last_epoch', 3]])],
    ['note', null],
  ]);
  const r = extractStateDict('f.pt', root, isFake);
  assert.deepEqual([...r.tensors.keys()], ['w', 'v']);
  assert.deepEqual(r.metadata, { epoch: 3, val_loss: 3.5, arch: 'GrassmannGPT', best: true, seed: '18446744073709551616' });
  assert.deepEqual(r.warnings, [
    "top-level entry 'scheduler' (a dict) ignored: only the state dict and scalar metadata are read",
  ]);
  // Every training checkpoint has optimizer state: leaving it out is information, not a warning.
  assert.deepEqual(r.notes, ["optimizer state skipped ('optimizer_state_dict')"]);
  assert.ok(![...r.tensors.values()].some((t) => t.tensor === 'opt'), 'optimizer tensors are not collected');
});

for (const key of ['state_dict', 'model', 'module']) {
  test(`finds the state dict under '${key}'`, () => {
    const r = extractStateDict('f.pt', { [key]: { x: T('x') }, step: 1000, optimizer: { state: {} } }, isFake);
    assert.deepEqual([...r.tensors.keys()], ['x']);
    assert.deepEqual(r.metadata, { step: 1000 });
    assert.deepEqual(r.warnings, []);
    assert.deepEqual(r.notes, ["optimizer state skipped ('optimizer')"]);
  });
}

test('nested wrappers ({state_dict: {model: {...}}}) are followed', () => {
  const r = extractStateDict('f.pt', { state_dict: { model: { 'module.x': T('x') } }, epoch: 2 }, isFake);
  assert.deepEqual([...r.tensors.keys()], ['x']);
  assert.deepEqual(r.metadata, { epoch: 2 });
});

test('strips module. (DataParallel) and _orig_mod. (torch.compile), and says so', () => {
  const r = extractStateDict('f.pt', { model_state_dict: { 'module._orig_mod.a': T('a'), 'module._orig_mod.b.c': T('b') } }, isFake);
  assert.deepEqual([...r.tensors.keys()], ['a', 'b.c']);
  assert.deepEqual(r.warnings, [
    "stripped the 'module.' prefix from all tensor names (added by DataParallel/DistributedDataParallel)",
    "stripped the '_orig_mod.' prefix from all tensor names (added by torch.compile)",
  ]);
});

test('stripPrefixes leaves a prefix that only some names carry (a real submodule)', () => {
  assert.deepEqual(stripPrefixes(['module.a', 'head.b']), { names: ['module.a', 'head.b'], strippedPrefixes: [], warnings: [] });
  const s = stripPrefixes(['_orig_mod.a', '_orig_mod.b']);
  assert.deepEqual(s.names, ['a', 'b']);
  assert.deepEqual(s.strippedPrefixes, ['_orig_mod.']);
  assert.equal(s.warnings.length, 1);
  assert.deepEqual(stripPrefixes([]).names, []);
});

test('non-tensor entries inside the state dict are skipped with a warning', () => {
  const r = extractStateDict('f.pt', { model: { w: T('w'), '_extra_state': [1, 2] } }, isFake);
  assert.deepEqual([...r.tensors.keys()], ['w']);
  assert.deepEqual(r.warnings, ["state dict entry '_extra_state' is a list, not a tensor: skipped"]);
});

test('no tensors anywhere is an InputError listing the top-level keys', () => {
  assert.throws(
    () => extractStateDict('f.pt', { epoch: 1, optimizer: {} }, isFake),
    (e: unknown) => isInputError(e) && (e as Error).message === 'f.pt: no state dict found: no tensors at the top level, and no model_state_dict/state_dict/model/module entry holding them (top-level keys: epoch, optimizer)',
  );
  assert.throws(() => extractStateDict('f.pt', [1, 2], isFake), /f\.pt: the checkpoint holds a list, not a dict of tensors/);
});

test('the default predicate recognises the unpickler\'s TorchTensor', () => {
  const s = new TorchStorage('0', 'float32', 4, 'cpu');
  const t = new TorchTensor(s, 0, [4], [1], false, true);
  const r = extractStateDict('f.pt', new Map([['model', new Map([['module.p', t]])]]));
  assert.equal(r.tensors.get('p'), t);
});

// ---------------------------------------------------------------------------------------------
// untrusted trees (issue 13): no prototype, no unbounded walk, no String() of values
// ---------------------------------------------------------------------------------------------

test('keys like __proto__ and constructor become own metadata entries, never a prototype', () => {
  const w = new TorchTensor(new TorchStorage('0', 'float32', 4, 'cpu'), 0, [4], [1], false, false);
  const root = new Map<unknown, unknown>([
    ['__proto__', 'polluted'],
    ['constructor', 3],
    ['model', new Map([['w', w]])],
  ]);
  const r = extractStateDict('f.pt', root);
  assert.equal(Object.getPrototypeOf(r.metadata), Object.prototype);
  assert.ok(Object.prototype.hasOwnProperty.call(r.metadata, '__proto__'));
  assert.equal(Object.getOwnPropertyDescriptor(r.metadata, '__proto__')?.value, 'polluted');
  assert.equal(r.metadata.constructor, 3);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  // Bare state dict: scalar entries there are metadata too.
  const bare = extractStateDict('f.pt', new Map<unknown, unknown>([['w', w], ['__proto__', 1]]));
  assert.equal(Object.getOwnPropertyDescriptor(bare.metadata, '__proto__')?.value, 1);
});

test('non-string keys are named by type, without String() (which would expand a shared list)', () => {
  // A list key that expands to 2^30 elements if joined: String() of it would never finish.
  let key: unknown[] = [0];
  for (let i = 0; i < 30; i++) key = [key, key];
  const root = new Map<unknown, unknown>([[key, T('a')], [7, T('b')], ['w', T('c')]]);
  const r = extractStateDict('f.pt', root, isFake);
  assert.deepEqual([...r.tensors.keys()], ['<list key>', '7', 'w']);
  const noTensors = new Map<unknown, unknown>([[key, 1]]);
  assert.throws(() => extractStateDict('f.pt', noTensors, isFake), /top-level keys: <list key>/);
});

test('warnings about skipped entries are capped at MAX_ENTRY_WARNINGS plus one summary', () => {
  const root = new Map<unknown, unknown>([['model', new Map([['w', T('w')]])]]);
  for (let i = 0; i < 100_000; i++) root.set(`x${i}`, [i]);
  const r = extractStateDict('f.pt', root, isFake);
  assert.equal(r.warnings.length, MAX_ENTRY_WARNINGS + 1);
  assert.match(r.warnings[r.warnings.length - 1], /^99980 more top-level entries ignored/);
  const sd = new Map<unknown, unknown>([['w', T('w')]]);
  for (let i = 0; i < 1000; i++) sd.set(`n${i}`, [i]);
  const s = extractStateDict('f.pt', sd, isFake);
  assert.equal(s.warnings.length, MAX_ENTRY_WARNINGS + 1);
  assert.match(s.warnings[s.warnings.length - 1], /^980 more state dict entries are not tensors/);
});

test('plainConfig visits a shared huge dict many times at the cost of its budget only', () => {
  const big = new Map<unknown, unknown>();
  for (let i = 0; i < 1_000_000; i++) big.set(`k${i}`, i);
  const shared = new Array<unknown>(5000).fill(big);
  const started = Date.now();
  const out = plainConfig(new Map([['layers', shared]])) as Record<string, unknown[]>;
  assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`);
  assert.ok(Array.isArray(out.layers));
  assert.equal(Object.getPrototypeOf(out), null);
});

test('plainConfig of a cyclic or deep list stops at MAX_CONFIG_DEPTH', () => {
  const cyc: unknown[] = [];
  cyc.push(cyc);
  let v = plainConfig(cyc);
  let depth = 0;
  while (Array.isArray(v) && v.length > 0) {
    v = v[0];
    depth++;
  }
  assert.equal(depth, MAX_CONFIG_DEPTH + 1);
  assert.equal(v, null);
});

test('stripPrefixes stops after a bounded number of strips (a name of a million module. prefixes)', () => {
  const r = stripPrefixes(['module.'.repeat(1_000_000) + 'w']);
  assert.equal(r.strippedPrefixes.length, 8);
  assert.equal(r.warnings.length, 8);
});
