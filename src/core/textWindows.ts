/**
 * Text longer than a model's position table, cut into windows the model can run one at a time.
 *
 * Windows do not overlap: each is a slice of the text that the tokenizer turns into at most
 * `capacity` tokens (the position table less the special tokens the tokenizer adds around every
 * encoding), and each is encoded on its own, so a window's numbers are exactly what the CLI gives
 * for `--text <that slice>`. A cut falls at a word boundary (whitespace before or at it) where
 * there is one in the window, so a word is never split across windows and tokenizing a window
 * gives the same pieces as tokenizing the whole text there; a token at the start of a window sees
 * only the window's text before it.
 */
import type { Token } from '../tokenizer';

export interface TextWindow {
  /** [start, end) of the window in the text, UTF-16 code units. */
  start: number;
  end: number;
  /** Index of the window's first token among the text's tokens (special tokens not counted). */
  firstToken: number;
  /** How many of the text's tokens fall in the window. */
  tokenCount: number;
}

const isSpace = (ch: string | undefined): boolean => ch !== undefined && /\s/.test(ch);

/**
 * Windows of `text`, given its tokens without special tokens (`encode(text, { addSpecialTokens:
 * false })`, spans in `text`), each holding at most `capacity` of them. The windows cover the text
 * from 0 to its length without gaps; whitespace between two windows ends the first.
 */
export function splitTextIntoWindows(text: string, tokens: readonly Token[], capacity: number): TextWindow[] {
  if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`a window must hold at least one token (capacity ${capacity})`);
  const content = tokens.filter((t) => !t.special);
  const windows: TextWindow[] = [];
  let first = 0;
  let start = 0;
  while (first < content.length) {
    let next = Math.min(first + capacity, content.length);
    if (next < content.length) next = cutBefore(text, content, first, next);
    const end = next < content.length ? content[next].start : text.length;
    windows.push({ start, end, firstToken: first, tokenCount: next - first });
    first = next;
    start = end;
  }
  return windows;
}

/**
 * The token index in (first, limit] to start the next window at: the last one that begins a word
 * (whitespace right before it, or a leading space of its own as byte-level BPE has), else the last
 * one that does not share a character with the token before it (the bytes of one character can be
 * several tokens), else `limit`.
 */
function cutBefore(text: string, tokens: readonly Token[], first: number, limit: number): number {
  for (let k = limit; k > first; k--) {
    const at = tokens[k].start;
    if (at >= tokens[k - 1].end && (isSpace(text[at - 1]) || isSpace(text[at]))) return k;
  }
  for (let k = limit; k > first; k--) {
    if (tokens[k].start >= tokens[k - 1].end && tokens[k].start > tokens[k - 1].start) return k;
  }
  return limit;
}

