import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isInputError } from '../../src/util/errors';
import { NO_TORCH, TORCH_PYTHON } from '../support/torchPython';
import { openFileSource } from '../../src/checkpoint/fileSource';
import { openSafetensors } from '../../src/checkpoint/safetensors';
import { readTensorRaw, toFloat32 } from '../../src/checkpoint/tensorData';
import { openTorchCheckpoint } from '../../src/checkpoint/torch';
import { PickleWriter, writeStoredZip, writeTorchCheckpoint, type TensorToWrite } from '../../src/checkpoint/torchWriter';
import { readZipEntries } from '../../src/checkpoint/zip';
import type { Checkpoint, DType, TensorInfo, TypedArray } from '../../src/checkpoint/types';

const FIXTURES = join(__dirname, '..', 'fixtures');
const TINY = join(FIXTURES, 'tiny-grassmann');
const BAD = join(FIXTURES, 'bad-inputs');
const PWNED = '/tmp/grassmann-lens-pwned';

let dir = '';
before(async () => {
  dir = await fs.mkdtemp(join(tmpdir(), 'grassmann-torch-test-'));
});
after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function withCheckpoint<R>(path: string, fn: (ck: Checkpoint) => Promise<R>): Promise<R> {
  const ck = await openTorchCheckpoint(path);
  try {
    return await fn(ck);
  } finally {
    await ck.close();
  }
}

function bytesOf(a: TypedArray): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** Expects an InputError whose one-line message names `file`; returns the message. */
async function inputError(file: string, p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    assert.ok(isInputError(e), `expected an InputError, got ${String(e)}`);
    const msg = (e as Error).message;
    assert.ok(msg.startsWith(`${file}: `), `message names the file: ${msg}`);
    assert.ok(!msg.includes('\n'), 'one line');
    return msg;
  }
  assert.fail('expected an InputError');
}

function tensor(ck: Checkpoint, name: string): TensorInfo {
  const t = ck.tensors.get(name);
  assert.ok(t, `tensor ${name} present`);
  return t;
}

// ---------------------------------------------------------------------------------------------
// The real fixtures
// ---------------------------------------------------------------------------------------------

const NUM_LAYERS = 4;
const REDUCED_DIM = 16;

test('best.pt holds the same weights as model.safetensors, element for element', async () => {
  const st = await openSafetensors(join(TINY, 'model.safetensors'));
  try {
    await withCheckpoint(join(TINY, 'checkpoints', 'best.pt'), async (ck) => {
      assert.equal(ck.format, 'torch-zip');
      const extra = ['lm_head.weight'];
      for (let l = 0; l < NUM_LAYERS; l++) extra.push(`blocks.${l}.grassmann.plucker.idx_i`, `blocks.${l}.grassmann.plucker.idx_j`);
      assert.deepEqual([...ck.tensors.keys()].sort(), [...st.tensors.keys(), ...extra].sort());
      assert.equal(st.tensors.size, 68);
      for (const [name, s] of st.tensors) {
        const t = tensor(ck, name);
        assert.equal(t.dtype, s.dtype, name);
        assert.deepEqual(t.shape, s.shape, name);
        assert.ok(bytesOf(await readTensorRaw(t)).equals(bytesOf(await readTensorRaw(s))), `${name} values`);
      }
    });
  } finally {
    await st.close();
  }
});

test('best.pt: lm_head.weight is tied to token_embedding.weight (one storage, both names)', async () => {
  await withCheckpoint(join(TINY, 'checkpoints', 'best.pt'), async (ck) => {
    const emb = tensor(ck, 'token_embedding.weight');
    const head = tensor(ck, 'lm_head.weight');
    assert.equal(head.storage.key, emb.storage.key);
    assert.equal(head.storage, emb.storage, 'the same StorageRef object');
    assert.deepEqual(head.shape, [1200, 64]);
    assert.ok(bytesOf(await readTensorRaw(head)).equals(bytesOf(await readTensorRaw(emb))));
    // Only the tie shares a storage.
    const keys = [...ck.tensors.values()].map((t) => t.storage.key);
    assert.equal(new Set(keys).size, keys.length - 1);
  });
});

