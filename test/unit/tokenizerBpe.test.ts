import { strict as assert } from 'node:assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { type Token, loadTokenizer, tokenizerFromJson } from '../../src/tokenizer';
import { InputError } from '../../src/util/errors';

/*
 * A hand-made GPT-2-style byte-level BPE. Byte characters (GPT-2's bytes-to-unicode table):
 *   space 0x20 -> "Ġ" (U+0120: the 33rd non-printable byte, 0x100 + 32)
 *   "é" = C3 A9 -> "Ã" "©" (printable Latin-1 bytes stand for themselves)
 *   "😀" = F0 9F 98 80 -> "ð" "Ł" "ĺ" "Ģ" (0x9F, 0x98, 0x80 are non-printable: 0x100 + 33 + (b - 0x7F))
 * Merge ranks are the list order; the expected tokens below are derived from them by hand.
 */
const VOCAB: Record<string, number> = {
  '<|endoftext|>': 0,
  h: 1, e: 2, l: 3, o: 4, w: 5, r: 6, d: 7, Ġ: 8, c: 9, a: 10, f: 11,
  Ã: 12, '©': 13, ð: 14, Ł: 15, ĺ: 16, Ģ: 17,
  he: 18, ll: 19, hell: 20, hello: 21, Ġw: 22, or: 23, Ġwor: 24,
  'Ã©': 25, 'fÃ©': 26, Ġc: 27, 'afÃ©': 28, ðŁ: 29, ĠðŁ: 30,
};
const MERGES = [
  'h e', 'l l', 'he ll', 'hell o', // hello
  'Ġ w', 'o r', 'Ġw or', // " wor" (then "l", "d" stay single)
  'Ã ©', 'f Ã©', 'Ġ c', 'a fÃ©', // " café" -> "Ġc" + "afÃ©"
  'ð Ł', 'Ġ ðŁ', // " 😀" -> "ĠðŁ" + "ĺ" + "Ģ": the emoji's bytes end up in three tokens
];

/** The parts of the tokenizer.json that tests change. */
interface Gpt2Json {
  [field: string]: unknown;
  pre_tokenizer: unknown;
  post_processor: unknown;
  decoder: unknown;
  model: Record<string, unknown> & { vocab: Record<string, number>; merges: unknown[] };
}

function gpt2Json(options: { addPrefixSpace?: boolean; trimOffsets?: boolean; pairMerges?: boolean } = {}): Gpt2Json {
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [{ id: 0, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: true, special: true }],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: options.addPrefixSpace ?? false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: options.trimOffsets ?? false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      vocab: VOCAB,
      merges: options.pairMerges ? MERGES.map((m) => m.split(' ')) : MERGES,
    },
  };
}

function rows(text: string, tokens: Token[]): Array<[string, number, number, number, string]> {
  return tokens.map((t) => [t.text, t.id, t.start, t.end, text.slice(t.start, t.end)]);
}

const TEXT = 'hello world café 😀';
//            0    5     11   16 17..19 (the emoji is two UTF-16 units)

test('byte-level BPE: exact ids and spans, leading "Ġ" spaces and a multi-byte character', () => {
  const t = tokenizerFromJson(gpt2Json(), 'gpt2-tiny/tokenizer.json');
  assert.equal(t.kind, 'bpe');
  assert.equal(t.vocabSize, 31);
  assert.equal(TEXT.length, 19);
  assert.deepEqual(rows(TEXT, t.encode(TEXT)), [
    ['hello', 21, 0, 5, 'hello'],
    ['Ġwor', 24, 5, 9, ' wor'],
    ['l', 3, 9, 10, 'l'],
    ['d', 7, 10, 11, 'd'],
    ['Ġc', 27, 11, 13, ' c'],
    ['afÃ©', 28, 13, 16, 'afé'],
    ['ĠðŁ', 30, 16, 19, ' 😀'],
    // The emoji's last two bytes are tokens of their own; each covers the whole emoji.
    ['ĺ', 16, 17, 19, '😀'],
    ['Ģ', 17, 17, 19, '😀'],
  ]);
  // The ByteLevel post-processor adds no special tokens.
  assert.deepEqual(t.encode(TEXT, { addSpecialTokens: false }), t.encode(TEXT));
  // Merge lists written as ["a", "b"] pairs (newer tokenizer.json files) mean the same.
  const pairs = tokenizerFromJson(gpt2Json({ pairMerges: true }), 'pairs.json');
  assert.deepEqual(pairs.encode(TEXT), t.encode(TEXT));
});

test('byte-level BPE: add_prefix_space adds a "Ġ" with an empty span; trim_offsets leaves spaces out of spans', () => {
  const prefixed = tokenizerFromJson(gpt2Json({ addPrefixSpace: true }), 'prefixed.json');
  assert.deepEqual(rows('hello', prefixed.encode('hello')), [
    ['Ġ', 8, 0, 0, ''],
    ['hello', 21, 0, 5, 'hello'],
  ]);
  // A text that already starts with a space gets no second one.
  assert.deepEqual(rows(' c', prefixed.encode(' c')), [['Ġc', 27, 0, 2, ' c']]);

  const trimmed = tokenizerFromJson(gpt2Json({ trimOffsets: true }), 'trimmed.json');
  assert.deepEqual(rows(TEXT, trimmed.encode(TEXT)).map((r) => r.slice(2)), [
    [0, 5, 'hello'],
    [6, 9, 'wor'],
    [9, 10, 'l'],
    [10, 11, 'd'],
    [12, 13, 'c'],
    [13, 16, 'afé'],
    [17, 19, '😀'],
    [17, 19, '😀'],
    [17, 19, '😀'],
  ]);
  // A token that is only a space keeps an empty span at its end ("ĠĠ" has no merge: two tokens).
  assert.deepEqual(rows('a  ', trimmed.encode('a  ')), [
    ['a', 10, 0, 1, 'a'],
    ['Ġ', 8, 2, 2, ''],
    ['Ġ', 8, 3, 3, ''],
  ]);
});

