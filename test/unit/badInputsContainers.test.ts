/**
 * Hostile and unusual containers (issue 13, items 0, 3 and 5): zips that different readers read
 * differently, expanded (stride-0) views, legacy files over 1 MiB, and files that are not regular
 * files. The fixtures come from scripts/bad-inputs/containers.py; FIFOs are made here (a FIFO
 * cannot be committed). Every refusal is one line naming the file, under 1.5 GB and 30 s; every
 * valid file opens under 600 MB.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isInputError } from '../../src/util/errors';
import { runCliMeasured, type MeasuredRun } from '../support/boundedRun';
import { fileSourceWarnings, memorySource, openFileSource } from '../../src/checkpoint/fileSource';
import { openCheckpoint } from '../../src/checkpoint/open';
import { openTorchCheckpoint } from '../../src/checkpoint/torch';
import {
  MAX_READ_ELEMENTS, MAX_VIEW_EXPANSION, VIEW_EXPANSION_ALLOWANCE, readFloat32, readTensorRaw,
} from '../../src/checkpoint/tensorData';
import {
  MAX_ZIP_CENTRAL_DIRECTORY_BYTES, MAX_ZIP_ENTRIES, MAX_ZIP_NAME_BYTES, readZipEntries,
} from '../../src/checkpoint/zip';
import { describeModel, TIED_VALUE_CHECK_MAX_ELEMENTS } from '../../src/model/spec';
import type { ByteSource, Checkpoint, TensorInfo } from '../../src/checkpoint/types';

const ROOT = join(__dirname, '..', '..');
const BAD = join(ROOT, 'test', 'fixtures', 'bad-inputs');
const TINY = join(ROOT, 'test', 'fixtures', 'tiny-grassmann');
const tmp = mkdtempSync(join(tmpdir(), 'gl-bad-containers-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const BAD_MB = 1536;
const BAD_S = 30;
const VALID_MB = 600;

function oneLineRefusal(r: MeasuredRun, file: string, problem: RegExp): void {
  const detail = `exit ${r.code}, ${r.seconds.toFixed(2)} s, ${r.maxRssMB.toFixed(0)} MB, stderr: ${r.stderr.slice(0, 600)}`;
  assert.equal(r.timedOut, false, `timed out: ${detail}`);
  assert.equal(r.code, 1, detail);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `exactly one stderr line: ${detail}`);
  assert.ok(lines[0].includes(file), `names the file ${file}: ${detail}`);
  assert.match(lines[0], problem, detail);
  assert.ok(r.seconds < BAD_S, `under ${BAD_S} s: ${detail}`);
  assert.ok(r.maxRssMB < BAD_MB, `under ${BAD_MB} MB: ${detail}`);
}

function opensWithin(r: MeasuredRun, mb: number): void {
  const detail = `exit ${r.code}, ${r.seconds.toFixed(2)} s, ${r.maxRssMB.toFixed(0)} MB, stderr: ${r.stderr.slice(0, 600)}`;
  assert.equal(r.code, 0, detail);
  assert.ok(r.maxRssMB < mb, `under ${mb} MB: ${detail}`);
  assert.ok(r.seconds < BAD_S, `under ${BAD_S} s: ${detail}`);
}

// ---------------------------------------------------------------------------------------------
// the CLI on each fixture
// ---------------------------------------------------------------------------------------------

const REFUSED: [string, RegExp][] = [
  ['duplicate-data-pkl.pt', /zip entry 'archive\/data\.pkl' appears twice \(entries 0 and 3\)/],
  ['name-mismatch.pt', /zip entry 'archive\/data\.pkl': its local header .* names it 'archive\/data\.pkx'/],
  ['overlapping-entries.pt', /zip entries 'archive\/data\/0' .* and 'archive\/data\/1' .* overlap/],
  ['entry-overlaps-central-directory.pt', /zip entry 'archive\/version' .* overlaps the central directory/],
];

for (const [name, problem] of REFUSED) {
  test(`inspect ${name}: exit 1, one line naming the file and the problem`, () => {
    const file = join(BAD, name);
    oneLineRefusal(runCliMeasured(['inspect', file]), file, problem);
  });
}

test('the duplicate-entry zip runs nothing (its second data.pkl calls posix.system)', () => {
  const marker = '/tmp/grassmann-lens-pwned-duplicate';
  rmSync(marker, { force: true });
  const file = join(BAD, 'duplicate-data-pkl.pt');
  runCliMeasured(['inspect', file]);
  runCliMeasured(['inspect', '--json', file]);
  assert.equal(existsSync(marker), false);
});

const VALID = ['expanded-head.pt', 'legacy-2mb-string.pt', 'legacy-12k-tensors.pt'];
for (const name of VALID) {
  test(`inspect ${name} (valid, unusual): exit 0 under ${VALID_MB} MB`, () => {
    opensWithin(runCliMeasured(['inspect', join(BAD, name)]), VALID_MB);
  });
}

test('expanded-head.pt: inspect says the head is untied without reading 2 GB; running the model refuses the expanded embedding in one line', () => {
  const file = join(BAD, 'expanded-head.pt');
  const r = runCliMeasured(['inspect', file]);
  opensWithin(r, VALID_MB);
  assert.match(r.stdout, /^lm_head: separate$/m);
  assert.match(r.stdout, /values were not compared/);
  const run = runCliMeasured(['run', file, '--text', 'the plane', '--tokenizer', TINY]);
  oneLineRefusal(run, file, /tensor token_embedding\.weight .* expanded \(stride-0 or overlapping\) view of 268435456 elements over 64 stored elements/);
  assert.ok(run.maxRssMB < VALID_MB, `refused under ${VALID_MB} MB: ${run.maxRssMB} MB`);
});

test('a FIFO is refused at once (never opened for reading), by path and by extension', () => {
  for (const name of ['model.pt', 'model.safetensors', 'weights.bin']) {
    const fifo = join(tmp, name);
    execFileSync('mkfifo', [fifo]);
    oneLineRefusal(runCliMeasured(['inspect', fifo], { timeoutMs: 20_000 }), fifo, /is a FIFO \(named pipe\), not a regular file/);
  }
});

test('a shard index whose shard is a FIFO is refused naming the shard, not a hang', () => {
  const dir = mkdtempSync(join(tmp, 'sharded-'));
  copyFileSync(join(TINY, 'model.safetensors'), join(dir, 'model-00002-of-00002.safetensors'));
  const fifo = join(dir, 'model-00001-of-00002.safetensors');
  execFileSync('mkfifo', [fifo]);
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({
    weight_map: { 'extra.weight': 'model-00001-of-00002.safetensors', 'token_embedding.weight': 'model-00002-of-00002.safetensors' },
  }));
  oneLineRefusal(runCliMeasured(['inspect', join(dir, 'model.safetensors.index.json')], { timeoutMs: 20_000 }), fifo, /is a FIFO \(named pipe\), not a regular file/);
  // The folder finds the index, and the same refusal follows.
  oneLineRefusal(runCliMeasured(['inspect', dir], { timeoutMs: 20_000 }), fifo, /is a FIFO/);
});

test('a FIFO index file and a device are refused at once', () => {
  const fifo = join(tmp, 'model.safetensors.index.json');
  execFileSync('mkfifo', [fifo]);
  oneLineRefusal(runCliMeasured(['inspect', fifo], { timeoutMs: 20_000 }), fifo, /is a FIFO/);
  if (existsSync('/dev/zero')) {
    oneLineRefusal(runCliMeasured(['inspect', '/dev/zero'], { timeoutMs: 20_000 }), '/dev/zero', /is a character device, not a regular file/);
  }
});

test('a symbolic link is followed and its real path stated in a warning', async () => {
  const link = join(tmp, 'linked.safetensors');
  symlinkSync(join(TINY, 'model.safetensors'), link);
  const r = runCliMeasured(['inspect', link]);
  opensWithin(r, VALID_MB);
  assert.ok(r.stdout.includes(`${link} is a symbolic link: read ${resolve(TINY, 'model.safetensors')}`), r.stdout.slice(0, 2000));
  const ck = await openCheckpoint(link);
  try {
    assert.ok(ck.warnings[0].includes('is a symbolic link: read'));
  } finally {
    await ck.close();
  }
  const source = await openFileSource(link);
  assert.deepEqual(fileSourceWarnings(source), [`${link} is a symbolic link: read ${resolve(TINY, 'model.safetensors')}`]);
  await source.close();
});

// ---------------------------------------------------------------------------------------------
// the zip reader directly
// ---------------------------------------------------------------------------------------------

interface ZipPart { name: string; data: Uint8Array; localName?: string; size?: number; at?: number }

function u16(v: number): number[] { return [v & 0xff, (v >>> 8) & 0xff]; }
function u32(v: number): number[] { return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff]; }
function u64(v: number): number[] { return [...u32(v % 2 ** 32), ...u32(Math.floor(v / 2 ** 32))]; }
const enc = (s: string): number[] => [...new TextEncoder().encode(s)];

/** A STORED zip built byte by byte (CRCs left 0: the reader does not check them). */
function zipBytes(parts: ZipPart[]): Uint8Array {
  const body: number[] = [];
  const central: number[] = [];
  for (const p of parts) {
    let offset = p.at ?? body.length;
    if (p.at === undefined) {
      offset = body.length;
      const n = enc(p.localName ?? p.name);
      body.push(...u32(0x04034b50), ...u16(20), ...u16(0), ...u16(0), ...u16(0), ...u16(0), ...u32(0), ...u32(p.data.length), ...u32(p.data.length), ...u16(n.length), ...u16(0), ...n, ...p.data);
    }
    const n = enc(p.name);
    const size = p.size ?? p.data.length;
    central.push(...u32(0x02014b50), ...u16(20), ...u16(20), ...u16(0), ...u16(0), ...u16(0), ...u16(0), ...u32(0), ...u32(size), ...u32(size), ...u16(n.length), ...u16(0), ...u16(0), ...u16(0), ...u16(0), ...u32(0), ...u32(offset), ...n);
  }
  const eocd = [...u32(0x06054b50), ...u16(0), ...u16(0), ...u16(parts.length), ...u16(parts.length), ...u32(central.length), ...u32(body.length), ...u16(0)];
  return new Uint8Array([...body, ...central, ...eocd]);
}