test('best.pt: the Plücker index buffers are int64 pair lists i < j over the reduced dim', async () => {
  const expectedI: bigint[] = [];
  const expectedJ: bigint[] = [];
  for (let i = 0; i < REDUCED_DIM; i++) {
    for (let j = i + 1; j < REDUCED_DIM; j++) {
      expectedI.push(BigInt(i));
      expectedJ.push(BigInt(j));
    }
  }
  await withCheckpoint(join(TINY, 'checkpoints', 'best.pt'), async (ck) => {
    for (let l = 0; l < NUM_LAYERS; l++) {
      const ti = tensor(ck, `blocks.${l}.grassmann.plucker.idx_i`);
      const tj = tensor(ck, `blocks.${l}.grassmann.plucker.idx_j`);
      assert.equal(ti.dtype, 'I64');
      assert.deepEqual(ti.shape, [120]);
      assert.deepEqual([...(await readTensorRaw(ti) as BigInt64Array)], expectedI);
      assert.deepEqual([...(await readTensorRaw(tj) as BigInt64Array)], expectedJ);
    }
  });
});

test('epoch checkpoints: metadata matches the training history; optimizer state is skipped', async () => {
  const manifest = JSON.parse(await fs.readFile(join(TINY, 'reference', 'manifest.json'), 'utf8')) as {
    history: { epoch: number; val_loss: number; val_ppl: number }[];
  };
  const files = ['epoch_1.pt', 'epoch_2.pt', 'best.pt'];
  for (let i = 0; i < files.length; i++) {
    await withCheckpoint(join(TINY, 'checkpoints', files[i]), async (ck) => {
      const h = manifest.history[i];
      assert.deepEqual(ck.metadata, { epoch: h.epoch, val_loss: h.val_loss, val_ppl: h.val_ppl }, files[i]);
      assert.deepEqual(ck.warnings, []);
      assert.deepEqual(ck.notes, ["optimizer state skipped ('optimizer_state_dict')"]);
      assert.equal(ck.tensors.size, 77);
      assert.deepEqual(ck.files, [join(TINY, 'checkpoints', files[i])]);
    });
  }
  assert.equal(manifest.history[2].epoch, 3);
});

test('legacy-format.pt (pre-1.6 torch.save) is read: its three tensors equal best.pt\'s', async () => {
  await withCheckpoint(join(TINY, 'checkpoints', 'best.pt'), async (best) => {
    await withCheckpoint(join(BAD, 'legacy-format.pt'), async (ck) => {
      assert.equal(ck.format, 'torch-legacy');
      assert.deepEqual([...ck.tensors.keys()], ['token_embedding.weight', 'position_embedding.weight', 'blocks.0.ln1.weight']);
      for (const [name, t] of ck.tensors) {
        const b = tensor(best, name);
        assert.deepEqual([t.dtype, t.shape], [b.dtype, b.shape], name);
        assert.ok(bytesOf(await readTensorRaw(t)).equals(bytesOf(await readTensorRaw(b))), `${name} values`);
      }
    });
  });
});

test('random-bytes.pt is refused as neither zip nor pickle', async () => {
  const file = join(BAD, 'random-bytes.pt');
  const msg = await inputError(file, openTorchCheckpoint(file));
  assert.match(msg, /not a PyTorch checkpoint: neither a zip archive .* nor a pickle/);
});

test('hostile-os-system.pt is refused naming posix.system, and nothing runs', async () => {
  await fs.rm(PWNED, { force: true });
  const file = join(BAD, 'hostile-os-system.pt');
  const msg = await inputError(file, openTorchCheckpoint(file));
  assert.match(msg, /refused to load: the pickle references the global 'posix\.system', which is not on the allow-list/);
  assert.equal(existsSync(PWNED), false);
});

test('an empty file and a missing file are InputErrors', async () => {
  const empty = join(dir, 'empty.pt');
  await fs.writeFile(empty, '');
  assert.match(await inputError(empty, openTorchCheckpoint(empty)), /empty file/);
  const missing = join(dir, 'missing.pt');
  assert.match(await inputError(missing, openTorchCheckpoint(missing)), /no such file/);
});

