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
 * `max_seq_len`, which must agree with the weights. Grassmann Lens also reads two optional keys
 * that select a variant: `pairing` ('previous' | 'next') and `gating` ('blend' | 'additive');
 * absent, the paper's 'previous' / 'blend' apply.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { InputError } from '../util/errors';
import type { GatingRule, ModelDims, PairingRule } from './spec';

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
  windowSizes: number[];
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

interface ConfigValues {
  windowSizes?: number[];
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

/**
 * Parses and validates a config file against the weights' dimensions. Every problem is thrown as
 * an InputError naming the file.
 */
export async function readModelConfig(configPath: string, dims: ModelDims): Promise<ConfigValues> {
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

  for (const [key, dim] of DIMENSION_KEYS) {
    if (!(key in config)) continue;
    if (config[key] !== dims[dim]) {
      throw new InputError(configPath, `${key} = ${JSON.stringify(config[key])} does not match the checkpoint's weights (${dims[dim]}): this config belongs to another model`);
    }
  }

  const values: ConfigValues = {};
  if ('window_sizes' in config) {
    const w = config.window_sizes;
    if (!Array.isArray(w) || w.length === 0 || !w.every((v) => Number.isInteger(v) && (v as number) >= 1)) {
      throw new InputError(configPath, `window_sizes must be a non-empty list of positive integers, got ${JSON.stringify(w)}`);
    }
    values.windowSizes = w as number[];
  }
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

/**
 * Resolves windows, eps and variant for a checkpoint with the given weight dimensions.
 * @param explicitConfigPath the CLI's --config: problems there throw InputError.
 */
export async function resolveModelConfig(checkpointPath: string, dims: ModelDims, explicitConfigPath?: string): Promise<ResolvedConfig> {
  const warnings: string[] = [];
  let values: ConfigValues = {};
  let configPath: string | null = null;
  if (explicitConfigPath !== undefined) {
    values = await readModelConfig(explicitConfigPath, dims);
    configPath = explicitConfigPath;
  } else {
    const found = await findConfigFile(checkpointPath);
    if (found) {
      try {
        values = await readModelConfig(found, dims);
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
  if (values.windowSizes && configPath) {
    windowSizes = values.windowSizes;
    windowSource = 'config';
    windowNote = `window_sizes from ${configPath}`;
  } else {
    const fallback = defaultWindowSizes(dims.layers);
    windowSizes = fallback.windowSizes;
    windowSource = 'assumed';
    windowNote = fallback.note;
    if (fallback.warning) warnings.push(fallback.warning);
  }
  return {
    windowSizes,
    windowSource,
    windowNote,
    layerNormEps: values.layerNormEps ?? DEFAULT_LAYER_NORM_EPS,
    pairing: values.pairing ?? 'previous',
    gating: values.gating ?? 'blend',
    configPath,
    warnings,
  };
}
