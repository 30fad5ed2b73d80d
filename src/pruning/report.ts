/** Text form of a pruning sweep (CLI). */
import type { PruneReport } from '../relevance/types';

export function formatPruneReport(r: PruneReport): string {
  const lines: string[] = [];
  const pct = (v: number): string => `${(v * 100).toFixed(1)}%`;
  lines.push(`${r.checkpoint}`);
  lines.push(`  units        ${r.units} (${r.unitsPerLayer.join(' + ')} per layer), ${r.scope} ranking, ${r.mode} mode`);
  lines.push(`  reference    ${r.referenceSamples} samples of ${r.seqLen} tokens from ${r.reference}`);
  lines.push(`  evaluation   ${r.data} (${r.baseline.predictions} predictions)`);
  lines.push(`  baseline     perplexity ${r.baseline.perplexity.toFixed(4)}, top-1 ${pct(r.baseline.accuracy)}`);
  lines.push('');
  lines.push(`  ${'criterion'.padEnd(10)} ${'rate'.padStart(6)} ${'removed'.padStart(8)} ${'perplexity'.padStart(11)} ${'top-1'.padStart(7)}  left per layer`);
  for (const s of r.steps) {
    lines.push(`  ${s.criterion.padEnd(10)} ${pct(s.rate).padStart(6)} ${String(s.removed.length).padStart(8)} ${s.perplexity.toFixed(4).padStart(11)} ${pct(s.accuracy).padStart(7)}  ${s.remaining.join(' ')}`);
  }
  lines.push('');
  lines.push(`  written to   ${r.output} (pruning.json, one folder per criterion and rate)`);
  lines.push(`  backend      ${r.backend}, ${r.seconds.toFixed(1)} s`);
  for (const w of r.warnings) lines.push(`  warning      ${w}`);
  return lines.join('\n');
}
