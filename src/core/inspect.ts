/** `inspect`: what a checkpoint holds, without reading its weights. */
import type { CheckpointFormat, ScalarValue } from '../checkpoint/types';
import { elementCount } from '../checkpoint/types';
import { describeOptions, type ArchitectureOptions } from '../model/architecture';
import { uniformLayerShapes, type GrassmannVariant, type ModelDims } from '../model/spec';

/** The architecture options of a variant (without what the weights tell). */
function optionsOf(variant: GrassmannVariant): ArchitectureOptions {
  const { tiedLmHead: _tied, ...options } = variant;
  return options;
}
import { ModelSession } from './session';
import { terminalSafe } from '../util/safeText';

export interface InspectReport {
  path: string;
  format: CheckpointFormat;
  files: string[];
  architecture: string | null;
  recognised: boolean;
  /** Why the architecture was not recognised (empty when it was). */
  missing: string[];
  /** Global dimensions; reducedDim / pairCount / ffDim are block 0's (see layerShapes). */
  dims?: ModelDims;
  /** Each block's sizes and window list (index = block): they differ in a structurally pruned model. */
  layerShapes?: { reducedDim: number; pairCount: number; ffDim: number; windowSizes: number[] }[];
  /** Every block has the same r, f and window list (a trained checkpoint). */
  uniformLayers?: boolean;
  windowSizes?: number[];
  windowSource?: 'config' | 'assumed';
  windowNote?: string;
  tiedLmHead?: boolean;
  configPath?: string | null;
  /** The implementation followed: built-in description or a description file. */
  implementation?: { id: string; label: string; source: string };
  /** The resolved architecture options (block layout, mixing output, aggregation, eps, ...). */
  options?: ArchitectureOptions;
  /** What a block computes, one line per aspect (describeOptions). */
  layout?: string[];
  /** Everything taken from a default rather than a config (shown *assumed*). */
  assumed?: string[];
  /** Elements of all distinct storages' tensors (a tied lm_head is counted once). */
  parameterCount: number;
  tensors: { name: string; dtype: string; shape: number[] }[];
  metadata: Record<string, ScalarValue>;
  warnings: string[];
}

export async function inspectCheckpoint(path: string, opts: { config?: string; arch?: string } = {}): Promise<InspectReport> {
  return ModelSession.with(path, { config: opts.config, arch: opts.arch }, async (session) => inspectSession(session));
}

export function inspectSession(session: ModelSession): InspectReport {
  const { checkpoint, description } = session;
  const tensors = [...checkpoint.tensors.values()];
  // Count each storage view once: tied weights share a storage and the same elements.
  const seen = new Set<string>();
  let parameterCount = 0;
  for (const t of tensors) {
    if (t.dtype !== 'F32' && t.dtype !== 'F16' && t.dtype !== 'BF16' && t.dtype !== 'F64') continue;
    const key = `${t.storage.source.path}\0${t.storage.key}\0${t.elementOffset}\0${t.shape.join('x')}`;
    if (seen.has(key)) continue;
    seen.add(key);
    parameterCount += elementCount(t.shape);
  }
  const report: InspectReport = {
    path: checkpoint.path,
    format: checkpoint.format,
    files: checkpoint.files,
    architecture: description.recognized ? description.spec.architecture : null,
    recognised: description.recognized,
    missing: description.recognized ? [] : description.problems,
    parameterCount,
    tensors: tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape })),
    metadata: checkpoint.metadata,
    warnings: [...checkpoint.warnings, ...(description.recognized ? description.spec.warnings : description.warnings)],
  };
  if (description.recognized) {
    const { spec } = description;
    Object.assign(report, {
      dims: spec.dims,
      layerShapes: spec.layerShapes.map(({ reducedDim, pairCount, ffDim, windowSizes }) => ({ reducedDim, pairCount, ffDim, windowSizes })),
      uniformLayers: uniformLayerShapes(spec.layerShapes),
      windowSizes: spec.windowSizes,
      windowSource: spec.windowSource,
      windowNote: spec.windowNote,
      tiedLmHead: spec.variant.tiedLmHead,
      configPath: spec.configPath,
      implementation: spec.implementation,
      options: optionsOf(spec.variant),
      layout: describeOptions(spec.variant),
      assumed: spec.assumed,
    });
  }
  return report;
}

export function formatInspectReport(r: InspectReport): string {
  const lines: string[] = [];
  lines.push(`${r.path}`);
  lines.push(`  format        ${r.format}${r.files.length > 1 || r.files[0] !== r.path ? ` (${r.files.join(', ')})` : ''}`);
  if (r.recognised && r.dims) {
    const d = r.dims;
    const impl = r.implementation;
    lines.push(`  architecture  ${r.architecture}${impl ? ` — ${impl.label} (${impl.source === 'built-in' ? 'built-in description' : `described by ${impl.source}`})` : ''}`);
    (r.layout ?? []).forEach((line, i) => lines.push(`  ${i === 0 ? 'block         ' : '              '}${line}`));
    const shapes = r.layerShapes ?? [];
    if (r.uniformLayers === false) {
      // A structurally pruned model: r, f and the windows per block.
      lines.push(`  dims          vocab ${d.vocabSize}, d ${d.modelDim}, layers ${d.layers}, max positions ${d.maxPositions}; per block:`);
      shapes.forEach((s, l) => {
        lines.push(`    block ${String(l).padEnd(4)} r ${s.reducedDim} (${s.pairCount} Plücker pairs), ff ${s.ffDim}, windows ${s.windowSizes.length ? `[${s.windowSizes.join(', ')}]` : 'none (g = 0)'}`);
      });
    } else {
      lines.push(`  dims          vocab ${d.vocabSize}, d ${d.modelDim}, layers ${d.layers}, r ${d.reducedDim} (${d.pairCount} Plücker pairs), ff ${d.ffDim}, max positions ${d.maxPositions}`);
    }
    lines.push(`  windows       [${r.windowSizes!.join(', ')}]${r.windowSource === 'assumed' ? ' (assumed)' : ''} — ${r.windowNote}`);
    lines.push(`  lm_head       ${r.tiedLmHead ? 'tied to the token embedding' : 'separate'}`);
    for (const a of r.assumed ?? []) lines.push(`  assumed       ${a}`);
  } else {
    lines.push('  architecture  not recognised (tensors can still be inspected)');
    for (const m of r.missing) lines.push(`    - ${terminalSafe(m)}`);
  }
  lines.push(`  parameters    ${r.parameterCount.toLocaleString('en-US')}`);
  const meta = Object.entries(r.metadata);
  // Names, metadata and warnings come from the file: each shown escaped and cut (../util/safeText.ts).
  if (meta.length) lines.push(`  metadata      ${terminalSafe(meta.map(([k, v]) => `${terminalSafe(k, 200)}=${terminalSafe(v, 200)}`).join(', '))}`);
  for (const w of r.warnings) lines.push(`  warning       ${terminalSafe(w)}`);
  lines.push(`  tensors (${r.tensors.length})`);
  const names = r.tensors.map((t) => terminalSafe(t.name, 500));
  let width = 4;
  for (const n of names) width = Math.max(width, Math.min(n.length, 80));
  r.tensors.forEach((t, i) => lines.push(`    ${names[i].padEnd(width)}  ${t.dtype.padEnd(4)}  [${t.shape.join(', ')}]`));
  return lines.join('\n');
}
