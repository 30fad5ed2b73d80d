/**
 * Which text scores the units of a pruning sweep and which text evaluates the pruned models, and
 * the held-out split of one file into the two: the first `fraction` of the file (to the end of
 * the line reached there) is the reference text, the rest the evaluation text. No TensorFlow.js,
 * no VS Code: the sweep, the CLI's report text, the extension's flow and the report's webview
 * share it (test/unit/heldOut.test.ts).
 */
import type { PruneReport, PruneTextSplit } from '../relevance/types';

/** The share of the file that scores the units when the flow splits it (the rest evaluates). */
export const DEFAULT_REFERENCE_SPLIT = 0.25;

export type TextSplit = PruneTextSplit;

/** Why `fraction` cannot split a text, or null when it can. */
export function splitFractionProblem(fraction: number): string | null {
  return Number.isFinite(fraction) && fraction > 0 && fraction < 1
    ? null
    : `--reference-split ${fraction} must be a number between 0 and 1 (exclusive): the share of the evaluation file, at its start, that scores the units`;
}

const lineEnds = (text: string, from: number, to: number): number => {
  let n = 0;
  for (let i = from; i < to; i++) if (text.charCodeAt(i) === 10) n++;
  return n;
};

/**
 * Splits `text` into a reference part (its start) and an evaluation part (the rest): the cut is
 * after the first line end at or past `fraction` of the characters, or at that character when no
 * line end follows. The two parts are disjoint and together are the text.
 */
export function splitReference(text: string, fraction: number): { reference: string; evaluation: string; split: TextSplit } {
  const problem = splitFractionProblem(fraction);
  if (problem) throw new RangeError(problem);
  const target = Math.floor(text.length * fraction);
  // A line end just before the target (the target is at a line start) cuts there.
  const newline = target > 0 && text.charCodeAt(target - 1) === 10 ? target - 1 : text.indexOf('\n', target);
  const cut = newline < 0 ? target : newline + 1;
  const reference = text.slice(0, cut);
  const evaluation = text.slice(cut);
  return {
    reference,
    evaluation,
    split: {
      fraction,
      cut,
      referenceChars: reference.length,
      evaluationChars: evaluation.length,
      referenceLines: lineEnds(text, 0, cut),
      evaluationLines: lineEnds(text, cut, text.length) + (evaluation.length > 0 && !evaluation.endsWith('\n') ? 1 : 0),
    },
  };
}

const percent = (f: number): string => `${Math.round(f * 1000) / 10}%`;

/** "the first 25% of eval.txt (1,913 characters, 10 lines) scores the units; the rest (…) evaluates": the split in words. */
export function describeSplit(path: string, split: TextSplit): string {
  return `the first ${percent(split.fraction)} of ${path} (characters 0–${split.cut}, ${split.referenceLines} lines) scores the units; the rest (${split.evaluationChars} characters from ${split.cut}) evaluates`;
}

/** Which text scored the units and which evaluated the steps, one line each (the CLI report and the webview). */
export function describeTexts(r: Pick<PruneReport, 'data' | 'reference' | 'referenceSource' | 'split' | 'referenceSamples' | 'seqLen'>): { reference: string; evaluation: string } {
  const samples = `${r.referenceSamples} samples of ${r.seqLen} tokens`;
  if (r.split) {
    return {
      reference: `${samples} from the first ${percent(r.split.fraction)} of ${r.data} (characters 0–${r.split.cut}, ${r.split.referenceLines} lines): held out from the evaluation`,
      evaluation: `the rest of ${r.data} (${r.split.evaluationChars} characters from ${r.split.cut})`,
    };
  }
  const source = r.referenceSource ?? (r.reference === r.data ? 'evaluation' : 'file');
  return {
    reference: source === 'evaluation'
      ? `${samples} from the evaluation text itself (${r.data}): not held out`
      : `${samples} from ${r.reference}`,
    evaluation: r.data,
  };
}
