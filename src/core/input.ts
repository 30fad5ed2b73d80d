/**
 * The text a command runs through a model: read from --text or --file, tokenized, fitted to the
 * position table.
 *
 * Limits (each an InputError naming the file and the limit, or a warning where the text is cut):
 *   MAX_INPUT_TEXT_BYTES = 64 MiB: a --file for run, features, relevance, distances, compare
 *     (only its start is tokenised, see below; the file is read whole to find its characters).
 *   MAX_EVAL_TEXT_BYTES = 16 MiB: the evaluation text of eval and the reference text of prune,
 *     which are tokenised whole by design (about 4 million tokens; wikitext-103's validation
 *     set is 1.2 MB).
 *   TOKENISE_CHARS_PER_POSITION = 32, MIN_TOKENISE_CHARS = 65,536: a run tokenises at most
 *     max(MIN_TOKENISE_CHARS, 32 x positions)
 *     characters of the text first (English averages about 4 characters per token), so a 10 MB
 *     text costs what its start does; only where that start gives too few tokens for the
 *     position table does tokenisation go on, token-bounded, up to
 *   MAX_TOKENISED_CHARS = 4,194,304 characters; past that the text is cut with a warning.
 */
import { promises as fs } from 'node:fs';
import type { Token } from '../tokenizer';
import { InputError } from '../util/errors';
import type { ModelSession } from './session';

export const MAX_INPUT_TEXT_BYTES = 64 << 20;
export const MAX_EVAL_TEXT_BYTES = 16 << 20;
export const TOKENISE_CHARS_PER_POSITION = 32;
export const MIN_TOKENISE_CHARS = 65_536;
export const MAX_TOKENISED_CHARS = 4 << 20;

export interface TextInput {
  text?: string;
  file?: string;
}

/**
 * Reads a UTF-8 text file of at most `maxBytes` (only regular files: a FIFO would block); every
 * problem is an InputError naming the file. `what` names the text in messages.
 */
