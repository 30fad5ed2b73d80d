/**
 * What a GrassmannGPT checkpoint's weights cannot tell: the window offsets, the LayerNorm eps and
 * (for variants) the pairing direction and gating form.
 *
 * Sources, in order:
 *   1. an explicit config file (the CLI's --config): any problem is an InputError naming it;
 *   2. a `config.json` in the checkpoint's folder or up to MAX_PARENT_LEVELS folders above it:
 *      a problem there is a warning and the file is ignored (the checkpoint must still open);
 *   3. the paper's defaults by depth (windowSource 'assumed'):
 *        6 layers  -> [1, 2, 4, 8, 12, 16]
 *        12 layers -> [1, 1, 2, 2, 4, 4, 8, 8, 12, 12, 16, 16]
 *      (ONE list applied in every layer; duplicates count twice in the mean). For any other depth
 *      the paper gives no list; we use the 6-layer list (offsets 1..16, the paper's base setting)
 *      and say so in a warning.
 *
 * Recognised keys: `window_sizes` (positive integers), `layer_norm_eps` (positive number), and
 * the dimension keys `vocab_size`, `model_dim`, `num_layers`, `reduced_dim`, `ff_dim`,
 * `max_seq_len`, which must agree with the weights (`reduced_dim` / `ff_dim`: the widest block's
 * r / f, which is every block's in a trained checkpoint). Grassmann Lens also reads two optional
 * keys that select a variant: `pairing` ('previous' | 'next') and `gating` ('blend' | 'additive');
 * absent, the paper's 'previous' / 'blend' apply.
 *
 * Per block (a structurally pruned model, ../pruning): an optional `layers` list, one entry per
 * block, each field optional:
 *   "layers": [{"reduced_dim": 14, "ff_dim": 200, "window_sizes": [1, 2, 4]}, ...]
 * `reduced_dim` / `ff_dim` must agree with that block's weights (rows of blocks.l.grassmann.W_red
 * and blocks.l.ffn.0); `window_sizes` (positive integers, may be empty: then g = 0 in that block)
 * replaces the global `window_sizes` for that block. `prunedConfigJson` writes this format.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { InputError } from '../util/errors';
import type { GatingRule, GrassmannSpec, LayerDims, LayerShape, ModelDims, PairingRule } from './spec';

export const PAIRING_RULES: readonly PairingRule[] = ['previous', 'next'];
export const GATING_RULES: readonly GatingRule[] = ['blend', 'additive'];

export const CONFIG_FILE_NAME = 'config.json';
/** How many folders above the checkpoint's own folder are searched for config.json. */
export const MAX_PARENT_LEVELS = 3;
export const DEFAULT_LAYER_NORM_EPS = 1e-5;

/** The paper's window list for 6 layers (also the rule for depths the paper does not cover). */
export const PAPER_WINDOWS_6_LAYERS: readonly number[] = [1, 2, 4, 8, 12, 16];
/** The paper's window list for 12 layers: one list, each offset twice. */
export const PAPER_WINDOWS_12_LAYERS: readonly number[] = [1, 1, 2, 2, 4, 4, 8, 8, 12, 12, 16, 16];

export interface ResolvedConfig {
  /** The global window list (config `window_sizes`, else the paper default; see GrassmannSpec.windowSizes). */
  windowSizes: number[];
  /** Each block's window list: its `layers[l].window_sizes`, else the global list. */
  layerWindowSizes: number[][];
  windowSource: 'config' | 'assumed';
  windowNote: string;
  layerNormEps: number;
  pairing: PairingRule;
  gating: GatingRule;
  /** The config file used, or null when none was found/usable. */
  configPath: string | null;
  warnings: string[];
}

export interface DefaultWindows {
  windowSizes: number[];
  note: string;
  /** Set when the depth has no paper value. */
  warning?: string;
}

/** The paper's window list for a depth, or the documented fallback with a warning. */
export function defaultWindowSizes(layers: number): DefaultWindows {
  if (layers === 6) return { windowSizes: [...PAPER_WINDOWS_6_LAYERS], note: 'paper default for 6 layers' };
  if (layers === 12) return { windowSizes: [...PAPER_WINDOWS_12_LAYERS], note: 'paper default for 12 layers' };
  const note = `no window_sizes in a config.json and the paper gives no list for ${layers} layers: assumed the 6-layer list [${PAPER_WINDOWS_6_LAYERS.join(', ')}]`;
  return { windowSizes: [...PAPER_WINDOWS_6_LAYERS], note, warning: `${note}; pass --config with window_sizes if the model was trained otherwise` };
}

