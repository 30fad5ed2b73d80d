/** `eval`: perplexity of a text file under the model, with the reference protocol. */
import * as tf from '@tensorflow/tfjs-core';
import type { BackendReport } from '../model/backend';
import { InputError, UsageError } from '../util/errors';
import { degeneratePlanesWarning, reducedStateTaps } from './degeneratePlanes';
import { MAX_EVAL_TEXT_BYTES, onlySpecialTokensWarning, readTextFileBounded } from './input';
import { pauseFor, type Cancellation } from './cancellation';
import { freshSession, type SessionProvider } from './session';

export interface EvalParams {
  data: string;
  /** Chunk length; default: the model's position table. */
  seqLen?: number;
  config?: string;
  /** An architecture description file (--arch); otherwise one found beside the checkpoint, or the built-ins. */
  arch?: string;
  tokenizer?: string;
  backend?: BackendReport;
}

export interface EvalReport {
  mean_nll: number;
  perplexity: number;
  /** Next-token top-1 accuracy over the same predictions. */
  accuracy: number;
  chunks: number;
  seq_len: number;
  tokens: number;
  tokens_dropped: number;
  backend: string;
  warnings: string[];
}

/** With a cancellation, evaluation stops between blocks of each batch of chunks. */
export async function evaluateFile(checkpointPath: string, params: EvalParams, control?: Cancellation, sessions: SessionProvider = freshSession): Promise<EvalReport> {
  // Read whole by design, so bounded (MAX_EVAL_TEXT_BYTES, ./input.ts).
  const text = await readTextFileBounded(params.data, 'evaluation text', MAX_EVAL_TEXT_BYTES);
  const pause = pauseFor(control);
  return sessions(checkpointPath, { config: params.config, arch: params.arch, tokenizer: params.tokenizer }, async (session) => {
    const Tmax = session.spec.dims.maxPositions;
    const seqLen = params.seqLen ?? Tmax;
    if (params.seqLen === undefined && Tmax < 2) throw new InputError(checkpointPath, `the model has ${Tmax} position: evaluation needs chunks of at least 2 tokens`);
    // A chunk length outside the position table is the caller's mistake (the CLI: exit 2).
    if (!Number.isInteger(seqLen) || seqLen < 2 || seqLen > Tmax) throw new UsageError(`--seq-len ${seqLen} must be an integer in 2..${Tmax} (the model's position table)`);
    // The protocol encodes the whole file once, with the special tokens, then cuts it.
    const tokens = session.encode(text);
    const ids = tokens.map((t) => t.id);
    const model = await session.loadModel();
    const result = await model.evaluate(ids, seqLen, { pause });
    // Near-degenerate planes, on a bounded sample: the first chunk (one more forward pass of seqLen tokens).
    const sample = await model.forward(ids.slice(0, seqLen), { taps: reducedStateTaps(session.spec), pause });
    const degenerate = degeneratePlanesWarning(session.spec, sample.taps, seqLen,
      result.chunks > 1 ? `counted on the first chunk of ${seqLen} tokens only (of ${result.chunks})` : `counted on every plane of the one chunk of ${seqLen} tokens`);
    const empty = onlySpecialTokensWarning(text, tokens);
    return {
      mean_nll: result.mean_nll,
      perplexity: result.perplexity,
      accuracy: result.accuracy,
      chunks: result.chunks,
      seq_len: seqLen,
      tokens: ids.length,
      tokens_dropped: ids.length - result.chunks * seqLen,
      backend: params.backend?.active ?? tf.getBackend(),
      warnings: [...session.notices, ...model.warnings, ...(empty ? [empty] : []), ...(degenerate ? [degenerate] : [])],
    };
  });
}
