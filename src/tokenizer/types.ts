/**
 * Public types of the tokenizer: what the editor (hovers, top-k lists) and the CLI see.
 */

/** One token of an encoding. */
export interface Token {
  /** Vocabulary id. */
  id: number;
  /** The vocabulary string of the token: "##ing" for a WordPiece continuation, "Ġworld" for byte-level BPE. */
  text: string;
  /**
   * Span [start, end) in the ORIGINAL input string, as UTF-16 indices (what `String.prototype.slice`
   * takes), so `input.slice(start, end)` is the text this token stands for, before lowercasing,
   * accent stripping or byte mapping.
   *
   * - Special tokens inserted by the post-processor ([CLS], [SEP], <s> …) stand for no text: they get
   *   an EMPTY span placed where they were inserted — start = end = 0 for those before the text,
   *   start = end = input.length for those after it — so a hover never lands on them.
   * - Several tokens can share one span when they come from one character: the bytes of a multi-byte
   *   character split across byte-level BPE tokens, or the pieces of a character that normalisation
   *   expanded (e.g. a Hangul syllable decomposed into jamo).
   */
  start: number;
  end: number;
  /** True for special tokens: those the post-processor adds and special added tokens found in the text. */
  special: boolean;
}

export interface EncodeOptions {
  /** Add the post-processor's special tokens ([CLS] … [SEP] for BERT). Default true, as in Hugging Face. */
  addSpecialTokens?: boolean;
}

/** What encodeBounded returns. */
export interface BoundedEncoding {
  tokens: Token[];
  /** True when the whole text was encoded (the post-processor's closing tokens included). */
  complete: boolean;
  /** UTF-16 units of the text that were encoded. */
  charsRead: number;
}

export interface EncodeBounds extends EncodeOptions {
  /** Stop once at least this many tokens exist (the first maxTokens are those of the whole text). */
  maxTokens?: number;
  /** Encode at most about this many UTF-16 units of the text (cut at a chunk boundary). */
  maxChars?: number;
}

export interface DecodeOptions {
  /** Leave out special tokens. Default false: a top-k list should show that [SEP] is predicted. */
  skipSpecialTokens?: boolean;
}

export type TokenizerKind = 'wordpiece' | 'bpe';

export interface Tokenizer {
  /** Splits `text` into tokens; never throws for any string (unknown text becomes the unk token or bytes). */
  encode(text: string, options?: EncodeOptions): Token[];
  /**
   * Encodes the start of `text` only: stops once `maxTokens` tokens exist or about `maxChars`
   * UTF-16 units were read; the tokens are the first ones of the whole text's encoding.
   */
  encodeBounded?(text: string, options?: EncodeBounds): BoundedEncoding;
  /**
   * Turns ids back into text the way the tokenizer's decoder does (WordPiece: "##" pieces glued to
   * the previous token; byte-level BPE: bytes back to UTF-8). Ids with no token are skipped, as in
   * Hugging Face; use `idToToken` first where that matters.
   */
  decode(ids: readonly number[], options?: DecodeOptions): string;
  /** The vocabulary string of an id, or undefined when no token has that id. */
  idToToken(id: number): string | undefined;
  /** The id of a vocabulary string (added tokens included), or undefined. */
  tokenToId(token: string): number | undefined;
  /** One more than the largest id (model vocabulary and added tokens together). */
  readonly vocabSize: number;
  /** Absolute path of the file it was loaded from (tokenizer.json or vocab.txt). */
  readonly source: string;
  readonly kind: TokenizerKind;
}
