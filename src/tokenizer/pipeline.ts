/**
 * The encode/decode pipeline of a Hugging Face tokenizer, keeping every token's span in the
 * original text: added tokens are cut out of the raw text first, each remaining segment is
 * normalised, pre-tokenized into words and split by the model, then the post-processor wraps the
 * result in special tokens.
 *
 * Long text is processed in chunks (bounded memory: each character of text being normalised
 * costs some hundred bytes, 2.8 GB for a 10 MB text in one piece). A segment longer than
 * ENCODE_CHUNK_CHARS = 16,384 UTF-16 units is cut before a space that follows a printable ASCII
 * character: no normaliser, pre-tokenizer or word of the supported pipelines spans such a cut,
 * so the tokens are those of the text in one piece. Where no such place exists within
 * ENCODE_MAX_CHUNK_CHARS = 65,536 units the text is cut there (between code points): a text that
 * long without "x " in it may then tokenise differently at the cut.
 * `encodeBounded` stops after the chunk in which a token budget is reached (what a run of a
 * position table's worth of tokens needs), or after a number of characters.
 */
import { AlignedText } from './alignedText';
import { byteLevelDecode, bytesToUnicode } from './byteLevel';
import type { Model } from './models';
import type { Normalizer } from './normalizers';
import type { PreTokenizer } from './preTokenizers';
import type { BoundedEncoding, DecodeOptions, EncodeBounds, EncodeOptions, Token, Tokenizer, TokenizerKind } from './types';


/** A token matched in the raw text before normalisation (tokenizer.json `added_tokens`). */
export interface AddedToken {
  id: number;
  content: string;
  special: boolean;
  /** Only match when not inside a word. */
  singleWord: boolean;
  /** Also swallow whitespace on the left / right of the match. */
  lstrip: boolean;
  rstrip: boolean;
}

export interface SpecialTokenRef {
  id: number;
  text: string;
}

export interface PostProcessor {
  /** Special tokens put before the text ([CLS], <s>) … */
  before: SpecialTokenRef[];
  /** … and after it ([SEP], </s>). */
  after: SpecialTokenRef[];
  /**
   * Byte-level offset trimming (ByteLevel/RobertaProcessing `trim_offsets`): a token's span leaves
   * out the spaces its "Ġ" characters stand for, so "Ġworld" covers just "world".
   */
  trimOffsets: boolean;
}

export type Decoder = (tokens: readonly string[]) => string;

export interface PipelineParts {
  kind: TokenizerKind;
  source: string;
  model: Model;
  normalizer: Normalizer | null;
  preTokenizer: PreTokenizer;
  addedTokens: AddedToken[];
  postProcessor: PostProcessor;
  decoder: Decoder;
}

export const ENCODE_CHUNK_CHARS = 16_384;
export const ENCODE_MAX_CHUNK_CHARS = 65_536;

/** The end of the chunk of original[from, to) that starts at `from` (see the top of this file). */
export function chunkEnd(original: string, from: number, to: number): number {
  if (to - from <= ENCODE_CHUNK_CHARS) return to;
  const isCut = (i: number): boolean => {
    if (original.charCodeAt(i) !== 0x20) return false;
    const before = original.charCodeAt(i - 1);
    return before >= 0x21 && before <= 0x7e;
  };
  const target = from + ENCODE_CHUNK_CHARS;
  for (let i = target; i > from + (ENCODE_CHUNK_CHARS >> 1); i--) if (isCut(i)) return i;
  const hard = Math.min(to, from + ENCODE_MAX_CHUNK_CHARS);
  for (let i = target + 1; i < hard; i++) if (isCut(i)) return i;
  if (hard >= to) return to;
  // No safe place: cut between code points (never inside a surrogate pair).
  const unit = original.charCodeAt(hard);
  return unit >= 0xdc00 && unit <= 0xdfff ? hard - 1 : hard;
}

const WORD_CHAR = /^[\p{L}\p{N}_]$/u;
const WHITE_SPACE = /^\p{White_Space}$/u;

