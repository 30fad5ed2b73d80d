/**
 * Plain-text rendering of an InspectReport (the CLI and the Output channel), and the value
 * formatters the checkpoint editor shares with it. Only types come from the rest of the core: a
 * value import would pull TensorFlow.js into the extension host, which must stay thin.
 */
import type { InspectReport } from './inspect';
import type { ModelDims } from '../model/spec';
import { terminalSafe } from '../util/safeText';

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

/** 1234567 -> "1.23 M": a reading aid next to the exact count. */
export function formatCountShort(n: number): string {
  const units: [number, string][] = [[1e12, 'T'], [1e9, 'B'], [1e6, 'M'], [1e3, 'k']];
  for (const [scale, unit] of units) if (Math.abs(n) >= scale) return `${(n / scale).toFixed(2)} ${unit}`;
  return String(n);
}

export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

export function formatValue(v: string | number | boolean | null): string {
  if (v === null) return '—';
  if (typeof v === 'number') return Number.isInteger(v) ? formatCount(v) : String(v);
  return String(v);
}

export function architectureLabel(report: InspectReport): string {
  return report.recognised && report.architecture ? report.architecture : 'not recognised (tensors can still be inspected)';
}

type BlockShapes = NonNullable<InspectReport['layerShapes']>;

const sameValues = (values: readonly number[]): boolean => values.every((v) => v === values[0]);

/**
 * Dimension rows; with the blocks' own sizes (a structurally pruned model), r and the FFN width
 * are listed per block where they differ ("per block: 16, 14, 16").
 */
export function dimensionRows(d: ModelDims, shapes?: BlockShapes): [string, string][] {
  const r = shapes?.map((s) => s.reducedDim) ?? [];
  const f = shapes?.map((s) => s.ffDim) ?? [];
  const reduced = r.length > 1 && !sameValues(r)
    ? `per block: ${r.map(formatCount).join(', ')} (${shapes!.map((s) => formatCount(s.pairCount)).join(', ')} Plücker pairs)`
    : `${formatCount(d.reducedDim)} (${formatCount(d.pairCount)} Plücker pairs)`;
  const ff = f.length > 1 && !sameValues(f) ? `per block: ${f.map(formatCount).join(', ')}` : formatCount(d.ffDim);
  return [
    ['Vocabulary (V)', formatCount(d.vocabSize)],
    ['Model width (d)', formatCount(d.modelDim)],
    ['Layers (L)', formatCount(d.layers)],
    ['Reduced dimension (r)', reduced],
    ['Feed-forward width', ff],
    ['Max positions', formatCount(d.maxPositions)],
  ];
}

export function windowsLabel(report: InspectReport): string | undefined {
  if (!report.windowSizes) return undefined;
  const list = `[${report.windowSizes.join(', ')}]${report.windowSource === 'assumed' ? ' (assumed)' : ''}`;
  return report.windowNote ? `${list} — ${report.windowNote}` : list;
}

/** "0: [1, 2, 4]; 1: [1, 2]; 2: none" when some block's window list is not the global one, else undefined. */
export function blockWindowsLabel(report: InspectReport): string | undefined {
  const shapes = report.layerShapes;
  const global = (report.windowSizes ?? []).join(',');
  if (!shapes || shapes.every((s) => s.windowSizes.join(',') === global)) return undefined;
  return shapes.map((s, l) => `${l}: ${s.windowSizes.length ? `[${s.windowSizes.join(', ')}]` : 'none'}`).join('; ');
}

/** "GrassLM (built-in description)", or "My model — described by /path/grassmann-lens.arch.json". */
export function implementationLabel(report: InspectReport): string | undefined {
  const impl = report.implementation;
  if (!impl) return undefined;
  return impl.source === 'built-in' ? `${impl.label} (built-in description)` : `${impl.label} — described by ${impl.source}`;
}

