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
  /** Left out as expected (optimizer state): information, not a warning. */
  notes: string[];
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
    notes: [...(checkpoint.notes ?? [])],
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