export class PipelineTokenizer implements Tokenizer {
  readonly kind: TokenizerKind;
  readonly source: string;
  readonly vocabSize: number;
  private readonly idToText = new Map<number, string>();
  private readonly textToId = new Map<string, number>();
  private readonly specialIds = new Set<number>();
  /** Added tokens by first UTF-16 unit, longest first, so the longest match at a position wins. */
  private readonly addedByFirstUnit = new Map<string, AddedToken[]>();
  private readonly spaceByteChar = bytesToUnicode()[0x20]!;

  constructor(private readonly parts: PipelineParts) {
    this.kind = parts.kind;
    this.source = parts.source;
    for (const [text, id] of parts.model.vocab) {
      this.textToId.set(text, id);
      if (!this.idToText.has(id)) this.idToText.set(id, text);
    }
    for (const t of parts.addedTokens) {
      // An added token overrides the model's entry for its id (as Hugging Face's decode does).
      this.idToText.set(t.id, t.content);
      this.textToId.set(t.content, t.id);
      if (t.special) this.specialIds.add(t.id);
      if (t.content.length === 0) continue;
      const first = t.content[0]!;
      const list = this.addedByFirstUnit.get(first) ?? [];
      list.push(t);
      list.sort((a, b) => b.content.length - a.content.length);
      this.addedByFirstUnit.set(first, list);
    }
    for (const t of [...parts.postProcessor.before, ...parts.postProcessor.after]) this.specialIds.add(t.id);
    let maxId = -1;
    for (const id of this.idToText.keys()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
  }

  encode(text: string, options: EncodeOptions = {}): Token[] {
    return this.encodeBounded(text, options).tokens;
  }

  /**
   * Encodes `text`, stopping early once `maxTokens` tokens exist or about `maxChars` units were
   * read (at a chunk boundary; see the top of this file). The tokens returned are the first ones
   * of the whole text's encoding.
   */
  encodeBounded(text: string, options: EncodeBounds = {}): BoundedEncoding {
    const maxTokens = options.maxTokens ?? Infinity;
    const maxChars = options.maxChars ?? Infinity;
    const addSpecial = options.addSpecialTokens !== false;
    const { before, after } = this.parts.postProcessor;
    const tokens: Token[] = addSpecial ? before.map((t) => ({ id: t.id, text: t.text, start: 0, end: 0, special: true })) : [];
    const enough = (read: number): boolean => tokens.length >= maxTokens || read >= maxChars;
    let segmentStart = 0;
    let stoppedAt = -1;
    outer: for (const match of this.addedTokenMatches(text)) {
      const stop = this.encodeSegment(text, segmentStart, match.start, tokens, enough);
      if (stop >= 0) {
        stoppedAt = stop;
        break outer;
      }
      tokens.push({ id: match.token.id, text: match.token.content, start: match.start, end: match.end, special: match.token.special });
      segmentStart = match.end;
      if (enough(segmentStart) && segmentStart < text.length) {
        stoppedAt = segmentStart;
        break outer;
      }
    }
    if (stoppedAt < 0) stoppedAt = this.encodeSegment(text, segmentStart, text.length, tokens, enough);
    if (stoppedAt >= 0 && stoppedAt < text.length) return { tokens, complete: false, charsRead: stoppedAt };
    if (addSpecial) for (const t of after) tokens.push({ id: t.id, text: t.text, start: text.length, end: text.length, special: true });
    return { tokens, complete: true, charsRead: text.length };
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    const tokens: string[] = [];
    for (const id of ids) {
      const text = this.idToText.get(id);
      if (text === undefined) continue;
      if (options.skipSpecialTokens && this.specialIds.has(id)) continue;
      tokens.push(text);
    }
    return this.parts.decoder(tokens);
  }

  idToToken(id: number): string | undefined {
    return this.idToText.get(id);
  }

  tokenToId(token: string): number | undefined {
    return this.textToId.get(token);
  }

  /**
   * Tokenizes original[from, to), which holds no added token, appending to `out`, chunk by chunk;
   * returns the end of the last chunk when `enough(end)` stopped it before `to`, else -1.
   */
  private encodeSegment(original: string, from: number, to: number, out: Token[], enough: (read: number) => boolean = () => false): number {
    let at = from;
    while (at < to) {
      const end = chunkEnd(original, at, to);
      this.encodeChunk(original, at, end, out);
      at = end;
      if (at < to && enough(at)) return at;
    }
    return -1;
  }

  /** Tokenizes one chunk original[from, to). */
  private encodeChunk(original: string, from: number, to: number, out: Token[]): void {
    if (to <= from) return;
    let text = AlignedText.fromOriginal(original, from, to);
    if (this.parts.normalizer) text = this.parts.normalizer(text);
    for (const word of this.parts.preTokenizer(text)) {
      for (const piece of this.parts.model.tokenize(word)) {
        const [start, end] = this.spanOf(word, piece.from, piece.to);
        out.push({ id: piece.id, text: piece.text, start, end, special: false });
      }
    }
  }

  private spanOf(word: AlignedText, from: number, to: number): [number, number] {
    const full = word.spanOf(from, to, word.length > 0 ? word.starts[0]! : 0);
    if (!this.parts.postProcessor.trimOffsets) return full;
    let first = from;
    let last = to;
    while (first < last && word.chars[first] === this.spaceByteChar) first++;
    while (last > first && word.chars[last - 1] === this.spaceByteChar) last--;
    // A token that is nothing but spaces keeps an empty span at its end, as the Rust crate does.
    return first < last ? word.spanOf(first, last, full[1]) : [full[1], full[1]];
  }

  /** Non-overlapping matches of added tokens in the raw text, left to right, longest first at each position (lazily). */
  private *addedTokenMatches(text: string): Generator<{ token: AddedToken; start: number; end: number }> {
    if (this.addedByFirstUnit.size === 0) return;
    let previousEnd = 0;
    let i = 0;
    while (i < text.length) {
      const candidates = this.addedByFirstUnit.get(text[i]!);
      const token = candidates?.find((t) => text.startsWith(t.content, i) && this.standsAlone(t, text, i));
      if (!token) {
        i++;
        continue;
      }
      let start = i;
      let end = i + token.content.length;
      if (token.lstrip) while (start > previousEnd && WHITE_SPACE.test(text[start - 1]!)) start--;
      if (token.rstrip) while (end < text.length && WHITE_SPACE.test(text[end]!)) end++;
      yield { token, start, end };
      previousEnd = end;
      i = end;
    }
  }

  /** single_word tokens only match when the characters around them are not word characters. */
  private standsAlone(token: AddedToken, text: string, at: number): boolean {
    if (!token.singleWord) return true;
    const before = at > 0 ? String.fromCodePoint(text.codePointAt(at - 1)!) : '';
    const after = at + token.content.length < text.length ? String.fromCodePoint(text.codePointAt(at + token.content.length)!) : '';
    return !WORD_CHAR.test(before) && !WORD_CHAR.test(after);
  }
}

/**
 * Hugging Face's WordPiece decoder: pieces starting with the prefix are glued to the previous one,
 * other tokens get a space before them; `cleanup` removes the spaces BERT's tokenization put before
 * punctuation and contractions (" ." -> ".", " n't" -> "n't"). Like the Rust crate, the cleanup
 * runs on each token with its leading space, so it only ever touches token starts.
 */
export function wordPieceDecoder(prefix: string, cleanup: boolean): Decoder {
  return (tokens) => {
    let out = '';
    tokens.forEach((token, i) => {
      let piece = token;
      if (i > 0) piece = piece.startsWith(prefix) ? piece.slice(prefix.length) : ` ${piece}`;
      out += cleanup ? cleanupTokenization(piece) : piece;
    });
    return out;
  };
}

function cleanupTokenization(s: string): string {
  return s
    .replaceAll(' .', '.')
    .replaceAll(' ?', '?')
    .replaceAll(' !', '!')
    .replaceAll(' ,', ',')
    .replaceAll(" ' ", "'")
    .replaceAll(" n't", "n't")
    .replaceAll(" 'm", "'m")
    .replaceAll(' do not', " don't")
    .replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve")
    .replaceAll(" 're", "'re");
}

export const byteLevelDecoder: Decoder = byteLevelDecode;