/** Only the zip64 end records, claiming `entries` entries and a `cdSize`-byte directory at 0. */
function zip64EndOnly(entries: number, cdSize: number): Uint8Array {
  const rec = [...u32(0x06064b50), ...u64(44), ...u16(45), ...u16(45), ...u32(0), ...u32(0), ...u64(entries), ...u64(entries), ...u64(cdSize), ...u64(0)];
  const locator = [...u32(0x07064b50), ...u32(0), ...u64(0), ...u32(1)];
  const eocd = [...u32(0x06054b50), ...u16(0), ...u16(0), ...u16(0xffff), ...u16(0xffff), ...u32(0xffffffff), ...u32(0xffffffff), ...u16(0)];
  return new Uint8Array([...rec, ...locator, ...eocd]);
}

async function refusal(source: ByteSource, problem: RegExp): Promise<void> {
  await assert.rejects(readZipEntries(source), (e: unknown) => {
    assert.ok(isInputError(e), String(e));
    assert.equal(e.file, source.path);
    assert.match(e.problem, problem);
    assert.ok(!e.message.includes('\n'));
    return true;
  });
}

const bytes = (n: number, v = 1): Uint8Array => new Uint8Array(n).fill(v);

test('zip reader: duplicate names are refused naming the entry (also when they differ only in case)', async () => {
  await refusal(memorySource('dup.zip', zipBytes([
    { name: 'archive/data.pkl', data: bytes(4) }, { name: 'archive/data/0', data: bytes(4) }, { name: 'archive/data.pkl', data: bytes(8) },
  ])), /^zip entry 'archive\/data\.pkl' appears twice \(entries 0 and 2\)/);
  await refusal(memorySource('case.zip', zipBytes([
    { name: 'archive/data.pkl', data: bytes(4) }, { name: 'archive/DATA.pkl', data: bytes(4) },
  ])), /'archive\/DATA\.pkl' appears twice .*as 'archive\/data\.pkl' and 'archive\/DATA\.pkl'/);
  const source = await openFileSource(join(BAD, 'duplicate-data-pkl.pt'));
  try {
    await refusal(source, /appears twice/);
  } finally {
    await source.close();
  }
});