/** Candidate config.json paths: the checkpoint's folder, then up to MAX_PARENT_LEVELS parents. */
export async function configCandidates(checkpointPath: string): Promise<string[]> {
  let folder = path.resolve(checkpointPath);
  try {
    if (!(await fs.stat(folder)).isDirectory()) folder = path.dirname(folder);
  } catch {
    folder = path.dirname(folder);
  }
  const candidates: string[] = [];
  for (let level = 0; level <= MAX_PARENT_LEVELS; level++) {
    candidates.push(path.join(folder, CONFIG_FILE_NAME));
    const parent = path.dirname(folder);
    if (parent === folder) break;
    folder = parent;
  }
  return candidates;
}

/** The nearest existing config.json beside or above the checkpoint, or null. */
export async function findConfigFile(checkpointPath: string): Promise<string | null> {
  for (const candidate of await configCandidates(checkpointPath)) {
    try {
      if ((await fs.stat(candidate)).isFile()) return candidate;
    } catch {
      // not there: keep walking up
    }
  }
  return null;
}

/** One entry of config.json's `layers`. */
interface LayerConfigValues {
  windowSizes?: number[];
}

interface ConfigValues {
  windowSizes?: number[];
  /** Per block (config `layers`), one entry per block. */
  layers?: LayerConfigValues[];
  layerNormEps?: number;
  pairing?: PairingRule;
  gating?: GatingRule;
}

/** Keys of config.json that state a dimension the weights also determine. */
const DIMENSION_KEYS: ReadonlyArray<[string, keyof ModelDims]> = [
  ['vocab_size', 'vocabSize'],
  ['model_dim', 'modelDim'],
  ['num_layers', 'layers'],
  ['reduced_dim', 'reducedDim'],
  ['ff_dim', 'ffDim'],
  ['max_seq_len', 'maxPositions'],
];

const isWindowList = (w: unknown, allowEmpty: boolean): w is number[] =>
  Array.isArray(w) && (allowEmpty || w.length > 0) && w.every((v) => Number.isInteger(v) && (v as number) >= 1);

/** Every block with block 0's sizes (a trained checkpoint). */
const uniformLayerDims = (dims: ModelDims): LayerDims[] =>
  Array.from({ length: dims.layers }, () => ({ reducedDim: dims.reducedDim, pairCount: dims.pairCount, ffDim: dims.ffDim }));

/**
 * Parses and validates a config file against the weights' dimensions. Every problem is thrown as
 * an InputError naming the file.
 * @param layerDims each block's r and f from the weights (default: every block has dims' values).
 */
