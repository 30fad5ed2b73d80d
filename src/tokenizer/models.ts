/**
 * The tokenization models: WordPiece (BERT) and BPE (GPT-2 byte-level). A model turns one word
 * from the pre-tokenizer into vocabulary pieces, each naming the characters of the word it covers
 * so the tokenizer can compute its span in the original text.
 */
import { InputError } from '../util/errors';
import { previewJson } from '../util/jsonLimits';
import type { AlignedText } from './alignedText';
import {
  type JsonObject,
  describe,
  isTokenId,
  optionalBool,
  optionalInt,
  optionalString,
  requireObject,
} from './json';

/** One model output: a vocabulary entry covering characters [from, to) of the word. */
export interface Piece {
  id: number;
  text: string;
  from: number;
  to: number;
}

export interface Model {
  readonly kind: 'wordpiece' | 'bpe';
  readonly vocab: ReadonlyMap<string, number>;
  tokenize(word: AlignedText): Piece[];
}

export interface WordPieceOptions {
  unkToken: string;
  continuingSubwordPrefix: string;
  maxInputCharsPerWord: number;
}

/**
 * Limits (bounding the work one hostile word or vocabulary can cause):
 *   MAX_WORDPIECE_WORD_CHARS = 200: the effective `max_input_chars_per_word` is at most this
 *     (BERT's is 100; a longer word is one unknown token, as a word past the file's own limit is).
 *     The longest-match search tries at most the vocabulary's longest token's length per
 *     position, so one word costs O(n * L^2) character comparisons, n <= 200.
 *   MAX_BPE_WORD_CHARS = 10,000: a longer BPE word is merged in pieces of this many characters
 *     (the merges of a real word never span that far; without a bound a 10 MB word made heaps of
 *     gigabytes). BPE_CACHE_WORD_CHARS = 256: only shorter words are cached.
 */
export const MAX_WORDPIECE_WORD_CHARS = 200;
export const MAX_BPE_WORD_CHARS = 10_000;
const BPE_CACHE_WORD_CHARS = 256;

/**
 * WordPiece: greedy longest-match-first from the left; pieces after the first carry the "##"
 * prefix. If any part of the word cannot be matched, or the word is too long (more than
 * max_input_chars_per_word, at most MAX_WORDPIECE_WORD_CHARS), the whole word is one unknown
 * token (as in BERT).
 */
export class WordPieceModel implements Model {
  readonly kind = 'wordpiece';
  private readonly unkId: number;
  /** The effective max_input_chars_per_word (the file's, at most MAX_WORDPIECE_WORD_CHARS). */
  readonly maxInputCharsPerWord: number;
  /** Code points of the longest vocabulary entry (prefix removed): no longer piece can match. */
  private readonly longestPiece: number;

  constructor(
    readonly vocab: ReadonlyMap<string, number>,
    private readonly options: WordPieceOptions,
    file: string,
  ) {
    const unkId = vocab.get(options.unkToken);
    if (unkId === undefined) throw new InputError(file, `the unknown token ${previewJson(options.unkToken)} is not in the vocabulary`);
    this.unkId = unkId;
    this.maxInputCharsPerWord = Math.min(options.maxInputCharsPerWord, MAX_WORDPIECE_WORD_CHARS);
    // A piece of k code points is a vocabulary entry of at least k UTF-16 units.
    let longest = 0;
    for (const token of vocab.keys()) if (token.length > longest) longest = token.length;
    this.longestPiece = longest;
  }

  tokenize(word: AlignedText): Piece[] {
    const chars = word.chars;
    const unknown: Piece[] = [{ id: this.unkId, text: this.options.unkToken, from: 0, to: chars.length }];
    if (chars.length > this.maxInputCharsPerWord) return unknown;
    const pieces: Piece[] = [];
    let start = 0;
    while (start < chars.length) {
      let found: Piece | null = null;
      for (let end = Math.min(chars.length, start + this.longestPiece); end > start; end--) {
        const body = chars.slice(start, end).join('');
        const text = start > 0 ? this.options.continuingSubwordPrefix + body : body;
        const id = this.vocab.get(text);
        if (id !== undefined) {
          found = { id, text, from: start, to: end };
          break;
        }
      }
      if (!found) return unknown;
      pieces.push(found);
      start = found.to;
    }
    return pieces;
  }
}

export interface BpeOptions {
  unkToken: string | null;
  fuseUnk: boolean;
  continuingSubwordPrefix: string;
  endOfWordSuffix: string;
  /** Use a word as a single token when the whole word is in the vocabulary (newer tokenizer.json files). */
  ignoreMerges: boolean;
}

interface Merge {
  rank: number;
  resultId: number;
}

/** A candidate merge of symbol `left` with the symbol after it, valid while both still hold these ids. */
interface Candidate {
  rank: number;
  left: number;
  right: number;
  leftId: number;
  rightId: number;
  resultId: number;
}

const WORD_CACHE_LIMIT = 20_000;