// ---------------------------------------------------------------------------------------------
// Hand-built checkpoints
// ---------------------------------------------------------------------------------------------

interface HandTensor {
  name: string;
  storageClass: string;
  key: string;
  numel: number;
  offset: number;
  shape: number[];
  stride: number[];
}

/** The pickle torch.save writes for {name: tensor} (an OrderedDict of _rebuild_tensor_v2 calls). */
function stateDictPickle(tensors: HandTensor[]): Uint8Array {
  const p = new PickleWriter().proto(2).global('collections', 'OrderedDict').emptyTuple().reduce().mark();
  for (const t of tensors) {
    p.unicode(t.name).global('torch._utils', '_rebuild_tensor_v2').mark();
    p.mark().unicode('storage').global('torch', t.storageClass).unicode(t.key).unicode('cpu').int(t.numel).tuple().binPersId();
    p.int(t.offset).intTuple(t.shape).intTuple(t.stride).bool(false);
    p.global('collections', 'OrderedDict').emptyTuple().reduce().tuple().reduce();
  }
  return p.setItems().stop().bytes();
}

async function handBuilt(name: string, pickle: Uint8Array, storages: Record<string, Uint8Array>, forceZip64 = false): Promise<string> {
  const path = join(dir, name);
  await writeStoredZip(path, [
    { name: 'archive/data.pkl', data: pickle },
    ...Object.entries(storages).map(([k, data]) => ({ name: `archive/data/${k}`, data })),
    { name: 'archive/version', data: new TextEncoder().encode('3\n') },
  ], { forceZip64 });
  return path;
}

const f32 = (...v: number[]): Uint8Array => new Uint8Array(new Float32Array(v).buffer);

test('a transposed (strided) view is read in logical row-major order', async () => {
  // Storage: the 2x3 matrix [[0,1,2],[3,4,5]]; the view is its transpose, shape [3,2], stride [1,3].
  const path = await handBuilt('transposed.pt', stateDictPickle([
    { name: 'w', storageClass: 'FloatStorage', key: '0', numel: 6, offset: 0, shape: [2, 3], stride: [3, 1] },
    { name: 'w_t', storageClass: 'FloatStorage', key: '0', numel: 6, offset: 0, shape: [3, 2], stride: [1, 3] },
  ]), { 0: f32(0, 1, 2, 3, 4, 5) });
  await withCheckpoint(path, async (ck) => {
    const t = tensor(ck, 'w_t');
    assert.deepEqual([t.shape, t.strides, t.elementOffset], [[3, 2], [1, 3], 0]);
    assert.deepEqual([...(await readTensorRaw(t) as Float32Array)], [0, 3, 1, 4, 2, 5]);
    assert.equal(t.storage, tensor(ck, 'w').storage);
  });
});

test('a storage offset selects a slice of the storage', async () => {
  const path = await handBuilt('offset.pt', stateDictPickle([
    { name: 'tail', storageClass: 'FloatStorage', key: '3', numel: 8, offset: 5, shape: [3], stride: [1] },
    { name: 'column', storageClass: 'FloatStorage', key: '3', numel: 8, offset: 1, shape: [2], stride: [4] },
  ]), { 3: f32(10, 11, 12, 13, 14, 15, 16, 17) });
  await withCheckpoint(path, async (ck) => {
    assert.equal(tensor(ck, 'tail').elementOffset, 5);
    assert.deepEqual([...(await readTensorRaw(tensor(ck, 'tail')) as Float32Array)], [15, 16, 17]);
    assert.deepEqual([...(await readTensorRaw(tensor(ck, 'column')) as Float32Array)], [11, 15]);
  });
});