export async function readTextFileBounded(file: string, what: string, maxBytes: number): Promise<string> {
  try {
    const stat = await fs.stat(file);
    if (stat.isDirectory()) throw new InputError(file, `cannot read the ${what}: it is a folder`);
    if (!stat.isFile()) throw new InputError(file, `cannot read the ${what}: not a regular file`);
    if (stat.size > maxBytes) throw new InputError(file, `the ${what} is ${stat.size} bytes, more than the limit of ${maxBytes} bytes`);
    const handle = await fs.open(file, 'r');
    try {
      const buffer = Buffer.alloc(Math.min(maxBytes, stat.size) + 1);
      let length = 0;
      while (length < buffer.length) {
        const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
        if (bytesRead === 0) break;
        length += bytesRead;
      }
      if (length > maxBytes) throw new InputError(file, `the ${what} is more than the limit of ${maxBytes} bytes`);
      return buffer.subarray(0, Math.min(length, stat.size)).toString('utf8');
    } finally {
      await handle.close();
    }
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(file, `cannot read the ${what} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** Reads the text from `text` or the file `file` (at most MAX_INPUT_TEXT_BYTES). */
export async function readInput(p: TextInput): Promise<string> {
  if (p.text !== undefined) return p.text;
  return readTextFileBounded(p.file!, 'input text', MAX_INPUT_TEXT_BYTES);
}

export interface ModelTokens {
  tokens: Token[];
  ids: number[];
  /**
   * Set when the text has more tokens than the model's position table. `total` is the count of
   * the part tokenised (all of it for a short text; a lower bound for a long one, see above).
   */
  truncated: { total: number; kept: number } | null;
  warnings: string[];
}

/**
 * Tokens of `text` for the session's model. Longer text than the position table: the model cannot
 * place token Tmax+1 at all, so the first Tmax tokens run and a warning says so (eval handles long
 * text in chunks instead). Only the start of a long text is tokenised (see the limits above).
 */
export function tokensForModel(session: ModelSession, text: string): ModelTokens {
  const Tmax = session.spec.dims.maxPositions;
  const budget = Math.min(MAX_TOKENISED_CHARS, Math.max(MIN_TOKENISE_CHARS, TOKENISE_CHARS_PER_POSITION * Tmax));
  const { tokens: allTokens, complete, charsRead } = encodeStart(session, text, Tmax, budget);
  if (allTokens.length === 0) throw new InputError(session.tokenizer.path, 'the text produced no tokens');
  const tokens = allTokens.slice(0, Tmax);
  const truncated = allTokens.length > Tmax ? { total: allTokens.length, kept: Tmax } : null;
  const warnings: string[] = [];
  if (truncated && complete) {
    warnings.push(`the text has ${truncated.total} tokens; the model has ${Tmax} positions, so only the first ${Tmax} were run`);
  } else if (truncated) {
    warnings.push(`the text has at least ${truncated.total} tokens (in its first ${charsRead} of ${text.length} characters; the rest was not tokenised); the model has ${Tmax} positions, so only the first ${Tmax} were run`);
  } else if (!complete) {
    warnings.push(`only the first ${charsRead} of the text's ${text.length} characters were tokenised (the limit is ${MAX_TOKENISED_CHARS}); they gave ${allTokens.length} tokens, fewer than the model's ${Tmax} positions`);
  }
  const empty = onlySpecialTokensWarning(text, tokens);
  if (empty) warnings.push(empty);
  return { tokens, ids: tokens.map((t) => t.id), truncated, warnings };
}

/**
 * A warning when `text` gave no tokens of its own, only special ones (an empty or whitespace-only
 * text becomes [CLS] [SEP] with a BERT tokenizer, and would otherwise be analysed silently); null
 * otherwise. Costs nothing on an ordinary text: it stops at the first token that is not special.
 */
export function onlySpecialTokensWarning(text: string, tokens: readonly Token[]): string | null {
  if (tokens.length === 0 || tokens.some((t) => !t.special)) return null;
  const list = tokens.length <= 8 ? tokens.map((t) => t.text).join(' ') : `${tokens.length} special tokens`;
  return text.trim() === '' ? `the text is empty (or only whitespace): analysing just ${list}` : `the text gave only special tokens: analysing just ${list}`;
}

/**
 * The first tokens of `text`: its first `budget` characters, and if they give at most Tmax tokens
 * (an unusual text), on until Tmax + 1 tokens or MAX_TOKENISED_CHARS characters. Ids are checked
 * against the model's vocabulary as ModelSession.encode does.
 */
function encodeStart(session: ModelSession, text: string, Tmax: number, budget: number): { tokens: Token[]; complete: boolean; charsRead: number } {
  const { tokenizer } = session.tokenizer;
  let result: { tokens: Token[]; complete: boolean; charsRead: number };
  if (tokenizer.encodeBounded) {
    result = tokenizer.encodeBounded(text, { maxChars: budget });
    if (!result.complete && result.tokens.length <= Tmax) result = tokenizer.encodeBounded(text, { maxTokens: Tmax + 1, maxChars: MAX_TOKENISED_CHARS });
  } else {
    // A tokenizer without bounded encoding: a plain prefix (the last word may be cut).
    const cut = text.length > budget ? budget - (isHighSurrogate(text.charCodeAt(budget - 1)) ? 1 : 0) : text.length;
    result = { tokens: tokenizer.encode(text.slice(0, cut)), complete: cut === text.length, charsRead: cut };
  }
  const V = session.spec.dims.vocabSize;
  const outside = result.tokens.find((t) => t.id >= V);
  if (outside) {
    throw new InputError(tokenizer.source, `token '${outside.text.slice(0, 200)}' has id ${outside.id}, outside the model's vocabulary of ${V}: this tokenizer does not belong to ${session.checkpoint.path}`);
  }
  return result;
}

const isHighSurrogate = (unit: number): boolean => unit >= 0xd800 && unit <= 0xdbff;
