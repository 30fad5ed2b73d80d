/**
 * What a pruning sweep can be asked for and what it does when not told: the defaults, which
 * criteria apply to which units, the criteria and units as the Prune by Explanation flow offers
 * them, and the rates' syntax. One copy for the CLI, the sweep and the extension's quick picks; no
 * TensorFlow.js, so the extension host imports it and test/unit/pruneChoices.test.ts tests it.
 */
import { basename, dirname, extname, join } from 'node:path';
import { DEFAULT_BOOTSTRAP_RESAMPLES } from './bootstrap';
import type { PruneCriterion, PruneMode, PruneScope, PruneUnitKind } from '../relevance/types';

export const DEFAULT_PRUNE = {
  criteria: ['lrp', 'magnitude', 'taylor'] as PruneCriterion[],
  units: 'ffn' as PruneUnitKind,
  rates: [0.1, 0.3, 0.5],
  mode: 'structural' as PruneMode,
  scope: 'global' as PruneScope,
  referenceSamples: 8,
  seed: 1,
  bootstrap: DEFAULT_BOOTSTRAP_RESAMPLES,
};

/** Criteria that need weights of the unit itself (a window offset has none). */
const NEEDS_WEIGHTS: readonly PruneCriterion[] = ['magnitude', 'wina'];

/** Why `criterion` cannot rank units of `kind`, or null when it can. */
export function criterionApplies(criterion: PruneCriterion, kind: PruneUnitKind): string | null {
  if (kind === 'windows' && NEEDS_WEIGHTS.includes(criterion)) {
    return `criterion ${criterion} does not apply to window offsets: an offset has no weights of its own (use lrp, gradient, taylor or random)`;
  }
  return null;
}

/** The criteria a sweep of `units` runs when none are named. */
export function defaultCriteria(units: PruneUnitKind): PruneCriterion[] {
  return units === 'windows' ? ['lrp', 'gradient', 'taylor'] : [...DEFAULT_PRUNE.criteria];
}

/** Every criterion with a line on what it scores, in the order the flow offers them. */
export const CRITERION_CHOICES: readonly { id: PruneCriterion; detail: string }[] = [
  { id: 'lrp', detail: '|relevance| (LRP) of the unit on the reference samples' },
  { id: 'lrp-signed', detail: 'signed relevance: units with negative relevance go first' },
  { id: 'magnitude', detail: 'weight norm of the unit' },
  { id: 'taylor', detail: 'first-order Taylor: |activation × gradient of the loss|' },
  { id: 'taylor-logit', detail: 'first-order Taylor with the gradient of the true-token logits' },
  { id: 'gradient', detail: 'mean absolute gradient at the unit' },
  { id: 'wina', detail: 'activation magnitude × weight norm (WINA)' },
  { id: 'random', detail: 'random scores (a baseline), from the seed' },
];

export const UNIT_CHOICES: readonly { id: PruneUnitKind; label: string; detail: string }[] = [
  { id: 'ffn', label: 'FFN neurons', detail: 'hidden neurons of each block\'s feed-forward layer' },
  { id: 'reduced', label: 'Reduced dimensions', detail: 'dimensions of z = W_red h (each removes its Plücker pairs)' },
  { id: 'windows', label: 'Window offsets', detail: 'the offsets each block mixes over (structural only)' },
];

/** The criteria offered for `units` and the ones selected to begin with (the sweep's defaults). */
export function criteriaChoices(units: PruneUnitKind): { offered: { id: PruneCriterion; detail: string }[]; selected: PruneCriterion[] } {
  return { offered: CRITERION_CHOICES.filter((c) => criterionApplies(c.id, units) === null), selected: defaultCriteria(units) };
}

/** The modes offered for `units` (window offsets are only removed structurally). */
export function modeChoices(units: PruneUnitKind): PruneMode[] {
  return units === 'windows' ? ['structural'] : ['structural', 'mask'];
}

/** Rates as the flow shows them: "0.1, 0.3, 0.5". */
export function formatRates(rates: readonly number[]): string {
  return rates.join(', ');
}

/** Parses "0.1, 0.3 0.5" into rates (sorted, without repeats), or says what is wrong. */
export function parseRates(text: string): { rates?: number[]; error?: string } {
  const parts = text.split(/[\s,;]+/).filter(Boolean);
  if (parts.length === 0) return { error: `Enter at least one rate, e.g. ${formatRates(DEFAULT_PRUNE.rates)}` };
  const rates: number[] = [];
  for (const p of parts) {
    const r = Number(p);
    if (!Number.isFinite(r)) return { error: `"${p}" is not a number` };
    if (!(r > 0 && r < 1)) return { error: `rate ${p} must be between 0 and 1 (exclusive): it is the fraction of units removed` };
    rates.push(r);
  }
  return { rates: [...new Set(rates)].sort((a, b) => a - b) };
}

/**
 * Where a sweep of `checkpoint` writes by default. A folder that holds two or more checkpoints
 * (the checkpoint counted) is taken as a training run's checkpoints folder, and the output goes
 * beside it, not into it: `<parent of that folder>/<stem>-pruned`; a checkpoint alone in its
 * folder (a model folder) gets `<its folder>/<stem>-pruned`. `checkpointsInFolder` is how many
 * checkpoint files its folder holds (src/checkpoint/files.ts checkpointsInFolder).
 */
export function defaultOutputFolder(checkpoint: string, checkpointsInFolder: number): string {
  const folder = dirname(checkpoint);
  const stem = basename(checkpoint, extname(checkpoint));
  const runFolder = checkpointsInFolder >= 2;
  return join(runFolder ? dirname(folder) : folder, `${stem}-pruned`);
}
