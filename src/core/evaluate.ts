/** `eval`: perplexity of a text file under the model, with the reference protocol. */
import * as tf from '@tensorflow/tfjs-core';
import type { BackendReport } from '../model/backend';
import { InputError } from '../util/errors';
import { MAX_EVAL_TEXT_BYTES, readTextFileBounded } from './input';
import { ModelSession } from './session';

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

export async function evaluateFile(checkpointPath: string, params: EvalParams): Promise<EvalReport> {
  // Read whole by design, so bounded (MAX_EVAL_TEXT_BYTES, ./input.ts).
  const text = await readTextFileBounded(params.data, 'evaluation text', MAX_EVAL_TEXT_BYTES);
  return ModelSession.with(checkpointPath, { config: params.config, arch: params.arch, tokenizer: params.tokenizer }, async (session) => {
    const seqLen = params.seqLen ?? session.spec.dims.maxPositions;
    if (seqLen > session.spec.dims.maxPositions) {
      throw new InputError(checkpointPath, `--seq-len ${seqLen} is longer than the model's position table (${session.spec.dims.maxPositions})`);
    }
    // The protocol encodes the whole file once, with the special tokens, then cuts it.
    const ids = session.encode(text).map((t) => t.id);
    const model = await session.loadModel();
    const result = await model.evaluate(ids, seqLen);
    return {
      mean_nll: result.mean_nll,
      perplexity: result.perplexity,
      accuracy: result.accuracy,
      chunks: result.chunks,
      seq_len: seqLen,
      tokens: ids.length,
      tokens_dropped: ids.length - result.chunks * seqLen,
      backend: params.backend?.active ?? tf.getBackend(),
      warnings: [...session.notices, ...model.warnings],
    };
  });
}
