/** The text a command runs through a model: read from --text or --file, tokenized, fitted to the position table. */
import { promises as fs } from 'node:fs';
import type { Token } from '../tokenizer';
import { InputError } from '../util/errors';
import type { ModelSession } from './session';

export interface TextInput {
  text?: string;
  file?: string;
}

/** Reads the text from `text` or the file `file`. */
export async function readInput(p: TextInput): Promise<string> {
  if (p.text !== undefined) return p.text;
  try {
    return await fs.readFile(p.file!, 'utf8');
  } catch (e) {
    throw new InputError(p.file!, `cannot read the input text (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

export interface ModelTokens {
  tokens: Token[];
  ids: number[];
  /** Set when the text has more tokens than the model's position table. */
  truncated: { total: number; kept: number } | null;
  warnings: string[];
}

/**
 * Tokens of `text` for the session's model. Longer text than the position table: the model cannot
 * place token Tmax+1 at all, so the first Tmax tokens run and a warning says so (eval handles long
 * text in chunks instead).
 */
export function tokensForModel(session: ModelSession, text: string): ModelTokens {
  const allTokens = session.encode(text);
  if (allTokens.length === 0) throw new InputError(session.tokenizer.path, 'the text produced no tokens');
  const Tmax = session.spec.dims.maxPositions;
  const tokens = allTokens.slice(0, Tmax);
  const truncated = allTokens.length > Tmax ? { total: allTokens.length, kept: Tmax } : null;
  const warnings = truncated ? [`the text has ${truncated.total} tokens; the model has ${Tmax} positions, so only the first ${Tmax} were run`] : [];
  return { tokens, ids: tokens.map((t) => t.id), truncated, warnings };
}