/**
 * Byte-level BPE. Words start as one symbol per character; the adjacent pair with the best (lowest)
 * merge rank is merged first, ties going to the leftmost pair — the order of the Rust crate's
 * priority queue, which matters when pairs overlap.
 */
export class BpeModel implements Model {
  readonly kind = 'bpe';
  private readonly idToText: Map<number, string>;
  /** Merges keyed by "leftId rightId". */
  private readonly merges: Map<string, Merge>;
  private readonly unkId: number | null;
  private readonly cache = new Map<string, Piece[]>();

  constructor(
    readonly vocab: ReadonlyMap<string, number>,
    mergePairs: ReadonlyArray<readonly [string, string]>,
    private readonly options: BpeOptions,
    file: string,
  ) {
    this.idToText = new Map([...vocab].map(([t, id]) => [id, t]));
    this.merges = new Map();
    const prefixLength = options.continuingSubwordPrefix.length;
    mergePairs.forEach(([a, b], rank) => {
      const aId = vocab.get(a);
      const bId = vocab.get(b);
      if (aId === undefined || bId === undefined) {
        throw new InputError(file, `merge ${rank} ("${a} ${b}") uses ${previewJson(aId === undefined ? a : b)}, which is not in the vocabulary`);
      }
      // The merged token drops the right part's continuation prefix ("a" + "##b" -> "ab").
      const merged = a + (prefixLength > 0 && b.startsWith(options.continuingSubwordPrefix) ? b.slice(prefixLength) : b);
      const resultId = vocab.get(merged);
      if (resultId === undefined) throw new InputError(file, `merge ${rank} ("${a} ${b}") makes ${previewJson(merged)}, which is not in the vocabulary`);
      const key = `${aId} ${bId}`;
      // The first (best-ranked) occurrence of a duplicated merge wins.
      if (!this.merges.has(key)) this.merges.set(key, { rank, resultId });
    });
    if (options.unkToken !== null) {
      const unkId = vocab.get(options.unkToken);
      if (unkId === undefined) throw new InputError(file, `the unknown token ${previewJson(options.unkToken)} is not in the vocabulary`);
      this.unkId = unkId;
    } else {
      this.unkId = null;
    }
  }

  tokenize(word: AlignedText): Piece[] {
    if (word.length > MAX_BPE_WORD_CHARS) {
      // Merged in pieces of MAX_BPE_WORD_CHARS characters (see the limits above).
      const pieces: Piece[] = [];
      for (let from = 0; from < word.length; from += MAX_BPE_WORD_CHARS) {
        const part = word.chars.slice(from, Math.min(word.length, from + MAX_BPE_WORD_CHARS));
        for (const p of this.tokenizeUncached(part, from > 0, from + part.length < word.length)) {
          pieces.push({ ...p, from: p.from + from, to: p.to + from });
        }
      }
      return pieces;
    }
    if (word.length > BPE_CACHE_WORD_CHARS) return this.tokenizeUncached(word.chars);
    const key = word.toString();
    const cached = this.cache.get(key);
    if (cached) return cached;
    const pieces = this.tokenizeUncached(word.chars);
    if (this.cache.size >= WORD_CACHE_LIMIT) this.cache.clear();
    this.cache.set(key, pieces);
    return pieces;
  }

  /**
   * @param continues the characters continue a word begun before them (no word start here).
   * @param continued more characters of the word follow (the word does not end here).
   */
  private tokenizeUncached(chars: readonly string[], continues = false, continued = false): Piece[] {
    const { continuingSubwordPrefix: prefix, endOfWordSuffix: suffix } = this.options;
    if (this.options.ignoreMerges && !continues && !continued) {
      const id = this.vocab.get(chars.join(''));
      if (id !== undefined) return [{ id, text: chars.join(''), from: 0, to: chars.length }];
    }

    // Initial symbols: one per character; characters missing from the vocabulary become the unknown
    // token (consecutive ones fused into one if fuse_unk), or are dropped when there is none, as in
    // the Rust crate.
    const ids: number[] = [];
    const froms: number[] = [];
    const tos: number[] = [];
    let pendingUnk = false;
    for (let i = 0; i < chars.length; i++) {
      let symbol = chars[i]!;
      if (i > 0 || continues) symbol = prefix + symbol;
      if (i === chars.length - 1 && !continued) symbol += suffix;
      const id = this.vocab.get(symbol);
      if (id !== undefined) {
        ids.push(id);
        froms.push(i);
        tos.push(i + 1);
        pendingUnk = false;
      } else if (this.unkId !== null) {
        if (pendingUnk && this.options.fuseUnk) {
          tos[tos.length - 1] = i + 1;
        } else {
          ids.push(this.unkId);
          froms.push(i);
          tos.push(i + 1);
        }
        pendingUnk = true;
      }
    }

    const n = ids.length;
    const next = Array.from({ length: n }, (_, i) => (i + 1 < n ? i + 1 : -1));
    const prev = Array.from({ length: n }, (_, i) => i - 1);
    const alive = new Array<boolean>(n).fill(true);
    const heap = new CandidateHeap();
    const consider = (left: number, right: number): void => {
      if (left < 0 || right < 0) return;
      const merge = this.merges.get(`${ids[left]} ${ids[right]}`);
      if (merge) heap.push({ rank: merge.rank, left, right, leftId: ids[left]!, rightId: ids[right]!, resultId: merge.resultId });
    };
    for (let i = 0; i + 1 < n; i++) consider(i, i + 1);

    for (let c = heap.pop(); c; c = heap.pop()) {
      // Skip candidates made stale by an earlier merge of one of their symbols.
      if (!alive[c.left] || !alive[c.right] || next[c.left] !== c.right) continue;
      if (ids[c.left] !== c.leftId || ids[c.right] !== c.rightId) continue;
      ids[c.left] = c.resultId;
      tos[c.left] = tos[c.right]!;
      alive[c.right] = false;
      next[c.left] = next[c.right]!;
      if (next[c.right]! >= 0) prev[next[c.right]!] = c.left;
      consider(prev[c.left]!, c.left);
      consider(c.left, next[c.left]!);
    }

    const pieces: Piece[] = [];
    for (let i = 0; i < n; i++) {
      if (alive[i]) pieces.push({ id: ids[i]!, text: this.idToText.get(ids[i]!)!, from: froms[i]!, to: tos[i]! });
    }
    return pieces;
  }
}

