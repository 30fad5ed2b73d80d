import { strict as assert } from 'node:assert';
import { mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openSafetensors, openShardedSafetensors } from '../../src/checkpoint/safetensors';
import { encodeSafetensors, writeSafetensors } from '../../src/checkpoint/safetensorsWriter';
import { readFloat32, readTensorRaw, halfToFloat } from '../../src/checkpoint/tensorData';
import { InputError } from '../../src/util/errors';

const fixtures = join(__dirname, '..', 'fixtures');
const tiny = join(fixtures, 'tiny-grassmann');
const bad = join(fixtures, 'bad-inputs');
const tmp = mkdtempSync(join(tmpdir(), 'gl-st-'));

test('tiny fixture: header, metadata, shapes, lazy values', async () => {
  const ck = await openSafetensors(join(tiny, 'model.safetensors'));
  try {
    assert.equal(ck.format, 'safetensors');
    assert.deepEqual(ck.metadata, { format: 'pt' });
    assert.deepEqual(ck.tensors.get('token_embedding.weight')?.shape, [1200, 64]);
    assert.deepEqual(ck.tensors.get('position_embedding.weight')?.shape, [128, 64]);
    assert.equal(ck.tensors.has('lm_head.weight'), false);
    const ln = await readFloat32(ck.tensors.get('ln_f.weight')!);
    assert.equal(ln.length, 64);
    assert.ok(ln.every(Number.isFinite));
  } finally {
    await ck.close();
  }
});

test('every dtype round-trips through writer and reader', async () => {
  const f16 = new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001]); // 1, -2, 65504, 2^-24
  const bf16 = new Uint16Array([0x3f80, 0xc040, 0x4049]); // 1, -3, 3.140625
  const path = join(tmp, 'dtypes.safetensors');
  await writeSafetensors(path, [
    { name: 'f64', dtype: 'F64', shape: [2], data: new Float64Array([1.5, -2.25]) },
    { name: 'f32', dtype: 'F32', shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) },
    { name: 'f16', dtype: 'F16', shape: [4], data: f16 },
    { name: 'bf16', dtype: 'BF16', shape: [3], data: bf16 },
    { name: 'i64', dtype: 'I64', shape: [2], data: new BigInt64Array([-5n, 1n << 40n]) },
    { name: 'i32', dtype: 'I32', shape: [1], data: new Int32Array([-7]) },
    { name: 'i16', dtype: 'I16', shape: [2], data: new Int16Array([-300, 300]) },
    { name: 'i8', dtype: 'I8', shape: [2], data: new Int8Array([-128, 127]) },
    { name: 'u8', dtype: 'U8', shape: [2], data: new Uint8Array([0, 255]) },
    { name: 'bool', dtype: 'BOOL', shape: [3], data: new Uint8Array([1, 0, 1]) },
    { name: 'empty', dtype: 'F32', shape: [0, 3], data: new Float32Array(0) },
  ], { note: 'x' });
  const ck = await openSafetensors(path);
  const f = async (n: string) => Array.from(await readFloat32(ck.tensors.get(n)!));
  assert.deepEqual(await f('f64'), [1.5, -2.25]);
  assert.deepEqual(await f('f32'), [1, 2, 3, 4]);
  assert.deepEqual(await f('f16'), [1, -2, 65504, 2 ** -24]);
  assert.deepEqual(await f('bf16'), [1, -3, 3.140625]);
  assert.deepEqual(await f('i64'), [-5, 2 ** 40]);
  assert.deepEqual(Array.from((await readTensorRaw(ck.tensors.get('i64')!)) as BigInt64Array), [-5n, 1n << 40n]);
  assert.deepEqual(await f('i32'), [-7]);
  assert.deepEqual(await f('i16'), [-300, 300]);
  assert.deepEqual(await f('i8'), [-128, 127]);
  assert.deepEqual(await f('u8'), [0, 255]);
  assert.deepEqual(await f('bool'), [1, 0, 1]);
  assert.deepEqual(await f('empty'), []);
  assert.deepEqual(ck.metadata, { note: 'x' });
  await ck.close();
});

test('halfToFloat matches IEEE binary16 special values', () => {
  assert.equal(halfToFloat(0x7c00), Infinity);
  assert.equal(halfToFloat(0xfc00), -Infinity);
  assert.ok(Number.isNaN(halfToFloat(0x7e00)));
  assert.equal(halfToFloat(0x3555), 0.333251953125);
  assert.ok(Object.is(halfToFloat(0x8000), -0));
});

function rawFile(header: unknown, dataBytes: number, lengthOverride?: bigint): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, lengthOverride ?? BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

