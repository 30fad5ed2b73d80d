import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { type Token, type Tokenizer, loadTokenizer, loadVocabTxt, tokenizerFromJson } from '../../src/tokenizer';
import { InputError } from '../../src/util/errors';

const tiny = join(__dirname, '..', 'fixtures', 'tiny-grassmann');
const tmp = mkdtempSync(join(tmpdir(), 'gl-tok-'));

interface ReferenceCase {
  text: string;
  input_ids: number[];
  tokens: string[];
}
const manifest = JSON.parse(readFileSync(join(tiny, 'reference', 'manifest.json'), 'utf8')) as {
  cases: ReferenceCase[];
  eval: { file: string; seq_len: number; chunks: number };
};

const fromJson = loadTokenizer(join(tiny, 'tokenizer.json'));
const fromVocab = loadTokenizer(join(tiny, 'vocab.txt'));

/** [token string, original text it covers] for every token: what a hover would show. */
function covered(text: string, tokens: Token[]): Array<[string, string]> {
  return tokens.map((t) => [t.text, text.slice(t.start, t.end)]);
}

test('tokenizer.json and vocab.txt load as the 1200-token uncased WordPiece of the fixture', () => {
  for (const [t, file] of [
    [fromJson, 'tokenizer.json'],
    [fromVocab, 'vocab.txt'],
  ] as const) {
    assert.equal(t.kind, 'wordpiece');
    assert.equal(t.vocabSize, 1200);
    assert.equal(t.source, join(tiny, file));
    assert.equal(t.idToToken(2), '[CLS]');
    assert.equal(t.idToToken(3), '[SEP]');
    assert.equal(t.tokenToId('licensor'), 375); // line 376 of vocab.txt, id 375 in the manifest's case 3
    assert.equal(t.idToToken(1200), undefined);
  }
  // Loading the folder picks tokenizer.json.
  assert.equal(loadTokenizer(tiny).source, join(tiny, 'tokenizer.json'));
});

test('ids and token strings equal the reference for every manifest case, from tokenizer.json and from vocab.txt', () => {
  assert.equal(manifest.cases.length, 4);
  for (const t of [fromJson, fromVocab]) {
    for (const c of manifest.cases) {
      const tokens = t.encode(c.text);
      assert.deepEqual(tokens.map((x) => x.id), c.input_ids, `${t.source}: ${JSON.stringify(c.text.slice(0, 40))}`);
      assert.deepEqual(tokens.map((x) => x.text), c.tokens);
    }
  }
});

test('eval.txt encodes once, with [CLS]/[SEP], into enough ids for the 12 chunks of the eval protocol', () => {
  const text = readFileSync(join(tiny, manifest.eval.file), 'utf8');
  const ids = fromJson.encode(text).map((t) => t.id);
  assert.equal(manifest.eval.seq_len, 128);
  assert.equal(manifest.eval.chunks, 12);
  assert.ok(ids.length >= 128 * 12, `${ids.length} ids`);
  // Non-overlapping chunks with the remainder dropped must give exactly the protocol's chunk count.
  assert.equal(Math.floor(ids.length / manifest.eval.seq_len), manifest.eval.chunks);
  assert.equal(ids[0], 2);
  assert.equal(ids[ids.length - 1], 3);
  assert.equal(ids.filter((id) => id === 2 || id === 3).length, 2);
  assert.deepEqual(fromVocab.encode(text).map((t) => t.id), ids);
});

test('spans: words, punctuation, case and "##" pieces map back to the original text', () => {
  const text = 'The Licensor grants, Hi.';
  const tokens = fromJson.encode(text);
  assert.deepEqual(covered(text, tokens), [
    ['[CLS]', ''],
    ['the', 'The'],
    ['licensor', 'Licensor'],
    ['grants', 'grants'],
    [',', ','],
    ['h', 'H'],
    ['##i', 'i'],
    ['.', '.'],
    ['[SEP]', ''],
  ]);
  assert.deepEqual(tokens.map((t) => [t.start, t.end]), [
    [0, 0], [0, 3], [4, 12], [13, 19], [19, 20], [21, 22], [22, 23], [23, 24], [24, 24],
  ]);
  assert.deepEqual(tokens.map((t) => t.special), [true, false, false, false, false, false, false, false, true]);
});