/**
 * Label/value pairs shared by the Output channel and the checkpoint editor's summary table. A
 * value of several lines (Block: what a block computes, one line per aspect; Assumed: everything
 * taken from a default rather than a config, one line each) holds them separated by newlines.
 */
export function summaryRows(report: InspectReport): [string, string][] {
  const rows: [string, string][] = [['Format', report.format]];
  if (report.files.length > 1 || report.files[0] !== report.path) rows.push(['Files', report.files.join(', ')]);
  rows.push(['Architecture', architectureLabel(report)]);
  const implementation = implementationLabel(report);
  if (implementation) rows.push(['Implementation', implementation]);
  if (report.layout?.length) rows.push(['Block', report.layout.join('\n')]);
  if (report.dims) rows.push(...dimensionRows(report.dims, report.layerShapes));
  const windows = windowsLabel(report);
  if (windows) rows.push(['Windows', windows]);
  const perBlock = blockWindowsLabel(report);
  if (perBlock) rows.push(['Windows per block', perBlock]);
  if (report.tiedLmHead !== undefined) rows.push(['lm_head', report.tiedLmHead ? 'tied to token_embedding' : 'separate']);
  if (report.configPath) rows.push(['Config', report.configPath]);
  if (report.assumed?.length) rows.push(['Assumed', report.assumed.join('\n')]);
  rows.push(['Parameters', `${formatCount(report.parameterCount)} (${formatCountShort(report.parameterCount)})`]);
  return rows;
}

function table(rows: string[][], indent: string): string[] {
  // a loop, not Math.max(...): a checkpoint may list 250,000 tensors (more arguments than the stack holds)
  const widths = rows[0].map((_, c) => rows.reduce((w, r) => Math.max(w, r[c].length), 0));
  return rows.map((r) => indent + r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join('  '));
}

/**
 * The inspect report as text: the CLI's `inspect` and the Output channel's Inspect Checkpoint
 * print this one rendering. Everything that comes from the file (names, metadata, warnings,
 * dtypes, paths) is escaped and cut (../util/safeText.ts), so no file can forge a line of it or
 * write control sequences to a terminal.
 */
export function inspectReportText(report: InspectReport): string {
  const safe = (v: unknown, max = 2000): string => terminalSafe(v, max);
  const lines = [`Checkpoint: ${safe(report.path)}`];
  for (const [label, value] of summaryRows(report)) {
    const [first, ...more] = value.split('\n').map((l) => safe(l));
    if (label === 'Assumed') {
      // every line marked, as the windows' "(assumed)"
      lines.push('Assumed (not in a config):', ...[first, ...more].map((a) => `  (assumed) ${a}`));
    } else if (more.length) {
      lines.push(`${label}:`, ...[first, ...more].map((l) => `  ${l}`));
    } else {
      lines.push(`${label}: ${first}`);
    }
  }
  if (report.missing.length) {
    lines.push('Not recognised because:');
    for (const m of report.missing) lines.push(`  - ${safe(m)}`);
  }
  const metadata = Object.entries(report.metadata);
  if (metadata.length) {
    lines.push('Metadata:');
    for (const line of table(metadata.map(([k, v]) => [safe(k, 200), safe(formatValue(v), 200)]), '  ')) lines.push(line);
  }
  if (report.warnings.length) {
    lines.push('Warnings:');
    for (const w of report.warnings) lines.push(`  ! ${safe(w)}`);
  }
  if (report.notes.length) {
    lines.push('Notes:');
    for (const n of report.notes) lines.push(`  - ${safe(n)}`);
  }
  lines.push(`Tensors (${formatCount(report.tensors.length)}):`);
  if (report.tensors.length) {
    const rows = [['name', 'dtype', 'shape'], ...report.tensors.map((t) => [safe(t.name, 500), safe(t.dtype, 40), formatShape(t.shape)])];
    for (const line of table(rows, '  ')) lines.push(line); // no spread: 250,000 rows would overflow the stack
  }
  return lines.join('\n');
}
