/**
 * The encode/decode pipeline of a Hugging Face tokenizer, keeping every token's span in the
 * original text: added tokens are cut out of the raw text first, each remaining segment is
 * normalised, pre-tokenized into words and split by the model, then the post-processor wraps the
 * result in special tokens.
 */
import { AlignedText } from './alignedText';
import { byteLevelDecode, bytesToUnicode } from './byteLevel';
import type { Model } from './models';
import type { Normalizer } from './normalizers';
import type { PreTokenizer } from './preTokenizers';
import type { DecodeOptions, EncodeOptions, Token, Tokenizer, TokenizerKind } from './types';

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
    const tokens: Token[] = [];
    let segmentStart = 0;
    for (const match of this.findAddedTokens(text)) {
      this.encodeSegment(text, segmentStart, match.start, tokens);
      tokens.push({ id: match.token.id, text: match.token.content, start: match.start, end: match.end, special: match.token.special });
      segmentStart = match.end;
    }
    this.encodeSegment(text, segmentStart, text.length, tokens);
    if (options.addSpecialTokens === false) return tokens;
    const { before, after } = this.parts.postProcessor;
    return [
      ...before.map((t) => ({ id: t.id, text: t.text, start: 0, end: 0, special: true })),
      ...tokens,
      ...after.map((t) => ({ id: t.id, text: t.text, start: text.length, end: text.length, special: true })),
    ];
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

  /** Tokenizes original[from, to), which holds no added token, appending to `out`. */
  private encodeSegment(original: string, from: number, to: number, out: Token[]): void {
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

  /** Non-overlapping matches of added tokens in the raw text, left to right, longest first at each position. */
  private findAddedTokens(text: string): Array<{ token: AddedToken; start: number; end: number }> {
    const matches: Array<{ token: AddedToken; start: number; end: number }> = [];
    if (this.addedByFirstUnit.size === 0) return matches;
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
      matches.push({ token, start, end });
      previousEnd = end;
      i = end;
    }
    return matches;
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