test('spans of the reference case: "2 ##9", "j ##u ##ne" and "licensor" slice to their source', () => {
  const c = manifest.cases[1]!;
  const tokens = fromJson.encode(c.text);
  const pairs = covered(c.text, tokens);
  assert.deepEqual(pairs.slice(1, 15), [
    ['gnu', 'GNU'],
    ['lesser', 'LESSER'],
    ['general', 'GENERAL'],
    ['public', 'PUBLIC'],
    ['license', 'LICENSE'],
    ['version', 'Version'],
    ['3', '3'],
    [',', ','],
    ['2', '2'],
    ['##9', '9'],
    ['j', 'J'],
    ['##u', 'u'],
    ['##ne', 'ne'],
    ['2007', '2007'],
  ]);
  // Every non-special token's span, lowercased, spells the token (this text has no accents).
  for (const t of tokens.filter((x) => !x.special)) {
    assert.equal(c.text.slice(t.start, t.end).toLowerCase(), t.text.replace(/^##/, ''));
  }
  const licensor = manifest.cases[3]!;
  const lic = fromJson.encode(licensor.text).find((t) => t.text === 'licensor')!;
  assert.deepEqual([lic.start, lic.end], [4, 12]);
});

test('spans through accent stripping, CJK spacing, unknown words and surrogate pairs', () => {
  // "é" precomposed, "e"+U+0301 decomposed, "ï"; 中 and 😀 are not in the vocabulary.
  const text = 'Héllo cafe\u0301 naïve 中😀';
  const tokens = fromJson.encode(text, { addSpecialTokens: false });
  assert.deepEqual(covered(text, tokens), [
    ['he', 'Hé'],
    ['##ll', 'll'],
    ['##o', 'o'],
    ['c', 'c'],
    ['##a', 'a'],
    ['##f', 'f'],
    ['##e', 'e\u0301'], // the combining accent belongs to its letter's token
    ['n', 'n'],
    ['##a', 'a'],
    ['##ive', 'ïve'],
    ['[UNK]', '中'], // a CJK character is a word of its own
    ['[UNK]', '😀'], // both UTF-16 units of the emoji
  ]);
  // Ids are vocab.txt line numbers minus one (he: line 841, ##ive: line 1071, [UNK]: line 2).
  assert.deepEqual(tokens.map((t) => t.id), [840, 1043, 103, 36, 89, 94, 93, 47, 89, 1070, 1, 1]);
  assert.deepEqual(tokens.map((t) => [t.start, t.end]).slice(-2), [[18, 19], [19, 21]]);
});

test('text with control characters, odd whitespace and literal special tokens', () => {
  const text = 'a\u0000b\u00A0[SEP]\tc';
  const tokens = fromJson.encode(text, { addSpecialTokens: false });
  // NUL is dropped (so "a" and "b" join), NBSP separates words, "[SEP]" in the text is the special token.
  assert.deepEqual(tokens.map((t) => [t.text, t.start, t.end, t.special]), [
    ['a', 0, 1, false],
    ['##b', 2, 3, false],
    ['[SEP]', 4, 9, true],
    ['c', 10, 11, false],
  ]);
  assert.deepEqual(fromJson.encode(''), [
    { id: 2, text: '[CLS]', start: 0, end: 0, special: true },
    { id: 3, text: '[SEP]', start: 0, end: 0, special: true },
  ]);
});

test('decode glues "##" pieces, cleans up punctuation spacing, and shows single top-k tokens as they are', () => {
  const t = fromJson;
  const ids = t.encode('The licensor grants you a worldwide, royalty-free license. Hi.').map((x) => x.id);
  assert.equal(t.decode(ids), '[CLS] the licensor grants you a worldwide, royalty - free license. hi. [SEP]');
  assert.equal(t.decode(ids, { skipSpecialTokens: true }), 'the licensor grants you a worldwide, royalty - free license. hi.');
  assert.equal(t.decode([t.tokenToId('##ne')!]), '##ne');
  assert.equal(t.decode([t.tokenToId('j')!, t.tokenToId('##u')!, t.tokenToId('##ne')!]), 'june');
  assert.equal(t.decode([99999, t.tokenToId('j')!]), 'j');
  assert.equal(fromVocab.decode(ids), t.decode(ids));
});

test('vocab.txt honours tokenizer_config.json: cased, accents kept, custom special tokens', () => {
  const dir = mkdtempSync(join(tmp, 'cased-'));
  writeFileSync(join(dir, 'vocab.txt'), ['<pad>', '<unk>', '<s>', '</s>', 'Hello', 'hello', 'é', '##é', 'e', '##e', ','].join('\r\n') + '\r\n');
  writeFileSync(
    join(dir, 'tokenizer_config.json'),
    JSON.stringify({ do_lower_case: false, unk_token: '<unk>', cls_token: { content: '<s>', __type: 'AddedToken' }, sep_token: '</s>', pad_token: '<pad>' }),
  );
  const t = loadVocabTxt(join(dir, 'vocab.txt'));
  const text = 'Hello hello,é HELLO';
  assert.deepEqual(t.encode(text).map((x) => [x.text, x.id, text.slice(x.start, x.end)]), [
    ['<s>', 2, ''],
    ['Hello', 4, 'Hello'],
    ['hello', 5, 'hello'],
    [',', 10, ','],
    ['é', 6, 'é'], // not lowercased, so accents are kept
    ['<unk>', 1, 'HELLO'],
    ['</s>', 3, ''],
  ]);
  // Loading the folder or the config file finds the same vocabulary.
  assert.equal(loadTokenizer(join(dir, 'tokenizer_config.json')).source, join(dir, 'vocab.txt'));
});

test('bad tokenizer files are InputErrors naming the file and the problem', () => {
  const write = (name: string, content: string): string => {
    const p = join(tmp, name);
    writeFileSync(p, content);
    return p;
  };
  const cases: Array<[string, RegExp]> = [
    [write('broken.json', '{"model": '), /not valid JSON/],
    [write('notok.json', '{"version": "1.0"}'), /no "model" object/],
    [write('unigram.json', JSON.stringify({ model: { type: 'Unigram', vocab: [['a', 0]] } })), /unsupported model type "Unigram" \(supported: WordPiece, BPE\)/],
    [write('badvocab.json', JSON.stringify({ model: { type: 'WordPiece', vocab: { a: 'x' } } })), /model\.vocab\["a"\] must be a non-negative integer id/],
    [write('nounk.json', JSON.stringify({ model: { type: 'WordPiece', unk_token: '[UNK]', vocab: { a: 0 } } })), /unknown token "\[UNK\]" is not in the vocabulary/],
    [
      write('badnorm.json', JSON.stringify({ normalizer: { type: 'Precompiled' }, model: { type: 'WordPiece', vocab: { '[UNK]': 0 } } })),
      /unsupported normalizer type "Precompiled"/,
    ],
    [
      write('badtemplate.json', JSON.stringify({
        model: { type: 'WordPiece', vocab: { '[UNK]': 0 } },
        post_processor: { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '[CLS]' } }, { Sequence: { id: 'A' } }], special_tokens: {} },
      })),
      /post_processor\.special_tokens has no valid entry for "\[CLS\]"/,
    ],
    [write('empty-vocab.txt', ''), /the vocabulary is empty/],
    [join(tmp, 'missing.json'), /no such file or folder/],
    [write('tokenizer.model', 'x'), /not a tokenizer file/],
  ];
  for (const [file, problem] of cases) {
    assert.throws(
      () => loadTokenizer(file),
      (e: unknown) => e instanceof InputError && e.file === file && problem.test(e.problem) && !e.message.includes('\n'),
      file,
    );
  }
  assert.throws(() => tokenizerFromJson([], 'x.json'), (e: unknown) => e instanceof InputError && /top level is a list/.test(e.message));
});

test('a tokenizer.json without a decoder still decodes WordPiece pieces', () => {
  const t: Tokenizer = tokenizerFromJson(
    { model: { type: 'WordPiece', vocab: { '[UNK]': 0, un: 1, '##able': 2 } }, pre_tokenizer: { type: 'BertPreTokenizer' } },
    'inline.json',
  );
  assert.deepEqual(t.encode('unable').map((x) => x.id), [1, 2]);
  assert.equal(t.decode([1, 2]), 'unable');
});