/** A binary min-heap of merge candidates ordered by rank, then by position (leftmost first). */
class CandidateHeap {
  private readonly items: Candidate[] = [];

  push(c: Candidate): void {
    const items = this.items;
    items.push(c);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(items[i]!, items[parent]!)) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }

  pop(): Candidate | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < items.length && before(items[l]!, items[best]!)) best = l;
        if (r < items.length && before(items[r]!, items[best]!)) best = r;
        if (best === i) break;
        [items[i], items[best]] = [items[best]!, items[i]!];
        i = best;
      }
    }
    return top;
  }
}

function before(a: Candidate, b: Candidate): boolean {
  return a.rank !== b.rank ? a.rank < b.rank : a.left < b.left;
}

/** Reads `model.vocab` (token -> id). */
export function parseVocab(model: JsonObject, file: string): Map<string, number> {
  const vocab = requireObject(model.vocab, file, 'model.vocab');
  const map = new Map<string, number>();
  for (const [token, id] of Object.entries(vocab)) {
    if (!isTokenId(id)) throw new InputError(file, `model.vocab[${previewJson(token)}] must be a non-negative integer id, found ${describe(id)}`);
    map.set(token, id);
  }
  if (map.size === 0) throw new InputError(file, 'model.vocab is empty');
  return map;
}

export function parseWordPiece(model: JsonObject, file: string): WordPieceModel {
  return new WordPieceModel(
    parseVocab(model, file),
    {
      unkToken: optionalString(model, 'unk_token', file, 'model') ?? '[UNK]',
      continuingSubwordPrefix: optionalString(model, 'continuing_subword_prefix', file, 'model') ?? '##',
      maxInputCharsPerWord: optionalInt(model, 'max_input_chars_per_word', 100, file, 'model'),
    },
    file,
  );
}

/**
 * Reads a BPE model. Merges are either "a b" strings (older files) or ["a", "b"] pairs (newer
 * files, which allow spaces inside tokens). `dropout` is ignored: it only randomises training-time
 * encodings, and an inspector needs the deterministic ids.
 */
export function parseBpe(model: JsonObject, file: string): BpeModel {
  const vocab = parseVocab(model, file);
  if (!Array.isArray(model.merges)) throw new InputError(file, `model.merges must be a list, found ${describe(model.merges)}`);
  const pairs = model.merges.map((m: unknown, i: number): [string, string] => {
    if (typeof m === 'string') {
      const parts = m.split(' ');
      if (parts.length !== 2) throw new InputError(file, `model.merges[${i}] must be two tokens separated by one space, found ${describe(m)}`);
      return [parts[0]!, parts[1]!];
    }
    if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') return [m[0], m[1]];
    throw new InputError(file, `model.merges[${i}] must be "a b" or ["a", "b"], found ${describe(m)}`);
  });
  if (model.byte_fallback === true) {
    // Byte fallback (<0x41> tokens) belongs to SentencePiece-style BPE, which byte-level BPE never needs.
    throw new InputError(file, 'model.byte_fallback is set: SentencePiece-style BPE is not supported, only byte-level (GPT-2 style) BPE');
  }
  return new BpeModel(
    vocab,
    pairs,
    {
      unkToken: optionalString(model, 'unk_token', file, 'model'),
      fuseUnk: optionalBool(model, 'fuse_unk', false, file, 'model'),
      continuingSubwordPrefix: optionalString(model, 'continuing_subword_prefix', file, 'model') ?? '',
      endOfWordSuffix: optionalString(model, 'end_of_word_suffix', file, 'model') ?? '',
      ignoreMerges: optionalBool(model, 'ignore_merges', false, file, 'model'),
    },
    file,
  );
}