const DTYPE_CASES: { dtype: DType; storageClass: string; data: TypedArray }[] = [
  { dtype: 'F64', storageClass: 'DoubleStorage', data: new Float64Array([1.5, -2.25, Math.PI]) },
  { dtype: 'F32', storageClass: 'FloatStorage', data: new Float32Array([1.5, -2.25, 3e-8]) },
  { dtype: 'F16', storageClass: 'HalfStorage', data: new Uint16Array([0x3c00, 0xc000, 0x7bff]) }, // 1, -2, 65504
  { dtype: 'BF16', storageClass: 'BFloat16Storage', data: new Uint16Array([0x3f80, 0xc040, 0x4049]) }, // 1, -3, 3.140625
  { dtype: 'I64', storageClass: 'LongStorage', data: new BigInt64Array([-(2n ** 62n), 0n, 2n ** 40n]) },
  { dtype: 'I32', storageClass: 'IntStorage', data: new Int32Array([-(2 ** 31), 0, 2 ** 31 - 1]) },
  { dtype: 'I16', storageClass: 'ShortStorage', data: new Int16Array([-32768, 1, 32767]) },
  { dtype: 'I8', storageClass: 'CharStorage', data: new Int8Array([-128, 0, 127]) },
  { dtype: 'U8', storageClass: 'ByteStorage', data: new Uint8Array([0, 128, 255]) },
  { dtype: 'BOOL', storageClass: 'BoolStorage', data: new Uint8Array([1, 0, 1]) },
];

test('every storage type maps to its dtype with exact values', async () => {
  const pickle = stateDictPickle(DTYPE_CASES.map((c, i) => ({
    name: c.dtype, storageClass: c.storageClass, key: String(i), numel: 3, offset: 0, shape: [3], stride: [1],
  })));
  const storages: Record<string, Uint8Array> = {};
  DTYPE_CASES.forEach((c, i) => { storages[i] = new Uint8Array(bytesOf(c.data)); });
  const path = await handBuilt('dtypes.pt', pickle, storages);
  await withCheckpoint(path, async (ck) => {
    for (const c of DTYPE_CASES) {
      const t = tensor(ck, c.dtype);
      assert.equal(t.dtype, c.dtype);
      assert.deepEqual(await readTensorRaw(t), c.data, c.dtype);
    }
    assert.deepEqual([...toFloat32('F16', await readTensorRaw(tensor(ck, 'F16')))], [1, -2, 65504]);
    assert.deepEqual([...toFloat32('BF16', await readTensorRaw(tensor(ck, 'BF16')))], [1, -3, 3.140625]);
  });
});

test('zip64 archives (EOCD64 locator/record, zip64 extra fields) are read', async () => {
  const path = await handBuilt('zip64.pt', stateDictPickle([
    { name: 'w', storageClass: 'FloatStorage', key: '0', numel: 3, offset: 0, shape: [3], stride: [1] },
  ]), { 0: f32(7, 8, 9) }, true);
  const raw = await fs.readFile(path);
  assert.ok(raw.includes(Buffer.from([0x50, 0x4b, 0x06, 0x06])), 'has a zip64 end record');
  assert.ok(raw.includes(Buffer.from([0x50, 0x4b, 0x06, 0x07])), 'has a zip64 locator');
  const src = await openFileSource(path);
  try {
    const entries = await readZipEntries(src);
    assert.deepEqual(entries.map((e) => [e.name, e.size]), [['archive/data.pkl', entries[0].size], ['archive/data/0', 12], ['archive/version', 2]]);
    for (const e of entries) assert.equal(e.dataOffset % 64, 0, `${e.name} data is 64-byte aligned`);
  } finally {
    await src.close();
  }
  await withCheckpoint(path, async (ck) => {
    assert.deepEqual([...(await readTensorRaw(tensor(ck, 'w')) as Float32Array)], [7, 8, 9]);
  });
});

test('a non-allowed global nested inside the state dict is refused, naming it', async () => {
  // {'model_state_dict': OrderedDict(w=<tensor>), 'extra': [{'cb': builtins.exec}]}
  const p = new PickleWriter().proto(2).emptyDict().mark();
  p.unicode('model_state_dict').global('collections', 'OrderedDict').emptyTuple().reduce();
  p.unicode('extra').emptyList().emptyDict().unicode('cb').global('builtins', 'exec').setItem().raw(0x61);
  p.setItems().stop();
  const path = await handBuilt('nested-global.pt', p.bytes(), {});
  assert.match(await inputError(path, openTorchCheckpoint(path)), /the global 'builtins\.exec', which is not on the allow-list of safe types \(nothing was executed\)/);
});

