/** `run`: text through the model — tokens, top-k next tokens, and optionally every tap. */
import * as tf from '@tensorflow/tfjs-core';
import { writeSafetensors, type TensorToWrite } from '../checkpoint/safetensorsWriter';
import type { BackendReport } from '../model/backend';
import { InputError } from '../util/errors';
import { degeneratePlanesWarning, reducedStateTaps } from './degeneratePlanes';
import { readInput, tokensForModel } from './input';
import { pauseFor, type Cancellation } from './cancellation';
import { freshSession, type ModelSession, type SessionProvider } from './session';

export interface RunParams {
  text?: string;
  file?: string;
  config?: string;
  /** An architecture description file (--arch); otherwise one found beside the checkpoint, or the built-ins. */
  arch?: string;
  tokenizer?: string;
  /** Write every tap to this .safetensors file. */
  dump?: string;
  topK?: number;
  backend?: BackendReport;
}

export interface NextToken {
  id: number;
  token: string;
  probability: number;
}

export interface RunReport {
  checkpoint: string;
  tokenizer: string;
  backend: string;
  tokens: { text: string; id: number; start: number; end: number; special: boolean }[];
  ids: number[];
  /** Per position t: the most probable tokens at t+1. */
  next: NextToken[][];
  /** Tokens the model did not see because the text is longer than its position table. */
  truncated: { total: number; kept: number } | null;
  dumped: { path: string; tensors: number } | null;
  warnings: string[];
  forwardMs: number;
}

export async function runText(checkpointPath: string, params: RunParams, control?: Cancellation, sessions: SessionProvider = freshSession): Promise<RunReport> {
  return sessions(checkpointPath, { config: params.config, arch: params.arch, tokenizer: params.tokenizer }, async (session) => runInSession(session, await readInput(params), params, control));
}

function topK(row: Float32Array, k: number): Array<{ id: number; logit: number }> {
  const best: Array<{ id: number; logit: number }> = [];
  for (let id = 0; id < row.length; id++) {
    const logit = row[id];
    if (best.length < k || logit > best[best.length - 1].logit) {
      best.push({ id, logit });
      best.sort((a, b) => b.logit - a.logit);
      if (best.length > k) best.pop();
    }
  }
  return best;
}

/** The k most probable next tokens at each of the T positions of logits [T, V]. */
export function nextTokens(logits: Float32Array, T: number, V: number, k: number, idToToken: (id: number) => string | undefined): NextToken[][] {
  const next: NextToken[][] = [];
  for (let t = 0; t < T; t++) {
    const row = logits.subarray(t * V, (t + 1) * V);
    let max = -Infinity;
    for (let i = 0; i < V; i++) if (row[i] > max) max = row[i];
    let sum = 0;
    for (let i = 0; i < V; i++) sum += Math.exp(row[i] - max);
    next.push(topK(row, k).map(({ id, logit }) => ({ id, token: idToToken(id) ?? `<id ${id}>`, probability: Math.exp(logit - max) / sum })));
  }
  return next;
}

export async function runInSession(session: ModelSession, text: string, params: RunParams, control?: Cancellation): Promise<RunReport> {
  const spec = session.spec;
  const found = session.tokenizer;
  const { tokens, ids, truncated, warnings } = tokensForModel(session, text);
  const model = await session.loadModel();
  const started = performance.now();
  // z of every layer rides along (for the near-degenerate-plane count) when not every tap is dumped
  const result = await model.forward(ids, { taps: params.dump ? true : reducedStateTaps(spec), pause: pauseFor(control) });
  const forwardMs = performance.now() - started;
  const degenerate = degeneratePlanesWarning(spec, result.taps, ids.length, `counted on every plane of the ${ids.length} tokens`);

  const [T, V] = result.logitsShape;
  const next = nextTokens(result.logits, T, V, params.topK ?? 5, (id) => found.tokenizer.idToToken(id));

  let dumped: RunReport['dumped'] = null;
  if (params.dump) {
    const tensors: TensorToWrite[] = [];
    for (const [name, tap] of result.taps) tensors.push({ name, dtype: 'F32', shape: tap.shape, data: tap.data });
    if (!result.taps.has('logits')) tensors.push({ name: 'logits', dtype: 'F32', shape: [T, V], data: result.logits });
    try {
      await writeSafetensors(params.dump, tensors, { input_ids: JSON.stringify(ids), checkpoint: session.checkpoint.path });
    } catch (e) {
      throw new InputError(params.dump, `cannot write the dump (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    dumped = { path: params.dump, tensors: tensors.length };
  }

  return {
    checkpoint: session.checkpoint.path,
    tokenizer: found.path,
    backend: params.backend?.active ?? tf.getBackend(),
    tokens: tokens.map(({ text: t, id, start, end, special }) => ({ text: t, id, start, end, special })),
    ids,
    next,
    truncated,
    dumped,
    warnings: [...session.notices, ...model.warnings, ...warnings, ...(degenerate ? [degenerate] : [])],
    forwardMs,
  };
}

export function formatRunReport(r: RunReport): string {
  const lines = [`${r.checkpoint} (tokenizer ${r.tokenizer}, backend ${r.backend}, forward ${r.forwardMs.toFixed(1)} ms)`];
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  lines.push('pos  id     token            next (probability)');
  r.tokens.forEach((tok, t) => {
    const next = r.next[t].map((n) => `${n.token} ${(n.probability * 100).toFixed(1)}%`).join(', ');
    lines.push(`${String(t).padStart(3)}  ${String(tok.id).padEnd(5)}  ${tok.text.padEnd(15)}  ${next}`);
  });
  if (r.dumped) lines.push(`wrote ${r.dumped.tensors} tensors to ${r.dumped.path}`);
  return lines.join('\n');
}
