/**
 * Hugging Face normalizers, applied to aligned text so token spans map back to the original.
 * Semantics follow the Rust `tokenizers` crate (the reference for tokenizer.json files).
 */
import { InputError } from '../util/errors';
import { previewJson } from '../util/jsonLimits';
import { AlignedText } from './alignedText';
import { type JsonObject, checkComponentDepth, describe, optionalBool, requireType } from './json';

export type Normalizer = (text: AlignedText) => AlignedText;

export interface BertNormalizerOptions {
  cleanText: boolean;
  handleChineseChars: boolean;
  /** null: strip accents exactly when lowercasing (BERT's uncased models). */
  stripAccents: boolean | null;
  lowercase: boolean;
}

const CONTROL = /^\p{C}$/u;
const WHITE_SPACE = /^\p{White_Space}$/u;
const NONSPACING_MARK = /^\p{Mn}$/u;

/** BERT's whitespace: \t \n \r and anything Unicode calls White_Space (Rust's char::is_whitespace). */
export function isBertWhitespace(ch: string): boolean {
  return ch === '\t' || ch === '\n' || ch === '\r' || WHITE_SPACE.test(ch);
}

/** BERT's control characters: Unicode category C* (Cc, Cf, Cs, Co, Cn) except \t \n \r, which are whitespace. */
function isBertControl(ch: string): boolean {
  return ch !== '\t' && ch !== '\n' && ch !== '\r' && CONTROL.test(ch);
}

/**
 * The CJK ideograph blocks that BERT surrounds with spaces so each becomes its own word. These are
 * the ranges of the Rust `tokenizers` crate (which starts the Extension-C..E block at 0x2B920,
 * unlike Google's original 0x2B820); we follow the Rust crate because the fixtures agree with it.
 */
function isChineseChar(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b920 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

function stripAccents(text: AlignedText): AlignedText {
  // Per-code-point NFD is enough here: the marks it would reorder are the ones we then drop.
  return text.mapChars((c) => c.normalize('NFD')).dropChars((c) => NONSPACING_MARK.test(c));
}

function lowercase(text: AlignedText): AlignedText {
  // Per code point, like Rust's char::to_lowercase (no final-sigma context rule).
  return text.mapChars((c) => c.toLowerCase());
}

/** BertNormalizer, in the crate's order: clean text, space CJK, strip accents, lowercase. */
export function bertNormalizer(options: BertNormalizerOptions): Normalizer {
  return (input) => {
    let text = input;
    if (options.cleanText) {
      text = text.mapChars((c) => {
        const cp = c.codePointAt(0)!;
        if (cp === 0 || cp === 0xfffd || isBertControl(c)) return '';
        return isBertWhitespace(c) ? ' ' : c;
      });
    }
    if (options.handleChineseChars) {
      text = text.mapChars((c) => (isChineseChar(c.codePointAt(0)!) ? ` ${c} ` : c));
    }
    if (options.stripAccents ?? options.lowercase) text = stripAccents(text);
    if (options.lowercase) text = lowercase(text);
    return text;
  };
}

/** Builds the normalizer described by tokenizer.json's `normalizer` field (null: none). */
export function parseNormalizer(config: unknown, file: string, where = 'normalizer', depth = 1): Normalizer | null {
  if (config === null || config === undefined) return null;
  checkComponentDepth(depth, file, where);
  const obj = requireType(config, file, where);
  switch (obj.type) {
    case 'BertNormalizer':
      return bertNormalizer(parseBertNormalizerOptions(obj, file, where));
    case 'Lowercase':
      return lowercase;
    case 'StripAccents':
      return (t) => t.dropChars((c) => NONSPACING_MARK.test(c));
    case 'NFD':
    case 'NFKD':
    case 'NFC':
    case 'NFKC': {
      const form = obj.type;
      return (t) => t.mapClusters((s) => s.normalize(form));
    }
    case 'Sequence': {
      const list = obj.normalizers;
      if (!Array.isArray(list)) throw new InputError(file, `${where}.normalizers must be a list`);
      const steps = list.map((n, i) => parseNormalizer(n, file, `${where}.normalizers[${i}]`, depth + 1));
      return (t) => steps.reduce((acc, step) => (step ? step(acc) : acc), t);
    }
    default:
      throw new InputError(
        file,
        `unsupported ${where} type ${previewJson(obj.type)} (supported: BertNormalizer, Lowercase, StripAccents, NFC, NFD, NFKC, NFKD, Sequence)`,
      );
  }
}

function parseBertNormalizerOptions(obj: JsonObject, file: string, where: string): BertNormalizerOptions {
  const strip = obj.strip_accents;
  if (strip !== undefined && strip !== null && typeof strip !== 'boolean') {
    throw new InputError(file, `${where}.strip_accents must be true, false or null, found ${describe(strip)}`);
  }
  return {
    cleanText: optionalBool(obj, 'clean_text', true, file, where),
    handleChineseChars: optionalBool(obj, 'handle_chinese_chars', true, file, where),
    stripAccents: strip ?? null,
    lowercase: optionalBool(obj, 'lowercase', true, file, where),
  };
}