test('wrappers and DataParallel prefixes in a real zip checkpoint', async () => {
  const p = new PickleWriter().proto(2).emptyDict().mark();
  p.unicode('step').int(1234).unicode('state_dict');
  const inner = stateDictPickle([{ name: 'module.w', storageClass: 'FloatStorage', key: '0', numel: 2, offset: 0, shape: [2], stride: [1] }]);
  // Splice the inner OrderedDict pickle (minus PROTO and STOP) in as the value.
  p.rawBytes(inner.subarray(2, inner.length - 1));
  p.unicode('optimizer').emptyDict().setItems().stop();
  const path = await handBuilt('wrapped.pt', p.bytes(), { 0: f32(1, 2) });
  await withCheckpoint(path, async (ck) => {
    assert.deepEqual([...ck.tensors.keys()], ['w']);
    assert.deepEqual(ck.metadata, { step: 1234 });
    assert.deepEqual(ck.warnings, [
      "stripped the 'module.' prefix from all tensor names (added by DataParallel/DistributedDataParallel)",
    ]);
    assert.deepEqual(ck.notes, ["optimizer state skipped ('optimizer')"]);
  });
});

test('truncated zips are refused as truncated, never read past the end', async () => {
  const whole = await fs.readFile(join(TINY, 'checkpoints', 'best.pt'));
  for (const [label, length] of [['half', Math.floor(whole.length / 2)], ['minus 10 bytes', whole.length - 10], ['first 100 bytes', 100]] as const) {
    const path = join(dir, `truncated-${length}.pt`);
    await fs.writeFile(path, whole.subarray(0, length));
    const msg = await inputError(path, openTorchCheckpoint(path));
    assert.match(msg, /truncated/, label);
  }
  // The end record survives but a storage entry now points past the end of the file.
  const path = join(dir, 'hole.pt');
  const cut = Buffer.concat([whole.subarray(0, 30000), whole.subarray(whole.length - 30000)]);
  await fs.writeFile(path, cut);
  assert.match(await inputError(path, openTorchCheckpoint(path)), /truncated|corrupt/);
});

test('compressed zip entries are refused naming the entry and method', async () => {
  const path = await handBuilt('deflated.pt', stateDictPickle([]), {});
  const raw = await fs.readFile(path);
  // Mark data.pkl as DEFLATE (method 8) in both its local and central headers.
  raw.writeUInt16LE(8, 8);
  const central = raw.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
  raw.writeUInt16LE(8, central + 10);
  await fs.writeFile(path, raw);
  assert.match(await inputError(path, openTorchCheckpoint(path)), /zip entry 'archive\/data\.pkl' uses compression DEFLATE; only uncompressed \(STORED\) entries are supported/);
});

test('a view reaching past its storage is refused when opening', async () => {
  const path = await handBuilt('overrun.pt', stateDictPickle([
    { name: 'w', storageClass: 'FloatStorage', key: '0', numel: 4, offset: 2, shape: [2, 2], stride: [2, 1] },
  ]), { 0: f32(1, 2, 3, 4) });
  assert.match(await inputError(path, openTorchCheckpoint(path)), /tensor 'w' .* reaches element 5 of a storage with 4 elements/);
});

test('a storage entry missing from the archive is reported', async () => {
  const path = await handBuilt('missing-storage.pt', stateDictPickle([
    { name: 'w', storageClass: 'FloatStorage', key: '9', numel: 1, offset: 0, shape: [1], stride: [1] },
  ]), {});
  assert.match(await inputError(path, openTorchCheckpoint(path)), /references storage '9' but the archive has no entry 'archive\/data\/9'/);
});

// ---------------------------------------------------------------------------------------------
// Writer round trips
// ---------------------------------------------------------------------------------------------

