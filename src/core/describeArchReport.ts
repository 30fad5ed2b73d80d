/**
 * What `describe-arch` reports (src/core/describeArch.ts), and its text: types and formatting
 * only, so that the extension host can show a draft without bundling the checkpoint readers.
 */
import type { ArchitectureFileJson } from '../model/archFile';

export interface ArchitectureDraft {
  checkpoint: string;
  /** The description file's content (undecided included). */
  file: ArchitectureFileJson;
  /** The built-in description these tensors fit, or null. */
  builtIn: { id: string; label: string } | null;
  /** What was decided and why, one line each. */
  decided: string[];
  /** What could not be decided: the guess taken and what to check (also file.undecided). */
  undecided: string[];
  /** Tensors no role took. */
  unused: string[];
  /** The config whose keys were matched (a file, or `<checkpoint>#key`), or null. */
  configPath: string | null;
  /** The drafted description recognises these tensors (its options still to be checked). */
  fits: boolean;
  /** Why not (empty when it fits). */
  problems: string[];
}

export interface DescribeArchReport extends ArchitectureDraft {
  /** The file written. */
  out: string;
}

export function formatDescribeArchReport(r: DescribeArchReport): string {
  const lines = [`wrote ${r.out}`];
  if (r.builtIn) lines.push(`  ${r.checkpoint} fits the built-in description ${r.builtIn.label} (${r.builtIn.id}): the file starts from it`);
  lines.push('decided:');
  for (const d of r.decided) lines.push(`  ${d}`);
  if (r.undecided.length > 0) {
    lines.push(`undecided (${r.undecided.length}; also listed in the file's "undecided"):`);
    for (const u of r.undecided) lines.push(`  - ${u}`);
  }
  if (!r.fits) lines.push(`the description does not fit these tensors yet: ${r.problems.join('; ')}`);
  else if (r.undecided.length > 0) lines.push('the description fits these tensors: check what is undecided (and delete those lines), then run any command on the checkpoint');
  else lines.push('the description fits these tensors');
  return lines.join('\n');
}