export async function readModelConfig(configPath: string, dims: ModelDims, layerDims: readonly LayerDims[] = uniformLayerDims(dims)): Promise<ConfigValues> {
  let text: string;
  try {
    text = await fs.readFile(configPath, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(configPath, code === 'ENOENT' ? 'no such file' : `cannot read (${code ?? String(e)})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new InputError(configPath, `not valid JSON (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new InputError(configPath, 'expected a JSON object');
  }
  const config = json as Record<string, unknown>;

  // reduced_dim / ff_dim: the widest block's (every block's in a trained checkpoint).
  const widest: Partial<Record<keyof ModelDims, number>> = {
    reducedDim: Math.max(...layerDims.map((l) => l.reducedDim)),
    ffDim: Math.max(...layerDims.map((l) => l.ffDim)),
  };
  const uniform = layerDims.every((l) => l.reducedDim === layerDims[0].reducedDim && l.ffDim === layerDims[0].ffDim);
  for (const [key, dim] of DIMENSION_KEYS) {
    if (!(key in config)) continue;
    const expected = widest[dim] ?? dims[dim];
    if (config[key] !== expected) {
      const which = widest[dim] !== undefined && !uniform ? `${expected}, the widest block's` : String(expected);
      throw new InputError(configPath, `${key} = ${JSON.stringify(config[key])} does not match the checkpoint's weights (${which}): this config belongs to another model`);
    }
  }

  const values: ConfigValues = {};
  if ('window_sizes' in config) {
    const w = config.window_sizes;
    if (!isWindowList(w, false)) {
      throw new InputError(configPath, `window_sizes must be a non-empty list of positive integers, got ${JSON.stringify(w)}`);
    }
    values.windowSizes = w;
  }
  if ('layers' in config) values.layers = readLayerConfigs(configPath, config.layers, layerDims);
  if ('layer_norm_eps' in config) {
    const eps = config.layer_norm_eps;
    if (typeof eps !== 'number' || !(eps > 0) || !Number.isFinite(eps)) {
      throw new InputError(configPath, `layer_norm_eps must be a positive number, got ${JSON.stringify(eps)}`);
    }
    values.layerNormEps = eps;
  }
  if ('pairing' in config) {
    if (!PAIRING_RULES.includes(config.pairing as PairingRule)) {
      throw new InputError(configPath, `pairing must be one of ${PAIRING_RULES.join(', ')}, got ${JSON.stringify(config.pairing)}`);
    }
    values.pairing = config.pairing as PairingRule;
  }
  if ('gating' in config) {
    if (!GATING_RULES.includes(config.gating as GatingRule)) {
      throw new InputError(configPath, `gating must be one of ${GATING_RULES.join(', ')}, got ${JSON.stringify(config.gating)}`);
    }
    values.gating = config.gating as GatingRule;
  }
  return values;
}

/** Validates config.json's `layers` against each block's weights. */
function readLayerConfigs(configPath: string, layers: unknown, layerDims: readonly LayerDims[]): LayerConfigValues[] {
  if (!Array.isArray(layers)) {
    throw new InputError(configPath, `layers must be a list with one entry per block, got ${JSON.stringify(layers)}`);
  }
  if (layers.length !== layerDims.length) {
    throw new InputError(configPath, `layers has ${layers.length} entries but the checkpoint has ${layerDims.length} blocks: this config belongs to another model`);
  }
  return layers.map((entry: unknown, l) => {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      throw new InputError(configPath, `layers[${l}] must be an object ({"reduced_dim", "ff_dim", "window_sizes"}), got ${JSON.stringify(entry)}`);
    }
    const e = entry as Record<string, unknown>;
    const checks: [string, number, string][] = [
      ['reduced_dim', layerDims[l].reducedDim, `blocks.${l}.grassmann.W_red.weight has ${layerDims[l].reducedDim} rows`],
      ['ff_dim', layerDims[l].ffDim, `blocks.${l}.ffn.0.weight has ${layerDims[l].ffDim} rows`],
    ];
    for (const [key, expected, weights] of checks) {
      if (key in e && e[key] !== expected) {
        throw new InputError(configPath, `layers[${l}].${key} = ${JSON.stringify(e[key])} does not match the checkpoint's weights (${weights})`);
      }
    }
    const out: LayerConfigValues = {};
    if ('window_sizes' in e) {
      if (!isWindowList(e.window_sizes, true)) {
        throw new InputError(configPath, `layers[${l}].window_sizes must be a list of positive integers (empty: no offsets in that block), got ${JSON.stringify(e.window_sizes)}`);
      }
      out.windowSizes = e.window_sizes;
    }
    return out;
  });
}

/**
 * Resolves windows, eps and variant for a checkpoint with the given weight dimensions.
 * @param explicitConfigPath the CLI's --config: problems there throw InputError.
 * @param layerDims each block's r and f (default: every block has dims' values).
 */
export async function resolveModelConfig(checkpointPath: string, dims: ModelDims, explicitConfigPath?: string, layerDims: readonly LayerDims[] = uniformLayerDims(dims)): Promise<ResolvedConfig> {
  const warnings: string[] = [];
  let values: ConfigValues = {};
  let configPath: string | null = null;
  if (explicitConfigPath !== undefined) {
    values = await readModelConfig(explicitConfigPath, dims, layerDims);
    configPath = explicitConfigPath;
  } else {
    const found = await findConfigFile(checkpointPath);
    if (found) {
      try {
        values = await readModelConfig(found, dims, layerDims);
        configPath = found;
      } catch (e) {
        if (!(e instanceof InputError)) throw e;
        warnings.push(`ignored ${e.message}`);
      }
    }
  }

  let windowSizes: number[];
  let windowSource: 'config' | 'assumed';
  let windowNote: string;
  const ownWindows = (values.layers ?? []).map((l) => l.windowSizes);
  const overridden = ownWindows.flatMap((w, l) => (w ? [l] : []));
  const everyBlockOwn = configPath !== null && dims.layers > 0 && overridden.length === dims.layers;
  if (values.windowSizes && configPath) {
    windowSizes = values.windowSizes;
    windowSource = 'config';
    windowNote = `window_sizes from ${configPath}`;
  } else if (everyBlockOwn) {
    windowSizes = [...ownWindows[0]!];
    windowSource = 'config';
    windowNote = `window_sizes per block from ${configPath}`;
  } else {
    const fallback = defaultWindowSizes(dims.layers);
    windowSizes = fallback.windowSizes;
    windowSource = 'assumed';
    windowNote = fallback.note;
    if (fallback.warning) warnings.push(fallback.warning);
  }
  if (overridden.length > 0 && !everyBlockOwn) {
    windowNote += `; blocks ${overridden.join(', ')} have their own window_sizes from ${configPath} (layers[l].window_sizes)`;
  } else if (everyBlockOwn && values.windowSizes) {
    windowNote += `; every block has its own window_sizes (layers[l].window_sizes)`;
  }
  const layerWindowSizes = Array.from({ length: dims.layers }, (_, l) => [...(ownWindows[l] ?? windowSizes)]);
  return {
    windowSizes,
    layerWindowSizes,
    windowSource,
    windowNote,
    layerNormEps: values.layerNormEps ?? DEFAULT_LAYER_NORM_EPS,
    pairing: values.pairing ?? 'previous',
    gating: values.gating ?? 'blend',
    configPath,
    warnings,
  };
}

// ---------------------------------------------------------------------------------------------
// Writing config.json for a structurally pruned model
// ---------------------------------------------------------------------------------------------

/** The sizes of one block that config.json states. */
export interface ConfigLayerShape extends Pick<LayerShape, 'reducedDim' | 'ffDim'> {
  windowSizes: readonly number[];
}

/**
 * config.json fields of a recognised model, in the reference's key order: architecture,
 * vocab_size, max_seq_len, model_dim, num_layers, reduced_dim, ff_dim (the widest block's),
 * window_sizes, tie_weights, layer_norm_eps, activation, and pairing / gating when they are not
 * the paper's. A base for prunedConfigJson when the model has no config.json of its own.
 */
export function configJsonForSpec(spec: GrassmannSpec): Record<string, unknown> {
  const shapes = spec.layerShapes;
  const json: Record<string, unknown> = {
    architecture: spec.architecture,
    vocab_size: spec.dims.vocabSize,
    max_seq_len: spec.dims.maxPositions,
    model_dim: spec.dims.modelDim,
    num_layers: spec.dims.layers,
    reduced_dim: shapes.length ? Math.max(...shapes.map((l) => l.reducedDim)) : spec.dims.reducedDim,
    ff_dim: shapes.length ? Math.max(...shapes.map((l) => l.ffDim)) : spec.dims.ffDim,
    window_sizes: [...spec.windowSizes],
    tie_weights: spec.variant.tiedLmHead,
    layer_norm_eps: spec.layerNormEps,
    activation: spec.variant.activation,
  };
  if (spec.variant.pairing !== 'previous') json.pairing = spec.variant.pairing;
  if (spec.variant.gating !== 'blend') json.gating = spec.variant.gating;
  return json;
}

/**
 * config.json for a structurally pruned copy of a model: every key of `original` (the source
 * model's config.json object, or configJsonForSpec(spec)) is kept, in its order, with
 *   num_layers  = layers.length,
 *   reduced_dim = the widest block's r, ff_dim = the widest block's f (what readModelConfig checks),
 *   window_sizes = original's list (else block 0's, when non-empty: the global list must not be empty),
 * and `layers` added: one {reduced_dim, ff_dim, window_sizes} per block, every field written, so the
 * file describes each block fully. Readers of this project bind each block's sizes from it.
 */
export function prunedConfigJson(original: Readonly<Record<string, unknown>>, layers: readonly ConfigLayerShape[]): Record<string, unknown> {
  if (layers.length === 0) throw new RangeError('a pruned model needs at least one block');
  const json: Record<string, unknown> = { ...original };
  delete json.layers; // re-added last
  json.num_layers = layers.length;
  json.reduced_dim = Math.max(...layers.map((l) => l.reducedDim));
  json.ff_dim = Math.max(...layers.map((l) => l.ffDim));
  if (!isWindowList(original.window_sizes, false)) {
    const first = layers.find((l) => l.windowSizes.length > 0);
    if (first) json.window_sizes = [...first.windowSizes];
    else delete json.window_sizes;
  } else {
    json.window_sizes = [...original.window_sizes];
  }
  json.layers = layers.map((l) => ({ reduced_dim: l.reducedDim, ff_dim: l.ffDim, window_sizes: [...l.windowSizes] }));
  return json;
}

/**
 * prunedConfigJson for a model described by `spec`: its own config.json (spec.configPath) when it
 * has one, over configJsonForSpec(spec) (so keys the file lacks, such as window_sizes when they
 * were assumed, are written too).
 */
export async function prunedConfigFor(spec: GrassmannSpec, layers: readonly ConfigLayerShape[]): Promise<Record<string, unknown>> {
  return prunedConfigJson(await configJsonOf(spec), layers);
}

/**
 * The model's config.json as an object: its own file (spec.configPath) over
 * configJsonForSpec(spec), so keys the file lacks (window_sizes when assumed) are there too.
 * An unreadable file now: the spec's own values stand in for it.
 */
export async function configJsonOf(spec: GrassmannSpec): Promise<Record<string, unknown>> {
  let original: Record<string, unknown> = {};
  if (spec.configPath) {
    try {
      const parsed: unknown = JSON.parse(await fs.readFile(spec.configPath, 'utf8'));
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) original = parsed as Record<string, unknown>;
    } catch {
      // unreadable now: the spec's own values stand in for it
    }
  }
  return { ...configJsonForSpec(spec), ...original };
}