function writerTensors(): TensorToWrite[] {
  const shared = new Float32Array([1, 2, 3, 4, 5, 6]);
  return [
    ...DTYPE_CASES.map((c) => ({ name: `t.${c.dtype.toLowerCase()}`, dtype: c.dtype, shape: [3], data: c.data })),
    { name: 'emb.weight', dtype: 'F32', shape: [3, 2], data: shared },
    { name: 'head.weight', dtype: 'F32', shape: [3, 2], data: shared },
    { name: 'scalar', dtype: 'F32', shape: [], data: new Float32Array([0.5]) },
    { name: 'empty', dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
    { name: 'cube', dtype: 'F64', shape: [2, 2, 2, 2], data: Float64Array.from({ length: 16 }, (_, i) => i / 3) },
  ];
}

test('writeTorchCheckpoint round-trips through openTorchCheckpoint', async () => {
  const path = join(dir, 'written.pt');
  const tensors = writerTensors();
  await writeTorchCheckpoint(path, tensors, { epoch: 4, val_loss: 0.125, run: 'prune-50%' });
  await withCheckpoint(path, async (ck) => {
    assert.equal(ck.format, 'torch-zip');
    assert.deepEqual(ck.metadata, { epoch: 4, val_loss: 0.125, run: 'prune-50%' });
    assert.deepEqual([...ck.tensors.keys()], tensors.map((t) => t.name));
    for (const t of tensors) {
      const r = tensor(ck, t.name);
      assert.equal(r.dtype, t.dtype, t.name);
      assert.deepEqual(r.shape, [...t.shape], t.name);
      assert.deepEqual(await readTensorRaw(r), t.data, t.name);
    }
    assert.equal(tensor(ck, 'emb.weight').storage.key, tensor(ck, 'head.weight').storage.key, 'same data array -> shared storage');
  });
  const src = await openFileSource(path);
  try {
    const entries = await readZipEntries(src);
    assert.equal(entries[0].name, 'archive/data.pkl');
    for (const e of entries) assert.equal(e.dataOffset % 64, 0, `${e.name} is 64-byte aligned`);
    const version = entries.find((e) => e.name === 'archive/version');
    assert.ok(version);
    assert.equal(new TextDecoder().decode(await src.read(version.dataOffset, version.size)), '3\n');
  } finally {
    await src.close();
  }
  // Without extra the file is a bare state dict.
  const bare = join(dir, 'bare.pt');
  await writeTorchCheckpoint(bare, tensors.slice(0, 2));
  await withCheckpoint(bare, async (ck) => {
    assert.deepEqual([...ck.tensors.keys()], ['t.f64', 't.f32']);
    assert.deepEqual(ck.metadata, {});
    assert.deepEqual(ck.warnings, []);
  });
});

test('writeTorchCheckpoint rejects mismatched data and leaves no file behind', async () => {
  const path = join(dir, 'bad-write.pt');
  await assert.rejects(writeTorchCheckpoint(path, [{ name: 'x', dtype: 'F32', shape: [2], data: new Float64Array(2) }]), /is F32 but its data is a Float64Array/);
  await assert.rejects(writeTorchCheckpoint(path, [{ name: 'x', dtype: 'F32', shape: [3], data: new Float32Array(2) }]), /shape \[3\] \(3 elements\) but 2 data elements/);
  assert.equal(existsSync(path), false);
});

// ---------------------------------------------------------------------------------------------
// PyTorch round trips (skipped when no Python with torch is installed)
// ---------------------------------------------------------------------------------------------


/**
 * Loads a file with torch.load(weights_only=True) and prints every tensor as JSON. PyTorch < 2.0's
 * weights_only loader lacks the BINFLOAT opcode, so float metadata is checked with a plain load
 * there (argv[2] == 'floats').
 */
const PY_LOAD = `
import json, sys, torch
strict = not (len(sys.argv) > 2 and sys.argv[2] == 'floats' and int(torch.__version__.split('.')[0]) < 2)
obj = torch.load(sys.argv[1], weights_only=strict)
sd = obj['model_state_dict'] if 'model_state_dict' in obj else obj
out = {'type': type(obj).__name__, 'sd_type': type(sd).__name__, 'extra': {k: v for k, v in obj.items() if k != 'model_state_dict'} if sd is not obj else {}, 'tensors': {}}
for k, t in sd.items():
    if t.dtype in (torch.int64,):
        values = [str(x) for x in t.flatten().tolist()]
    elif t.dtype in (torch.float16, torch.bfloat16, torch.bool):
        values = t.float().flatten().tolist()
    else:
        values = t.flatten().tolist()
    out['tensors'][k] = {'dtype': str(t.dtype), 'shape': list(t.shape), 'values': values, 'ptr': t.storage().data_ptr()}
print(json.dumps(out))
`;

/** Writes a checkpoint with torch.save (zip and legacy) covering views, ties and dtypes. */
const PY_SAVE = `
import collections, json, sys, torch
torch.manual_seed(0)
w = torch.randn(3, 4)
base = torch.arange(10, dtype=torch.float32)
emb = torch.randn(5, 2)
sd = collections.OrderedDict()
sd['module.transposed'] = w.t()
sd['module.offset'] = base[3:7]
sd['module.column'] = w[:, 1]
sd['module.emb'] = emb
sd['module.tied'] = emb
sd['module.param'] = torch.nn.Parameter(torch.randn(2, 2))
sd['module.f64'] = torch.randn(3, dtype=torch.float64)
sd['module.f16'] = torch.randn(3).half()
sd['module.bf16'] = torch.randn(3).bfloat16()
sd['module.i64'] = torch.tensor([-(2**40), 0, 2**40])
sd['module.i32'] = torch.tensor([-7, 0, 7], dtype=torch.int32)
sd['module.i16'] = torch.tensor([-300, 0, 300], dtype=torch.int16)
sd['module.i8'] = torch.tensor([-128, 0, 127], dtype=torch.int8)
sd['module.u8'] = torch.tensor([0, 128, 255], dtype=torch.uint8)
sd['module.bool'] = torch.tensor([True, False, True])
sd['module.scalar'] = torch.tensor(1.5)
opt = torch.optim.Adam([sd['module.param']], lr=0.1)
(sd['module.param'] ** 2).sum().backward()
opt.step()
obj = {'epoch': 7, 'model_state_dict': sd, 'optimizer_state_dict': opt.state_dict(), 'val_loss': 0.25, 'tag': 'run-a'}
torch.save(obj, sys.argv[1])
torch.save(obj, sys.argv[2], _use_new_zipfile_serialization=False)
out = {}
for k, t in sd.items():
    t = t.detach()
    if t.dtype == torch.int64:
        values = [str(x) for x in t.flatten().tolist()]
    else:
        values = t.float().flatten().tolist() if t.dtype in (torch.float16, torch.bfloat16, torch.bool) else t.flatten().tolist()
    out[k[len('module.'):]] = {'shape': list(t.shape), 'stride': list(t.stride()), 'offset': t.storage_offset(), 'values': values}
print(json.dumps(out))
`;

interface PyTensor { dtype?: string; shape: number[]; stride?: number[]; offset?: number; values: (number | string)[]; ptr?: number }

/** Our values in the form the Python scripts print them. */
async function comparable(t: TensorInfo): Promise<(number | string)[]> {
  const raw = await readTensorRaw(t);
  if (t.dtype === 'I64') return [...(raw as BigInt64Array)].map(String);
  if (t.dtype === 'F16' || t.dtype === 'BF16' || t.dtype === 'BOOL') return [...toFloat32(t.dtype, raw)];
  return [...(raw as Exclude<TypedArray, BigInt64Array>)];
}

interface PyLoaded { type: string; sd_type: string; extra: Record<string, unknown>; tensors: Record<string, PyTensor> }

function torchLoad(path: string, floats = false): PyLoaded {
  const args = ['-c', PY_LOAD, path, ...(floats ? ['floats'] : [])];
  return JSON.parse(execFileSync(TORCH_PYTHON as string, args, { encoding: 'utf8', timeout: 120_000 })) as PyLoaded;
}

test('PyTorch loads our writer\'s file with torch.load(weights_only=True)', { skip: NO_TORCH }, async () => {
  const path = join(dir, 'for-torch.pt');
  const tensors = writerTensors();
  await writeTorchCheckpoint(path, tensors, { epoch: 4, run: 'prune-50%', step: 2 ** 40 });
  const out = torchLoad(path);
  assert.equal(out.type, 'dict');
  assert.equal(out.sd_type, 'OrderedDict');
  assert.deepEqual(out.extra, { epoch: 4, run: 'prune-50%', step: 2 ** 40 });
  assert.deepEqual(Object.keys(out.tensors), tensors.map((t) => t.name));
  const torchDtype: Record<DType, string> = {
    F64: 'torch.float64', F32: 'torch.float32', F16: 'torch.float16', BF16: 'torch.bfloat16', I64: 'torch.int64',
    I32: 'torch.int32', I16: 'torch.int16', I8: 'torch.int8', U8: 'torch.uint8', BOOL: 'torch.bool',
  };
  await withCheckpoint(path, async (ck) => {
    for (const t of tensors) {
      const py = out.tensors[t.name];
      assert.equal(py.dtype, torchDtype[t.dtype], t.name);
      assert.deepEqual(py.shape, [...t.shape], t.name);
      assert.deepEqual(py.values, await comparable(tensor(ck, t.name)), t.name);
    }
  });
  assert.equal(out.tensors['emb.weight'].ptr, out.tensors['head.weight'].ptr, 'tied tensors share one storage in PyTorch too');

  // A bare state dict, and float metadata.
  const bare = join(dir, 'for-torch-bare.pt');
  await writeTorchCheckpoint(bare, tensors.slice(0, 1));
  const bareOut = torchLoad(bare);
  assert.deepEqual([bareOut.type, Object.keys(bareOut.tensors)], ['OrderedDict', ['t.f64']]);
  const floats = join(dir, 'for-torch-floats.pt');
  await writeTorchCheckpoint(floats, tensors.slice(0, 1), { val_loss: 0.125, lr: -3e-4 });
  assert.deepEqual(torchLoad(floats, true).extra, { val_loss: 0.125, lr: -3e-4 });
});

test('we read what torch.save writes: views, offsets, ties, every dtype, zip and legacy formats', { skip: NO_TORCH }, async () => {
  const zipPath = join(dir, 'from-torch.pt');
  const legacyPath = join(dir, 'from-torch-legacy.pt');
  const expected = JSON.parse(execFileSync(TORCH_PYTHON as string, ['-c', PY_SAVE, zipPath, legacyPath], { encoding: 'utf8', timeout: 120_000 })) as Record<string, PyTensor>;
  for (const [path, format] of [[zipPath, 'torch-zip'], [legacyPath, 'torch-legacy']] as const) {
    await withCheckpoint(path, async (ck) => {
      assert.equal(ck.format, format);
      assert.deepEqual(ck.metadata, { epoch: 7, val_loss: 0.25, tag: 'run-a' });
      assert.deepEqual(ck.warnings, [
        "stripped the 'module.' prefix from all tensor names (added by DataParallel/DistributedDataParallel)",
      ]);
      assert.deepEqual(ck.notes, ["optimizer state skipped ('optimizer_state_dict')"]);
      assert.deepEqual([...ck.tensors.keys()], Object.keys(expected));
      for (const [name, py] of Object.entries(expected)) {
        const t = tensor(ck, name);
        assert.deepEqual([t.shape, t.strides, t.elementOffset], [py.shape, py.stride, py.offset], `${format} ${name} layout`);
        assert.deepEqual(await comparable(t), py.values, `${format} ${name} values`);
      }
      assert.deepEqual(tensor(ck, 'transposed').strides, [1, 4]);
      assert.equal(tensor(ck, 'tied').storage, tensor(ck, 'emb').storage);
      assert.equal(tensor(ck, 'transposed').storage, tensor(ck, 'column').storage);
    });
  }
});
