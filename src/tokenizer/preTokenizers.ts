/**
 * Hugging Face pre-tokenizers: split normalised text into words, each still aligned to the original.
 */
import { InputError } from '../util/errors';
import { previewJson } from '../util/jsonLimits';
import { AlignedText } from './alignedText';
import { bytesToUnicode } from './byteLevel';
import { checkComponentDepth, optionalBool, requireType } from './json';
import { isBertWhitespace } from './normalizers';

export type PreTokenizer = (text: AlignedText) => AlignedText[];

export interface ParsedPreTokenizer {
  run: PreTokenizer;
  /** True when a ByteLevel step maps the words to byte characters (needed by byte-level BPE). */
  byteLevel: boolean;
}

const UNICODE_PUNCTUATION = /^\p{P}$/u;
const ASCII_PUNCTUATION = /^[!-/:-@[-`{-~]$/;

/** BERT punctuation: ASCII punctuation (which includes symbols like $ + < = > ^ ` | ~) or Unicode P*. */
function isBertPunctuation(ch: string): boolean {
  return ASCII_PUNCTUATION.test(ch) || UNICODE_PUNCTUATION.test(ch);
}

/** BertPreTokenizer: whitespace separates words and is dropped; each punctuation character is a word. */
export const bertPreTokenizer: PreTokenizer = (text) => {
  const words: AlignedText[] = [];
  let wordStart = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text.chars[i]!;
    const space = isBertWhitespace(c);
    if (space || isBertPunctuation(c)) {
      if (wordStart >= 0) words.push(text.slice(wordStart, i));
      wordStart = -1;
      if (!space) words.push(text.slice(i, i + 1));
    } else if (wordStart < 0) {
      wordStart = i;
    }
  }
  if (wordStart >= 0) words.push(text.slice(wordStart, text.length));
  return words;
};

/**
 * GPT-2's word pattern (contractions, letters, numbers, other symbols, whitespace runs), with `\s`
 * spelled as Unicode White_Space: the Rust crate's Oniguruma `\s` means exactly that, while
 * JavaScript's `\s` would also take U+FEFF and miss U+0085.
 */
const GPT2_PATTERN =
  /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\p{White_Space}\p{L}\p{N}]+|\p{White_Space}+(?!\P{White_Space})|\p{White_Space}+/gu;

export interface ByteLevelOptions {
  addPrefixSpace: boolean;
  useRegex: boolean;
}

/**
 * ByteLevel: optionally prefix a space (so a first word is tokenized like any other word), split
 * with the GPT-2 pattern, then replace every code point by its UTF-8 bytes written as the printable
 * characters of GPT-2's bytes-to-unicode table. Each byte character keeps the span of the code
 * point it came from; the added prefix space gets an empty span.
 */
export function byteLevelPreTokenizer(options: ByteLevelOptions): PreTokenizer {
  const byteChars = bytesToUnicode();
  const encoder = new TextEncoder();
  const toBytes = (word: AlignedText): AlignedText => word.mapChars((c) => {
    let out = '';
    for (const b of encoder.encode(c)) out += byteChars[b]!;
    return out;
  });
  return (input) => {
    let text = input;
    if (options.addPrefixSpace && text.length > 0 && text.chars[0] !== ' ') text = text.prepend(' ', 0);
    const words = options.useRegex ? splitByPattern(text, GPT2_PATTERN) : [text];
    return words.map(toBytes);
  };
}

/** Splits aligned text into the pattern's matches and the gaps between them (none are dropped). */
function splitByPattern(text: AlignedText, pattern: RegExp): AlignedText[] {
  const str = text.toString();
  // Regex indices are UTF-16 units of `str`; map them to character indices of `text`.
  const charAt = new Array<number>(str.length + 1);
  let unit = 0;
  for (let i = 0; i < text.length; i++) {
    for (let k = 0; k < text.chars[i]!.length; k++) charAt[unit++] = i;
  }
  charAt[str.length] = text.length;
  const pieces: AlignedText[] = [];
  let last = 0;
  for (const m of str.matchAll(new RegExp(pattern.source, pattern.flags))) {
    const from = charAt[m.index]!;
    const to = charAt[m.index + m[0].length]!;
    if (from > last) pieces.push(text.slice(last, from));
    if (to > from) pieces.push(text.slice(from, to));
    last = to;
  }
  if (last < text.length) pieces.push(text.slice(last, text.length));
  return pieces;
}

/** Builds the pre-tokenizer described by tokenizer.json's `pre_tokenizer` field (null: the whole text is one word). */
export function parsePreTokenizer(config: unknown, file: string, where = 'pre_tokenizer', depth = 1): ParsedPreTokenizer {
  if (config === null || config === undefined) return { run: (t) => (t.length > 0 ? [t] : []), byteLevel: false };
  checkComponentDepth(depth, file, where);
  const obj = requireType(config, file, where);
  switch (obj.type) {
    case 'BertPreTokenizer':
      return { run: bertPreTokenizer, byteLevel: false };
    case 'ByteLevel':
      return {
        run: byteLevelPreTokenizer({
          addPrefixSpace: optionalBool(obj, 'add_prefix_space', true, file, where),
          useRegex: optionalBool(obj, 'use_regex', true, file, where),
        }),
        byteLevel: true,
      };
    case 'Sequence': {
      const list = obj.pretokenizers;
      if (!Array.isArray(list)) throw new InputError(file, `${where}.pretokenizers must be a list`);
      const steps = list.map((p, i) => parsePreTokenizer(p, file, `${where}.pretokenizers[${i}]`, depth + 1));
      return {
        run: (t) => steps.reduce<AlignedText[]>((words, step) => words.flatMap(step.run), [t]),
        byteLevel: steps.some((s) => s.byteLevel),
      };
    }
    default:
      throw new InputError(
        file,
        `unsupported ${where} type ${previewJson(obj.type)} (supported: BertPreTokenizer, ByteLevel, Sequence)`,
      );
  }
}