test('byte-level BPE: the best-ranked pair merges first; equal ranks merge leftmost first', () => {
  const json = gpt2Json();
  json.model.vocab = { a: 0, b: 1, c: 2, x: 3, ab: 4, bc: 5, xx: 6 };
  json.model.merges = ['b c', 'a b', 'x x'];
  const t = tokenizerFromJson(json, 'ranks.json');
  // In "abc" the pairs "a b" and "b c" overlap; "b c" has the better rank, so "a" stays alone
  // (merging left to right would give "ab" "c").
  assert.deepEqual(rows('abc', t.encode('abc')), [
    ['a', 0, 0, 1, 'a'],
    ['bc', 5, 1, 3, 'bc'],
  ]);
  assert.deepEqual(t.encode('abab').map((x) => x.text), ['ab', 'ab']);
  // Three "x": both pairs have the same rank; the left one merges.
  assert.deepEqual(rows('xxx', t.encode('xxx')), [
    ['xx', 6, 0, 2, 'xx'],
    ['x', 3, 2, 3, 'x'],
  ]);
});

test('byte-level BPE: added tokens in the text, and characters with no byte in the vocabulary', () => {
  const t = tokenizerFromJson(gpt2Json(), 'added.json');
  const text = 'hello<|endoftext|> world';
  assert.deepEqual(rows(text, t.encode(text)), [
    ['hello', 21, 0, 5, 'hello'],
    ['<|endoftext|>', 0, 5, 18, '<|endoftext|>'],
    ['Ġwor', 24, 18, 22, ' wor'],
    ['l', 3, 22, 23, 'l'],
    ['d', 7, 23, 24, 'd'],
  ]);
  assert.equal(t.encode(text)[1]!.special, true);
  // "z" has no byte token and the model has no unk_token: it is dropped, as the Rust crate does.
  assert.deepEqual(rows('hezl', t.encode('hezl')), [
    ['he', 18, 0, 2, 'he'],
    ['l', 3, 3, 4, 'l'],
  ]);
});

test('byte-level BPE decode: bytes back to UTF-8, partial characters as U+FFFD', () => {
  const t = tokenizerFromJson(gpt2Json(), 'decode.json');
  const ids = t.encode(TEXT).map((x) => x.id);
  assert.deepEqual(ids, [21, 24, 3, 7, 27, 28, 30, 16, 17]);
  assert.equal(t.decode(ids), TEXT);
  assert.equal(t.decode([24]), ' wor');
  assert.equal(t.decode([25]), 'é');
  assert.equal(t.decode([16]), '\uFFFD');
  assert.equal(t.decode([0, 21]), '<|endoftext|>hello');
  assert.equal(t.decode([0, 21], { skipSpecialTokens: true }), 'hello');
});

test('byte-level BPE loads from a file, and unsupported BPE flavours are InputErrors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gl-bpe-'));
  const file = join(dir, 'tokenizer.json');
  writeFileSync(file, JSON.stringify(gpt2Json()));
  const t = loadTokenizer(dir);
  assert.equal(t.source, file);
  assert.deepEqual(t.encode(TEXT).map((x) => x.id), [21, 24, 3, 7, 27, 28, 30, 16, 17]);

  const variants: Array<[string, (j: Gpt2Json) => void, RegExp]> = [
    ['metaspace.json', (j) => { j.pre_tokenizer = { type: 'Metaspace', replacement: '▁' }; }, /unsupported pre_tokenizer type "Metaspace"/],
    ['nobytelevel.json', (j) => { j.pre_tokenizer = null; }, /BPE without a ByteLevel pre-tokenizer .* is not supported/],
    ['badmerge.json', (j) => { j.model.merges = ['h e', 'x y']; }, /merge 1 \("x y"\) uses "x", which is not in the vocabulary/],
    ['badresult.json', (j) => { j.model.merges = ['e h']; }, /merge 0 \("e h"\) makes "eh", which is not in the vocabulary/],
    ['badmergeformat.json', (j) => { j.model.merges = ['h e l']; }, /model\.merges\[0\] must be two tokens separated by one space/],
    ['badpost.json', (j) => { j.post_processor = { type: 'Weird' }; }, /unsupported post_processor type "Weird"/],
    ['baddecoder.json', (j) => { j.decoder = { type: 'Metaspace' }; }, /unsupported decoder type "Metaspace"/],
  ];
  for (const [name, mutate, problem] of variants) {
    const json = gpt2Json();
    mutate(json);
    const path = join(dir, name);
    writeFileSync(path, JSON.stringify(json));
    assert.throws(
      () => loadTokenizer(path),
      (e: unknown) => e instanceof InputError && e.file === path && problem.test(e.problem),
      name,
    );
  }
});
