import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isInputError } from '../../src/util/errors';
import { extractStateDict, stripPrefixes } from '../../src/checkpoint/stateDict';
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
    "optimizer state skipped ('optimizer_state_dict')",
    "top-level entry 'scheduler' (a dict) ignored: only the state dict and scalar metadata are read",
  ]);
  assert.ok(![...r.tensors.values()].some((t) => t.tensor === 'opt'), 'optimizer tensors are not collected');
});

for (const key of ['state_dict', 'model', 'module']) {
  test(`finds the state dict under '${key}'`, () => {
    const r = extractStateDict('f.pt', { [key]: { x: T('x') }, step: 1000, optimizer: { state: {} } }, isFake);
    assert.deepEqual([...r.tensors.keys()], ['x']);
    assert.deepEqual(r.metadata, { step: 1000 });
    assert.deepEqual(r.warnings, ["optimizer state skipped ('optimizer')"]);
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
