/**
 * The safetensors reader refuses what the reference reader (huggingface/safetensors,
 * `Metadata::validate` + `read_metadata`) refuses: data offsets that do not tile the data area
 * exactly from 0 (`InvalidOffset`), a data area longer or shorter than the tensors
 * (`MetadataIncompleteBuffer`), an element count or byte size that overflows 64 bits
 * (`ValidationOverflow`) or differs from end - begin (`TensorInvalidInfo`); and it closes every
 * file it opened when it refuses one.
 */
import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { openSafetensors, openShardedSafetensors } from '../../src/checkpoint/safetensors';
import { readFloat32 } from '../../src/checkpoint/tensorData';
import { InputError } from '../../src/util/errors';

const tmp = mkdtempSync(join(tmpdir(), 'gl-st-strict-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** [u64 LE header length][JSON header][data]; `data` bytes, or that many zero bytes. */
function stFile(header: unknown, data: number | Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const bytes = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + json.length + bytes.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(bytes, 8 + json.length);
  return out;
}

const f32 = (shape: number[], begin: number, end: number) => ({ dtype: 'F32', shape, data_offsets: [begin, end] });

/** Writes the file, opens it, and returns the refusal's problem (asserting it is an InputError naming the file). */
async function refusal(name: string, bytes: Uint8Array): Promise<string> {
  const path = join(tmp, name);
  writeFileSync(path, bytes);
  try {
    const ck = await openSafetensors(path);
    await ck.close();
  } catch (e) {
    assert.ok(e instanceof InputError, `expected InputError, got ${e}`);
    assert.equal(e.file, path);
    assert.equal(e.message, `${path}: ${e.problem}`);
    assert.ok(!e.message.includes('\n'), 'one line');
    return e.problem;
  }
  assert.fail(`${name} was accepted`);
}

test('a gap between two tensors is refused with both names and the offsets', async () => {
  assert.equal(
    await refusal('gap.safetensors', stFile({ a: f32([2], 0, 8), b: f32([2], 12, 20) }, 20)),
    "tensor 'b' has data_offsets [12, 20] but the previous tensor 'a' ends at 8: bytes 8-12 of the data area belong to no tensor",
  );
});

test('a first tensor that does not begin at 0 is refused', async () => {
  assert.equal(
    await refusal('not-at-0.safetensors', stFile({ a: f32([2], 4, 12) }, 12)),
    "tensor 'a' has data_offsets [4, 12] but the first tensor must begin at 0: bytes 0-4 of the data area belong to no tensor",
  );
});

test('overlapping tensors are refused with both names and their offsets', async () => {
  assert.equal(
    await refusal('overlap.safetensors', stFile({ a: f32([2], 0, 8), b: f32([2], 4, 12) }, 12)),
    "tensors 'a' and 'b' overlap in the data area: 'a' has data_offsets [0, 8], 'b' has [4, 12]",
  );
  // One tensor inside another, and two tensors on the same bytes.
  assert.equal(
    await refusal('inside.safetensors', stFile({ big: f32([4], 0, 16), small: f32([1], 4, 8) }, 16)),
    "tensors 'big' and 'small' overlap in the data area: 'big' has data_offsets [0, 16], 'small' has [4, 8]",
  );
  assert.equal(
    await refusal('same.safetensors', stFile({ a: f32([2], 0, 8), b: f32([2], 0, 8) }, 8)),
    "tensors 'a' and 'b' overlap in the data area: 'a' has data_offsets [0, 8], 'b' has [0, 8]",
  );
});

test('a data area longer than the tensors cover (trailing bytes) is refused', async () => {
  assert.equal(
    await refusal('trailing.safetensors', stFile({ b: f32([1], 8, 12), a: f32([2], 0, 8) }, 16)),
    "the data area has 16 bytes but the tensors cover only 12 (the last, 'b', ends there): 4 trailing bytes belong to no tensor",
  );
  assert.equal(
    await refusal('trailing-no-tensors.safetensors', stFile({ __metadata__: { format: 'pt' } }, 3)),
    'the data area has 3 bytes but the tensors cover only 0 (the header lists none): 3 trailing bytes belong to no tensor',
  );
});

test('a data area shorter than the tensors need is refused as truncated', async () => {
  assert.equal(
    await refusal('short.safetensors', stFile({ a: f32([2], 0, 8), b: f32([2], 8, 16) }, 12)),
    "tensor 'b' data_offsets end at 16 but the data area has only 12 bytes (file truncated?)",
  );
});

test('an element count or byte size past 64 bits is refused as an overflow, checked at every multiplication', async () => {
  assert.equal(
    await refusal('overflow.safetensors', stFile({ a: f32([2 ** 40, 2 ** 40], 0, 0) }, 0)),
    "tensor 'a' has shape [1099511627776,1099511627776] whose element count overflows 64 bits",
  );
  // The reference's try_fold(checked_mul) fails before it reaches the 0.
  assert.equal(
    await refusal('overflow-then-0.safetensors', stFile({ a: f32([2 ** 40, 2 ** 40, 0], 0, 0) }, 0)),
    "tensor 'a' has shape [1099511627776,1099511627776,0] whose element count overflows 64 bits",
  );
  // 2^62 elements fit in 64 bits; 2^62 x 4 bytes do not.
  assert.equal(
    await refusal('overflow-bytes.safetensors', stFile({ a: f32([2 ** 31, 2 ** 31], 0, 0) }, 0)),
    "tensor 'a' has shape [2147483648,2147483648] x F32 whose size in bytes overflows 64 bits",
  );
});

test('shape x dtype size must equal end - begin, computed exactly past 2^53', async () => {
  assert.equal(
    await refusal('size.safetensors', stFile({ a: f32([2, 3], 0, 20) }, 20)),
    "tensor 'a' spans 20 bytes but shape [2,3] x F32 needs 24",
  );
  // 3 x (2^52 + 1) = 13510798882111491 is not a double: the count must not be rounded.
  assert.equal(
    await refusal('size-exact.safetensors', stFile({ a: { dtype: 'U8', shape: [3, 2 ** 52 + 1], data_offsets: [0, 8] } }, 8)),
    "tensor 'a' spans 8 bytes but shape [3,4503599627370497] x U8 needs 13510798882111491",
  );
});

test('a valid file with tensors in non-sorted header order opens with the right values', async () => {
  const data = new Uint8Array(8 + 12 + 2);
  new Float32Array(data.buffer, 0, 2).set([1.5, -2]);
  new Float32Array(data.buffer, 8, 3).set([3, 4, 5]);
  data.set([0xff, 0x01], 20);
  const path = join(tmp, 'valid-unsorted.safetensors');
  writeFileSync(path, stFile({
    z_last: { dtype: 'U8', shape: [2], data_offsets: [20, 22] },
    b: f32([3], 8, 20),
    __metadata__: { format: 'pt' },
    empty: f32([0, 4], 8, 8),
    a: f32([1, 2], 0, 8),
    // Dimensions whose product passes 2^53 but ends at 0 elements: valid for the reference too.
    zero_big: f32([2 ** 30, 2 ** 30, 0], 22, 22),
  }, data));
  const ck = await openSafetensors(path);
  try {
    // Data order; at equal offsets (b and the empty tensor at 8) the header's order.
    assert.deepEqual([...ck.tensors.keys()], ['a', 'b', 'empty', 'z_last', 'zero_big']);
    assert.deepEqual(Array.from(await readFloat32(ck.tensors.get('a')!)), [1.5, -2]);
    assert.deepEqual(ck.tensors.get('a')!.shape, [1, 2]);
    assert.deepEqual(Array.from(await readFloat32(ck.tensors.get('b')!)), [3, 4, 5]);
    assert.deepEqual(Array.from(await readFloat32(ck.tensors.get('z_last')!)), [255, 1]);
    assert.deepEqual(Array.from(await readFloat32(ck.tensors.get('empty')!)), []);
    assert.deepEqual(ck.metadata, { format: 'pt' });
  } finally {
    await ck.close();
  }
});

const FD_DIR = '/proc/self/fd';
const openFds = () => readdirSync(FD_DIR).length;
/** 20 refusals leak at least 20 descriptors if a path forgets one; allow 2 for unrelated ones (the runner's). */
const assertNoLeak = (before: number, what: string) => {
  const now = openFds();
  assert.ok(now <= before + 2, `descriptors leaked ${what}: ${before} open before 20 refusals, ${now} after`);
};

/** A 3-shard model; `broken` (1-based) gets bad data offsets, or shard 3 repeats shard 1's tensor. */
function shardedModel(name: string, broken: number | 'duplicate'): { index: string; shards: string[] } {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  const shards = [1, 2, 3].map((i) => join(dir, `model-0000${i}-of-00003.safetensors`));
  const names = ['w1', 'w2', 'w3'];
  shards.forEach((path, i) => {
    const tensor = broken === 'duplicate' && i === 2 ? 'w1' : names[i];
    const header = { [tensor]: broken === i + 1 ? f32([2], 4, 12) : f32([2], 0, 8) };
    writeFileSync(path, stFile(header, broken === i + 1 ? 12 : 8));
  });
  const index = join(dir, 'model.safetensors.index.json');
  writeFileSync(index, JSON.stringify({ weight_map: Object.fromEntries(names.map((n, i) => [n, `model-0000${i + 1}-of-00003.safetensors`])) }));
  return { index, shards };
}

test('a refused shard (2 of 3, 3 of 3, or a tensor in two shards) closes every shard opened: no descriptor leaks', { skip: !existsSync(FD_DIR) && 'no /proc/self/fd' }, async () => {
  const cases: Array<[number | 'duplicate', (shards: string[]) => [string, string]]> = [
    [2, (s) => [s[1], "tensor 'w2' has data_offsets [4, 12] but the first tensor must begin at 0: bytes 0-4 of the data area belong to no tensor"]],
    [3, (s) => [s[2], "tensor 'w3' has data_offsets [4, 12] but the first tensor must begin at 0: bytes 0-4 of the data area belong to no tensor"]],
    ['duplicate', (s) => [s[2], "tensor 'w1' appears in more than one shard"]],
  ];
  for (const [broken, expect] of cases) {
    const { index, shards } = shardedModel(`sharded-${broken}`, broken);
    const [file, problem] = expect(shards);
    let before = 0;
    for (let i = 0; i <= 20; i++) {
      if (i === 1) before = openFds(); // after one warm-up run
      await assert.rejects(openShardedSafetensors(index), (e: unknown) => {
        assert.ok(e instanceof InputError, `expected InputError, got ${e}`);
        assert.equal(e.file, file);
        assert.equal(e.problem, problem);
        return true;
      });
    }
    assertNoLeak(before, `with shard ${broken} refused`);
  }
  // A refused single file is closed too.
  const path = join(tmp, 'leak-single.safetensors');
  writeFileSync(path, stFile({ a: f32([2], 0, 8) }, 12));
  await assert.rejects(openSafetensors(path), InputError);
  const before = openFds();
  for (let i = 0; i < 20; i++) await assert.rejects(openSafetensors(path), InputError);
  assertNoLeak(before, 'by a refused single file');
});
