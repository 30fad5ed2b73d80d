/**
 * Hostile JSON and tokenizer inputs (issue 13, items 1-3 and 5): deep nesting in safetensors
 * headers, shard indexes, config.json and tokenizer.json; prototype keys in a shard index; huge
 * headers and many tensors; a 10 MB text for `run --file`; WordPiece with a huge
 * max_input_chars_per_word. Committed fixtures come from scripts/bad-inputs/json.py; the large
 * ones are generated here in a temporary folder.
 *
 * Each bad file: exit 1, one stderr line naming the file and the problem, under 1.5 GB and 30 s.
 * Each valid-but-unusual file: exit 0 under 600 MB.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { configValues } from '../../src/model/config';
import { ALPHAXIV } from '../../src/model/architecture';
import { tokenizerFromJson } from '../../src/tokenizer';
import { MAX_WORDPIECE_WORD_CHARS } from '../../src/tokenizer/models';
import { InputError } from '../../src/util/errors';
import { MAX_JSON_DEPTH, nullPrototype, parseJsonBounded, previewJson, scanJson, valueDepth } from '../../src/util/jsonLimits';
import { CLI, runCliMeasured, type MeasuredRun } from '../support/boundedRun';

const root = join(__dirname, '..', '..');
const bad = join(root, 'test', 'fixtures', 'bad-inputs');
const tiny = join(root, 'test', 'fixtures', 'tiny-grassmann');
const tinyModel = join(tiny, 'model.safetensors');

const BAD_MAX_MB = 1500;
const BAD_MAX_S = 30;
const VALID_MAX_MB = 600;

let tmp = '';

before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'gl-bad-json-'));
});
after(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

function deepList(depth: number, leaf = '1'): string {
  return '['.repeat(depth) + leaf + ']'.repeat(depth);
}

/** A safetensors file of `n` one-element F32 tensors named t<pad><i>. */
function manyTensors(file: string, n: number, pad = ''): void {
  const parts: string[] = [];
  for (let i = 0; i < n; i++) parts.push(`"t${pad}${i}":{"dtype":"F32","shape":[1],"data_offsets":[${4 * i},${4 * i + 4}]}`);
  let header = `{${parts.join(',')}}`;
  header += ' '.repeat((8 - (header.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  writeFileSync(file, Buffer.concat([len, Buffer.from(header), Buffer.alloc(4 * n)]));
}

function expectRefused(r: MeasuredRun, file: string, problem: RegExp): void {
  const lines = r.stderr.trim().split('\n');
  assert.equal(r.code, 1, `exit ${r.code}: ${r.stderr.slice(0, 500)}`);
  assert.equal(lines.length, 1, `one stderr line, got ${lines.length}: ${r.stderr.slice(0, 500)}`);
  assert.ok(lines[0].includes(file), `names ${file}: ${lines[0].slice(0, 300)}`);
  assert.match(lines[0], problem);
  assert.ok(lines[0].length < 1000, `a bounded line (${lines[0].length} characters)`);
  assert.ok(r.seconds < BAD_MAX_S, `${r.seconds.toFixed(1)} s`);
  assert.ok(!(r.maxRssMB > BAD_MAX_MB), `${r.maxRssMB.toFixed(0)} MB`);
}

function expectOpens(r: MeasuredRun): void {
  assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr.slice(0, 500)}`);
  assert.ok(r.seconds < BAD_MAX_S, `${r.seconds.toFixed(1)} s`);
  assert.ok(!(r.maxRssMB > VALID_MAX_MB), `${r.maxRssMB.toFixed(0)} MB`);
}

describe('bounded JSON helpers', () => {
  test('scanJson measures depth and top-level entries without recursion', () => {
    assert.deepEqual(scanJson('{"a": [1, {"b": "}]"}], "c": 2}'), { depth: 3, topLevelEntries: 2 });
    assert.deepEqual(scanJson('[]'), { depth: 1, topLevelEntries: 0 });
    assert.deepEqual(scanJson('"x"'), { depth: 0, topLevelEntries: 0 });
    assert.equal(scanJson(deepList(1_000_000)).depth, MAX_JSON_DEPTH + 1);
  });

  test('parseJsonBounded refuses deep nesting with the limit, and gives null-prototype objects', () => {
    assert.throws(() => parseJsonBounded(deepList(100_000), 'f.json', 'the config'), (e: unknown) => e instanceof InputError && /f\.json: the config has nesting deeper than 64/.test(e.message));
    const v = parseJsonBounded('{"__proto__": {"polluted": 1}, "constructor": "x", "a": [{"b": 1}]}', 'f.json', 'x') as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(v), null);
    assert.equal((v.__proto__ as Record<string, unknown>).polluted, 1);
    assert.equal(v.constructor, 'x');
    assert.equal(Object.getPrototypeOf((v.a as unknown[])[0]), null);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  test('previewJson is bounded on deep, long and cyclic values', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 200_000; i++) deep = [deep];
    assert.equal(previewJson(deep), '[[[[[...]]]]]');
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    assert.ok(previewJson(cyclic).length <= 203);
    assert.ok(previewJson('x'.repeat(1_000_000)).length <= 203);
    assert.ok(previewJson(Array.from({ length: 1_000_000 }, (_, i) => i)).length <= 203);
    assert.equal(previewJson({ a: [1, 'b', null] }), '{"a":[1,"b",null]}');
    assert.equal(valueDepth(deep), MAX_JSON_DEPTH + 1);
    assert.equal(valueDepth(cyclic), MAX_JSON_DEPTH + 1);
    assert.equal(Object.getPrototypeOf(nullPrototype({ a: { b: 1 } }).a), null);
  });

  test('a config saved in a checkpoint with deep window_sizes is an InputError with a bounded message', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 200_000; i++) deep = [deep];
    const dims = { vocabSize: 10, modelDim: 4, layers: 1, reducedDim: 2, pairCount: 1, ffDim: 8, maxPositions: 0 };
    const layerDims = [{ reducedDim: 2, pairCount: 1, ffDim: 8 }];
    assert.throws(
      () => configValues('ckpt#config', { window_sizes: deep }, dims, layerDims, ALPHAXIV),
      (e: unknown) => e instanceof InputError && /window_sizes must be a non-empty list/.test(e.message) && e.message.length < 400,
    );
    assert.throws(
      () => configValues('ckpt#config', { vocab_size: deep }, dims, layerDims, ALPHAXIV),
      (e: unknown) => e instanceof InputError && /vocab_size = \[\[\[/.test(e.message) && e.message.length < 400,
    );
  });
});

describe('tokenizer limits', () => {
  const wordpiece = (max: number) => tokenizerFromJson({
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: max, vocab: { '[UNK]': 0, a: 1, '##a': 2, aa: 3, '##aa': 4 } },
    pre_tokenizer: { type: 'BertPreTokenizer' },
  }, 'wp.json');

  test(`WordPiece caps max_input_chars_per_word at ${MAX_WORDPIECE_WORD_CHARS}; a 100k-character word is one [UNK], fast`, () => {
    const t = wordpiece(1e9);
    const started = Date.now();
    assert.deepEqual(t.encode('a'.repeat(60_000)).map((x) => x.id), [0]);
    // Past ENCODE_MAX_CHUNK_CHARS (65,536) without a place to cut, the text is cut there: two [UNK]s.
    assert.deepEqual(t.encode('a'.repeat(100_000)).map((x) => x.id), [0, 0]);
    assert.deepEqual(t.encode('a'.repeat(MAX_WORDPIECE_WORD_CHARS)).map((x) => x.id), Array.from({ length: MAX_WORDPIECE_WORD_CHARS / 2 }, (_, i) => (i === 0 ? 3 : 4)));
    assert.ok(Date.now() - started < 5000);
  });

  test('encodeBounded gives the first tokens of the whole encoding and stops early', () => {
    const json = JSON.parse(readFileSync(join(tiny, 'tokenizer.json'), 'utf8'));
    const t = tokenizerFromJson(json, 'tiny');
    let text = readFileSync(join(tiny, 'eval.txt'), 'utf8');
    while (text.length < 100_000) text += `\n${text}`;
    const all = t.encode(text);
    const start = t.encodeBounded!(text, { maxTokens: 300 });
    assert.equal(start.complete, false);
    assert.ok(start.charsRead < text.length);
    assert.ok(start.tokens.length >= 300);
    assert.deepEqual(start.tokens.slice(0, 300), all.slice(0, 300));
    const whole = t.encodeBounded!(text);
    assert.equal(whole.complete, true);
    assert.deepEqual(whole.tokens, all);
  });

  test('a BPE word of 30,000 characters is merged in bounded pieces', () => {
    const t = tokenizerFromJson({
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, use_regex: true },
      model: { type: 'BPE', vocab: { a: 0, aa: 1, aaaa: 2 }, merges: ['a a', 'aa aa'] },
    }, 'bpe.json');
    const tokens = t.encode('a'.repeat(30_000));
    assert.equal(tokens.length, 7500);
    assert.ok(tokens.every((x) => x.id === 2));
    assert.deepEqual([tokens[0].start, tokens[tokens.length - 1].end], [0, 30_000]);
  });
});

describe('the CLI on hostile JSON files', () => {
  assert.ok(existsSync(CLI), 'npm run build first');

  for (const name of ['st-deep-shape.safetensors', 'st-deep-dtype.safetensors', 'st-deep-offsets.safetensors', 'st-deep-metadata.safetensors']) {
    test(`inspect ${name}: refused, nesting deeper than 64`, () => {
      const file = join(bad, name);
      expectRefused(runCliMeasured(['inspect', file]), file, /nesting deeper than 64/);
    });
  }

  test('a shard index with weight_map keys __proto__, constructor, toString opens (the shard has those tensors)', () => {
    const r = runCliMeasured(['inspect', join(bad, 'index-proto-keys', 'model.safetensors.index.json')]);
    expectOpens(r);
    for (const name of ['__proto__', 'constructor', 'toString']) assert.match(r.stdout, new RegExp(`\\b${name}\\s+F32`));
  });

  test('a shard index listing constructor / hasOwnProperty that the shard lacks: refused, naming the tensor', () => {
    const file = join(bad, 'index-proto-missing', 'model.safetensors.index.json');
    expectRefused(runCliMeasured(['inspect', file]), file, /tensor 'constructor' is listed in the index but missing/);
  });

  test('a shard index nested deep: refused', () => {
    const file = join(bad, 'index-deep', 'model.safetensors.index.json');
    expectRefused(runCliMeasured(['inspect', file]), file, /shard index has nesting deeper than 64/);
  });

  for (const name of ['config-deep-window-sizes.json', 'config-deep-vocab-size.json']) {
    test(`--config ${name}: refused; beside the checkpoint: ignored with a warning`, () => {
      const file = join(bad, name);
      expectRefused(runCliMeasured(['inspect', tinyModel, '--config', file]), file, /the config has nesting deeper than 64/);
      const dir = mkdtempSync(join(tmp, 'config-'));
      copyFileSync(tinyModel, join(dir, 'model.safetensors'));
      copyFileSync(file, join(dir, 'config.json'));
      const r = runCliMeasured(['inspect', join(dir, 'model.safetensors')]);
      expectOpens(r);
      assert.match(r.stdout + r.stderr, /ignored .*config\.json: the config has nesting deeper than 64/);
    });
  }

  for (const [name, problem] of [
    ['tokenizer-deep-normalizer.json', /nesting deeper than 64/],
    ['tokenizer-deep-pretokenizer.json', /nesting deeper than 64/],
    ['tokenizer-sequence-20-deep.json', /Sequences nested deeper than 16/],
  ] as const) {
    test(`run --tokenizer ${name}: refused`, () => {
      const file = join(bad, name);
      expectRefused(runCliMeasured(['run', tinyModel, '--tokenizer', file, '--text', 'aa b']), file, problem);
    });
  }

  test('run --tokenizer tokenizer-sequence-4-deep.json: opens', () => {
    expectOpens(runCliMeasured(['run', tinyModel, '--tokenizer', join(bad, 'tokenizer-sequence-4-deep.json'), '--text', 'aa b']));
  });

  test('WordPiece with max_input_chars_per_word = 1e9 on a 100k-character word: runs, bounded', () => {
    const text = join(tmp, 'word-100k.txt');
    writeFileSync(text, 'a'.repeat(100_000));
    expectOpens(runCliMeasured(['run', tinyModel, '--tokenizer', join(bad, 'tokenizer-wordpiece-huge-max-chars.json'), '--file', text]));
  });

  test('a valid safetensors with 130,000 tiny tensors: inspect opens it', () => {
    const file = join(tmp, 'tensors-130k.safetensors');
    manyTensors(file, 130_000);
    const r = runCliMeasured(['inspect', file]);
    expectOpens(r);
    assert.match(r.stdout, /t129999/);
  });

  test('250,001 tensors: refused with the limit', () => {
    const file = join(tmp, 'tensors-250001.safetensors');
    manyTensors(file, 250_001);
    expectRefused(runCliMeasured(['inspect', file]), file, /more than the limit of 250000/);
  });

  test('a 100 MB header of 900,000 tensors: refused with the limit, before it is parsed', () => {
    const file = join(tmp, 'header-100mb.safetensors');
    manyTensors(file, 900_000, 'x'.repeat(40));
    expectRefused(runCliMeasured(['inspect', file]), file, /900000 entries, more than the limit of 250000 tensors per file/);
  });

  test('run --file of a 10 MB text tokenises only its start: exit 0, bounded, with the truncation warning', () => {
    const file = join(tmp, 'text-10mb.txt');
    const base = readFileSync(join(tiny, 'eval.txt'), 'utf8');
    writeFileSync(file, base.repeat(Math.ceil(10_000_000 / base.length)).slice(0, 10_000_000));
    const r = runCliMeasured(['run', tinyModel, '--file', file, '--json']);
    expectOpens(r);
    const report = JSON.parse(r.stdout);
    assert.equal(report.ids.length, 128);
    assert.equal(report.truncated.kept, 128);
    assert.ok(report.truncated.total > 128);
    assert.ok(report.warnings.some((w: string) => /the text has at least \d+ tokens .*only the first 128 were run/.test(w)), report.warnings.join('; '));
  });

  test('run --file of a text past MAX_INPUT_TEXT_BYTES (64 MiB): refused with the limit', () => {
    const file = join(tmp, 'text-65mb.txt');
    writeFileSync(file, Buffer.alloc(65 << 20, 0x61));
    expectRefused(runCliMeasured(['run', tinyModel, '--file', file]), file, /more than the limit of 67108864 bytes/);
  });

  test('eval --data and prune --data past MAX_EVAL_TEXT_BYTES (16 MiB): refused with the limit', () => {
    const file = join(tmp, 'text-17mb.txt');
    writeFileSync(file, Buffer.alloc(17 << 20, 0x61));
    expectRefused(runCliMeasured(['eval', tinyModel, '--data', file]), file, /evaluation text is \d+ bytes, more than the limit of 16777216 bytes/);
    expectRefused(runCliMeasured(['prune', tinyModel, '--data', file, '--out', join(tmp, 'pruned')]), file, /more than the limit of 16777216 bytes/);
  });
});