test('zip reader: a local header naming another file is refused, naming both', async () => {
  await refusal(memorySource('mismatch.zip', zipBytes([{ name: 'archive/data.pkl', data: bytes(4), localName: 'archive/evil.pkl' }])),
    /^zip entry 'archive\/data\.pkl': its local header \(offset 0\) names it 'archive\/evil\.pkl'/);
  await refusal(memorySource('longer.zip', zipBytes([{ name: 'a/b', data: bytes(4), localName: 'a/b-and-more' }])), /names it 'a\/b-and-more'/);
});

test('zip reader: overlapping entries, and entries reaching into the central directory, are refused by name', async () => {
  // Two central records for one local header: the second's name differs, so the local name check
  // refuses it; an embedded header with its own name is caught as an overlap.
  const inner = zipBytes([{ name: 'x/two', data: bytes(4, 2) }]).subarray(0, 30 + 5 + 4);
  const outer = new Uint8Array([...bytes(4), ...inner]);
  await refusal(memorySource('overlap.zip', zipBytes([
    { name: 'x/one', data: outer }, { name: 'x/two', data: bytes(4, 2), at: 30 + 5 + 4 },
  ])), /^zip entries 'x\/one' \(bytes 0-78\) and 'x\/two' \(bytes 39-78\) overlap/);
  await refusal(memorySource('same-header.zip', zipBytes([
    { name: 'x/one', data: bytes(4) }, { name: 'x/one-again', data: bytes(4), at: 0 },
  ])), /'x\/one-again': its local header \(offset 0\) names it 'x\/one'/);
  await refusal(memorySource('into-cd.zip', zipBytes([{ name: 'x/one', data: bytes(4), size: 4 + 20 }])),
    /^zip entry 'x\/one' \(bytes 0-59\) overlaps the central directory \(bytes 39-/);
});

test('zip reader: budgets on entries, central directory size and name length, each named', async () => {
  await refusal(memorySource('many.zip', zip64EndOnly(MAX_ZIP_ENTRIES + 1, (MAX_ZIP_ENTRIES + 1) * 46)),
    new RegExp(`has ${MAX_ZIP_ENTRIES + 1} entries, over the limit of ${MAX_ZIP_ENTRIES} entries \\(MAX_ZIP_ENTRIES\\)`));
  await refusal(memorySource('big-cd.zip', zip64EndOnly(1, MAX_ZIP_CENTRAL_DIRECTORY_BYTES + 1)),
    new RegExp(`central directory is ${MAX_ZIP_CENTRAL_DIRECTORY_BYTES + 1} bytes, over the limit of ${MAX_ZIP_CENTRAL_DIRECTORY_BYTES} bytes`));
  const long = 'archive/' + 'n'.repeat(MAX_ZIP_NAME_BYTES);
  await refusal(memorySource('long-name.zip', zipBytes([{ name: long, data: bytes(4) }])),
    new RegExp(`entry 0 has a ${long.length}-byte name, over the limit of ${MAX_ZIP_NAME_BYTES} bytes \\(MAX_ZIP_NAME_BYTES\\)`));
  // Names with control characters are shown escaped, on one line.
  await refusal(memorySource('ctl.zip', zipBytes([{ name: 'a/\n\x1b[31m', data: bytes(4) }, { name: 'a/\n\x1b[31m', data: bytes(4) }])),
    /zip entry 'a\/\\x0a\\x1b\[31m' appears twice/);
});

test('zip reader: a well-formed archive still reads, entries in order with their data offsets', async () => {
  const entries = await readZipEntries(memorySource('ok.zip', zipBytes([{ name: 'a/one', data: bytes(3) }, { name: 'a/two', data: bytes(5) }])));
  assert.deepEqual(entries.map((e) => [e.name, e.dataOffset, e.size]), [['a/one', 35, 3], ['a/two', 73, 5]]);
});

test('torch zip: data.pkl is read from the folder of the first entry, as torch.load does', async () => {
  const file = join(tmp, 'other-folder.pt');
  // A harmless-looking data.pkl in a shallower folder is not what torch.load would read.
  writeFileSync(file, zipBytes([
    { name: 'archive/version', data: new TextEncoder().encode('3\n') },
    { name: 'data.pkl', data: new Uint8Array([0x80, 0x02, 0x7d, 0x2e]) },
  ]));
  await assert.rejects(openTorchCheckpoint(file), (e: unknown) => isInputError(e) && /without 'archive\/data\.pkl' \(torch\.load reads data\.pkl from the folder of the first entry\)/.test(e.problem));
  writeFileSync(file, zipBytes([{ name: 'data.pkl', data: new Uint8Array([0x80, 0x02, 0x7d, 0x2e]) }]));
  await assert.rejects(openTorchCheckpoint(file), (e: unknown) => isInputError(e) && /first zip entry 'data\.pkl' is not in a folder/.test(e.problem));
});

// ---------------------------------------------------------------------------------------------
// views and legacy files
// ---------------------------------------------------------------------------------------------

async function withCk<T>(path: string, f: (ck: Checkpoint) => Promise<T>): Promise<T> {
  const ck = await openCheckpoint(path);
  try {
    return await f(ck);
  } finally {
    await ck.close();
  }
}

test('an expanded view past the budget is refused before anything is allocated; a small one reads', async () => {
  await withCk(join(BAD, 'expanded-head.pt'), async (ck) => {
    const head = ck.tensors.get('lm_head.weight')!;
    assert.deepEqual([head.shape, head.strides, head.storage.byteLength], [[4194304, 64], [0, 1], 256]);
    const before = process.memoryUsage().rss;
    await assert.rejects(readFloat32(head), (e: unknown) => isInputError(e) && /lm_head\.weight .* expanded .* over the limit of 16x/.test(e.problem));
    assert.ok(process.memoryUsage().rss - before < 64 << 20);
    // 1000 expanded rows are within the allowance: read, each row the stored one.
    const rows: TensorInfo = { ...head, shape: [1000, 64] };
    const values = await readFloat32(rows);
    assert.equal(values.length, 64_000);
    assert.deepEqual([...values.subarray(64 * 999)], [...values.subarray(0, 64)]);
  });
  // A storage of n float32 zeros, never allocated whole: reads return fresh zeros.
  const storageOf = (n: number) => ({
    source: { path: 'm', size: n * 4, read: async (_o: number, length: number) => new Uint8Array(length), close: async () => undefined },
    byteOffset: 0, byteLength: n * 4, key: '0',
  });
  const view = (shape: number[], strides: number[], n: number): TensorInfo => ({ name: 'v', dtype: 'F32', shape, strides, elementOffset: 0, storage: storageOf(n) });
  // Exactly at the limit reads; one more element is refused.
  const limit = MAX_VIEW_EXPANSION * 4 + VIEW_EXPANSION_ALLOWANCE;
  assert.equal((await readTensorRaw(view([limit / 4, 4], [0, 1], 4))).length, limit);
  await assert.rejects(readTensorRaw(view([limit / 4 + 1, 4], [0, 1], 4)), (e: unknown) => isInputError(e) && /MAX_VIEW_EXPANSION/.test(e.problem));
  // A transpose is not an expansion; a slice far into a sparse view is bounded by MAX_READ_ELEMENTS.
  assert.deepEqual([...(await readTensorRaw(view([2, 2], [1, 2], 4)))], [0, 0, 0, 0]);
  await assert.rejects(readTensorRaw(view([2, 1], [MAX_READ_ELEMENTS, 1], MAX_READ_ELEMENTS + 1)), (e: unknown) => isInputError(e) && /MAX_READ_ELEMENTS/.test(e.problem));
});

test('tied-head check: separate storages too large to compare are untied with a warning, without reading them', async () => {
  await withCk(join(BAD, 'expanded-head.pt'), async (ck) => {
    const before = process.memoryUsage().rss;
    const result = await describeModel(ck);
    assert.ok(result.recognized);
    assert.equal(result.spec.variant.tiedLmHead, false);
    assert.equal(result.spec.roles.global.lmHead, 'lm_head.weight');
    assert.ok(result.spec.warnings.some((w) => w.includes(`values were not compared (limit ${TIED_VALUE_CHECK_MAX_ELEMENTS} elements each)`)), result.spec.warnings.join('\n'));
    assert.ok(process.memoryUsage().rss - before < 128 << 20);
  });
});

test('legacy files over 1 MiB open: a 2 MB string, 12,000 tensors', async () => {
  await withCk(join(BAD, 'legacy-2mb-string.pt'), async (ck) => {
    assert.equal(ck.format, 'torch-legacy');
    assert.equal(String(ck.metadata.notes).length, 2_000_000);
    assert.deepEqual([...(await readFloat32(ck.tensors.get('weight')!))], Array.from({ length: 16 }, (_, i) => i));
  });
  await withCk(join(BAD, 'legacy-12k-tensors.pt'), async (ck) => {
    assert.equal(ck.format, 'torch-legacy');
    assert.equal(ck.tensors.size, 12_000);
    assert.deepEqual([...(await readFloat32(ck.tensors.get('blocks.11999.a_rather_long_parameter_name.weight')!))], [11999, 11999]);
  });
});

test('a legacy file whose pickle is corrupt past 1 MiB is still refused as corrupt', async () => {
  const file = join(tmp, 'legacy-cut.pt');
  const { readFileSync } = await import('node:fs');
  const full = readFileSync(join(BAD, 'legacy-2mb-string.pt'));
  writeFileSync(file, full.subarray(0, 1_500_000));
  await assert.rejects(openTorchCheckpoint(file), (e: unknown) => isInputError(e) && e.file === file);
});
