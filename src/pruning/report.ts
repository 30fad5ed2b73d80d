/** Text form of a pruning sweep (CLI). */
import type { Interval, PruneReport } from '../relevance/types';
import { describeTexts } from './heldOut';

const pct = (v: number): string => `${(v * 100).toFixed(1)}%`;
const signed = (v: number, digits: number): string => `${v >= 0 ? '+' : ''}${v.toFixed(digits)}`;

/** "[a, b]" with `f` for each end. */
export function formatInterval(i: Interval, f: (v: number) => string): string {
  return `[${f(i.low)}, ${f(i.high)}]`;
}

/** How the intervals were made, in one line (CLI, study). */
export function bootstrapLine(r: Pick<PruneReport, 'bootstrap' | 'seqLen'>): string {
  const b = r.bootstrap;
  return `${Math.round(b.level * 100)}% percentile bootstrap, B = ${b.resamples} resamples of the ${b.chunks} evaluation chunks of ${r.seqLen} tokens (${b.predictionsPerChunk} predictions each), seed ${b.seed}, paired: the same resamples for every model`;
}

export function formatPruneReport(r: PruneReport): string {
  const lines: string[] = [];
  const b = r.baseline;
  lines.push(`${r.checkpoint}`);
  lines.push(`  units        ${r.units} (${r.unitsPerLayer.join(' + ')} per layer), ${r.scope} ranking, ${r.mode} mode`);
  const texts = describeTexts(r);
  lines.push(`  scored on    ${texts.reference}`);
  lines.push(`  evaluated on ${texts.evaluation} (${b.predictions} predictions)`);
  lines.push(`  intervals    ${bootstrapLine(r)}`);
  for (const c of r.conventions) lines.push(`  scoring      ${c}`);
  lines.push(`  baseline     perplexity ${b.perplexity.toFixed(4)} ${formatInterval(b.interval.perplexity, (v) => v.toFixed(4))}, top-1 ${pct(b.accuracy)} ${formatInterval(b.interval.accuracy, pct)}`);
  lines.push('');
  lines.push(`  ${'criterion'.padEnd(12)} ${'rate'.padStart(6)} ${'removed'.padStart(8)} ${'perplexity'.padStart(11)} ${'95% interval'.padEnd(21)} ${'ΔNLL'.padStart(8)} ${'95% interval'.padEnd(19)} ${'top-1'.padStart(7)} ${'95% interval'.padEnd(15)}  left per layer`);
  for (const s of r.steps) {
    lines.push(`  ${s.criterion.padEnd(12)} ${pct(s.rate).padStart(6)} ${String(s.removed.length).padStart(8)} ${s.perplexity.toFixed(4).padStart(11)} ${formatInterval(s.interval.perplexity, (v) => v.toFixed(4)).padEnd(21)} ${signed(s.deltaNll.value, 4).padStart(8)} ${formatInterval(s.deltaNll.interval, (v) => signed(v, 4)).padEnd(19)} ${pct(s.accuracy).padStart(7)} ${formatInterval(s.interval.accuracy, pct).padEnd(15)}  ${s.remaining.join(' ')}`);
  }
  if (r.comparisons.length) {
    lines.push('');
    lines.push(`  separability (${r.bootstrap.separability})`);
    for (const rate of r.rates) {
      const at = r.comparisons.filter((c) => c.rate === rate);
      if (!at.length) continue;
      const not = at.filter((c) => !c.separable);
      const which = not.length === at.length && at.length > 1 ? `all ${at.length} pairs` : not.map((c) => `${c.a}/${c.b}`).join(', ');
      lines.push(`    rate ${pct(rate)}: ${not.length ? `not separable (perplexity intervals overlap): ${which}` : 'every pair separable'}`);
      for (const c of at) {
        lines.push(`      ${`${c.a} − ${c.b}`.padEnd(26)} ΔNLL ${signed(c.deltaNll.value, 4)} ${formatInterval(c.deltaNll.interval, (v) => signed(v, 4))}  ${c.overlap ? 'perplexity intervals overlap' : 'perplexity intervals disjoint'}; paired interval ${c.pairedExcludesZero ? 'excludes' : 'contains'} 0`);
      }
    }
  }
  lines.push('');
  lines.push(`  written to   ${r.output} (pruning.json, one folder per criterion and rate)`);
  lines.push(`  backend      ${r.backend}, ${r.seconds.toFixed(1)} s`);
  for (const w of r.warnings) lines.push(`  warning      ${w}`);
  return lines.join('\n');
}