async function refusal(bytes: Uint8Array, name: string): Promise<string> {
  const path = join(tmp, name);
  writeFileSync(path, bytes);
  try {
    await openSafetensors(path);
  } catch (e) {
    assert.ok(e instanceof InputError, `expected InputError, got ${e}`);
    assert.equal(e.file, path);
    return e.problem;
  }
  assert.fail(`${name} was accepted`);
}

test('header validation names the offending field', async () => {
  assert.match(await refusal(rawFile({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, 12), 'overlap.safetensors'), /'a' and 'b' overlap/);
  assert.match(await refusal(rawFile({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8), 'len.safetensors'), /'a' spans 8 bytes but shape \[3\] x F32 needs 12/);
  assert.match(await refusal(rawFile({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, 4), 'short.safetensors'), /'a' data_offsets end at 8 but the data area has only 4 bytes/);
  assert.match(await refusal(rawFile({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 0] } }, 0), 'shape.safetensors'), /'a' has an invalid shape \[-1\]/);
  assert.match(await refusal(rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [8, 4] } }, 8), 'offs.safetensors'), /invalid data_offsets \[8,4\]/);
  assert.match(await refusal(rawFile([1, 2], 0), 'array.safetensors'), /not a JSON object/);
  assert.match(await refusal(rawFile({ __metadata__: { a: 1 } }, 0), 'meta.safetensors'), /__metadata__\.a must be a string/);
});

test('every bad safetensors fixture is refused with a specific message', async () => {
  const cases: Array<[string, RegExp]> = [
    ['empty.safetensors', /0 bytes, shorter than the 8-byte header length/],
    ['truncated.safetensors', /data_offsets end at \d+ but the data area has only \d+ bytes/],
    ['header-larger-than-file.safetensors', /header length field says 1000000000 bytes but the file has only 192/],
    ['header-not-json.safetensors', /header is not valid UTF-8 JSON/],
    ['unknown-dtype.safetensors', /unknown dtype "Q7"/],
  ];
  for (const [name, pattern] of cases) {
    const path = join(bad, name);
    await assert.rejects(openSafetensors(path), (e: unknown) => {
      assert.ok(e instanceof InputError);
      assert.equal(e.file, path);
      assert.match(e.problem, pattern);
      assert.ok(!e.message.includes('\n'), 'one line');
      return true;
    });
  }
});

test('sharded model opens through its index and reads from each shard', async () => {
  const dir = mkdtempSync(join(tmp, 'shards-'));
  writeFileSync(join(dir, 'model-00001-of-00002.safetensors'), encodeSafetensors([{ name: 'a', dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) }]));
  writeFileSync(join(dir, 'model-00002-of-00002.safetensors'), encodeSafetensors([{ name: 'b', dtype: 'F16', shape: [1], data: new Uint16Array([0x4000]) }], { format: 'pt' }));
  const index = join(dir, 'model.safetensors.index.json');
  writeFileSync(index, JSON.stringify({ metadata: { total_size: 10 }, weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors' } }));
  const ck = await openShardedSafetensors(index);
  assert.equal(ck.format, 'safetensors-sharded');
  assert.equal(ck.files.length, 2);
  assert.deepEqual(Array.from(await readFloat32(ck.tensors.get('a')!)), [1, 2]);
  assert.deepEqual(Array.from(await readFloat32(ck.tensors.get('b')!)), [2]);
  assert.deepEqual(ck.metadata, { total_size: 10, format: 'pt' });
  await ck.close();

  writeFileSync(index, JSON.stringify({ weight_map: { a: 'model-00001-of-00002.safetensors', c: 'model-00002-of-00002.safetensors' } }));
  await assert.rejects(openShardedSafetensors(index), /tensor 'c' is listed in the index but missing/);
  writeFileSync(index, JSON.stringify({ weight_map: { a: '../etc/passwd' } }));
  await assert.rejects(openShardedSafetensors(index), /invalid shard file/);
  assert.ok(existsSync(index));
});

test('DataParallel / torch.compile prefixes are stripped from safetensors names, with a warning', async () => {
  const path = join(tmp, 'wrapped.safetensors');
  await writeSafetensors(path, [
    { name: '_orig_mod.module.a', dtype: 'F32', shape: [1], data: new Float32Array([5]) },
    { name: '_orig_mod.module.b.c', dtype: 'F32', shape: [1], data: new Float32Array([6]) },
  ]);
  const ck = await openSafetensors(path);
  assert.deepEqual([...ck.tensors.keys()], ['a', 'b.c']);
  assert.equal(ck.tensors.get('b.c')!.name, 'b.c');
  assert.deepEqual(Array.from(await readFloat32(ck.tensors.get('b.c')!)), [6]);
  assert.equal(ck.warnings.length, 2);
  assert.match(ck.warnings.join(' '), /_orig_mod\./);
  assert.match(ck.warnings.join(' '), /module\./);
  await ck.close();
});
