/**
 * What a Grassmann model's weights cannot tell: the window offsets, the LayerNorm eps, and the
 * switches by which one implementation's checkpoints differ with the same tensors (LMConfig's
 * `pre_norm`). Each implementation names these in its own keys (ArchitectureDescription.config:
 * `window_sizes`; GrassLM's `window_schedule`; LMConfig's `lags`, `d_low`, `pre_norm`, ...).
 *
 * Sources, in order:
 *   1. an explicit config file (the CLI's --config): any problem is an InputError naming it;
 *   2. a config dict saved inside the checkpoint (top-level `config`, `cfg`, `args`, `hparams`,
 *      `hyper_parameters`, `model_config`; Checkpoint.configs), then
 *   3. a `config.json` in the checkpoint's folder or up to MAX_PARENT_LEVELS folders above it:
 *      a problem in 2 or 3 is a warning and that config is ignored (the checkpoint must still open);
 *   4. the implementation's defaults (windowSource 'assumed', and a line in `assumed`): the
 *      paper's by depth for the alphaXiv reproduction
 *        6 layers  -> [1, 2, 4, 8, 12, 16]
 *        12 layers -> [1, 1, 2, 2, 4, 4, 8, 8, 12, 12, 16, 16]
 *      (ONE list applied in every layer; duplicates count twice in the mean; any other depth: the
 *      6-layer list, with a warning), GrassLM's schedule by depth (one offset per block; [1]*n for
 *      other depths), a switch's own default (LMConfig pre_norm = False).
 *
 * Dimension keys must agree with the weights (reduced/ff keys: the widest block's r / f, which is
 * every block's in a trained checkpoint). Grassmann Lens also reads, in any implementation's
 * config, `layer_norm_eps`, and two keys of its own that select a variant: `pairing` ('previous'
 * | 'next') and `gating` ('blend' | 'additive').
 *
 * Per block (a structurally pruned model, ../pruning): an optional `layers` list, one entry per
 * block, each field optional:
 *   "layers": [{"reduced_dim": 14, "ff_dim": 200, "window_sizes": [1, 2, 4]}, ...]
 * `reduced_dim` / `ff_dim` must agree with that block's weights; `window_sizes` (positive
 * integers, may be empty: then g = 0 in that block) replaces that block's windows.
 * `prunedConfigJson` writes this format.
 *
 * Config files are untrusted JSON (../util/jsonLimits.ts): size-bounded, refused past
 * MAX_JSON_DEPTH = 64 levels of nesting, parsed into null-prototype objects; configs saved in a
 * checkpoint (which may be nested or even cyclic) are only read key by key. Bad values are quoted
 * through previewJson (bounded, never recursive). Limits:
 *   MAX_CONFIG_BYTES = 4 MiB: a config file (real ones are a few kB);
 *   MAX_WINDOW_LIST = 65,536: entries of a window list;
 *   MAX_JSON_DEPTH = 64: nesting of a config file.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { InputError } from '../util/errors';
import { parseJsonBounded, previewJson, primitiveJson } from '../util/jsonLimits';
import {
  ALPHAXIV,
  type ArchitectureDescription,
  type ArchitectureOptions,
  type ConfigKeys,
  defaultWindowsFor,
} from './architecture';
import type { GatingRule, GrassmannSpec, LayerDims, LayerShape, ModelDims, PairingRule } from './spec';

export const PAIRING_RULES: readonly PairingRule[] = ['previous', 'next'];
export const GATING_RULES: readonly GatingRule[] = ['blend', 'additive'];

export const CONFIG_FILE_NAME = 'config.json';
/** How many folders above the checkpoint's own folder are searched for config.json. */
export const MAX_PARENT_LEVELS = 3;
export const DEFAULT_LAYER_NORM_EPS = 1e-5;
/** Sequence length assumed for a model without learned positions whose config does not say. */
export const DEFAULT_MAX_POSITIONS = 1024;
/** Largest config file read. */
export const MAX_CONFIG_BYTES = 4 << 20;
/** Most entries of a window list. */
export const MAX_WINDOW_LIST = 65536;

/** The largest of `values` (a loop: a spread of a long list overflows the argument stack); `empty` for none. */
function maxOf(values: Iterable<number>, empty = -Infinity): number {
  let best = empty;
  let any = false;
  for (const v of values) {
    if (!any || v > best) best = v;
    any = true;
  }
  return best;
}

/** The paper's window list for 6 layers (also the rule for depths the paper does not cover). */
export const PAPER_WINDOWS_6_LAYERS: readonly number[] = [1, 2, 4, 8, 12, 16];
/** The paper's window list for 12 layers: one list, each offset twice. */
export const PAPER_WINDOWS_12_LAYERS: readonly number[] = [1, 1, 2, 2, 4, 4, 8, 8, 12, 12, 16, 16];

export interface ResolvedConfig {
  /** The global window list (config windows, else the default; see GrassmannSpec.windowSizes). */
  windowSizes: number[];
  /** Each block's window list: its `layers[l].window_sizes`, else the global list (or its entry). */
  layerWindowSizes: number[][];
  windowSource: 'config' | 'assumed';
  windowNote: string;
  /** The description's options with the config's switches and eps applied. */
  options: ArchitectureOptions;
  /** One line per value taken from a default (windows, switches). */
  assumed: string[];
  /** Only used when the model has no learned positions. */
  maxPositions: number;
  /** The config used (a file, or `<checkpoint>#key`), or null when none was found/usable. */
  configPath: string | null;
  /** Its parsed object. */
  configObject: Record<string, unknown> | null;
  warnings: string[];
  /** options.layerNormEps, for callers that read only the eps. */
  layerNormEps: number;
  /** options.pairing, for callers that read only the pairing. */
  pairing: PairingRule;
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
  return { windowSizes: [...PAPER_WINDOWS_6_LAYERS], note, warning: `${note}; if the model was trained otherwise, give its config (VS Code: Choose Config…; CLI: --config) with window_sizes` };
}

/** Candidate paths of a file named `name`: the checkpoint's folder, then up to MAX_PARENT_LEVELS parents. */
export async function candidatesBesideOrAbove(checkpointPath: string, name: string): Promise<string[]> {
  let folder = path.resolve(checkpointPath);
  try {
    if (!(await fs.stat(folder)).isDirectory()) folder = path.dirname(folder);
  } catch {
    folder = path.dirname(folder);
  }
  const candidates: string[] = [];
  for (let level = 0; level <= MAX_PARENT_LEVELS; level++) {
    candidates.push(path.join(folder, name));
    const parent = path.dirname(folder);
    if (parent === folder) break;
    folder = parent;
  }
  return candidates;
}

/** The nearest existing file of `candidates` (in order), or null. */
export async function firstExistingFile(candidates: readonly string[]): Promise<string | null> {
  for (const candidate of candidates) {
    try {
      if ((await fs.stat(candidate)).isFile()) return candidate;
    } catch {
      // not there: keep walking up
    }
  }
  return null;
}

/** Candidate config.json paths: the checkpoint's folder, then up to MAX_PARENT_LEVELS parents. */
export const configCandidates = (checkpointPath: string): Promise<string[]> => candidatesBesideOrAbove(checkpointPath, CONFIG_FILE_NAME);

/** The nearest existing config.json beside or above the checkpoint, or null. */
export async function findConfigFile(checkpointPath: string): Promise<string | null> {
  return firstExistingFile(await configCandidates(checkpointPath));
}

/** One entry of config.json's `layers`. */
interface LayerConfigValues {
  windowSizes?: number[];
}

interface ConfigValues {
  /** The windows key's list (a list, or one offset per block). */
  windowSizes?: number[];
  /** Per block (config `layers`), one entry per block. */
  layers?: LayerConfigValues[];
  layerNormEps?: number;
  pairing?: PairingRule;
  gating?: GatingRule;
  /** Options set by the config's switches. */
  switched: Partial<ArchitectureOptions>;
  /** Switch keys the config did not have (their default applies). */
  defaulted: string[];
  maxPositions?: number;
  tiedHead?: boolean;
  /** How many of the description's keys the config has (0: not this implementation's config). */
  known: number;
}

const isWindowList = (w: unknown, allowEmpty: boolean): w is number[] =>
  Array.isArray(w) && (allowEmpty || w.length > 0) && w.length <= MAX_WINDOW_LIST && w.every((v) => Number.isInteger(v) && (v as number) >= 1);

/** Every block with block 0's sizes (a trained checkpoint). */
const uniformLayerDims = (dims: ModelDims): LayerDims[] =>
  Array.from({ length: dims.layers }, () => ({ reducedDim: dims.reducedDim, pairCount: dims.pairCount, ffDim: dims.ffDim }));

const has = (o: Record<string, unknown>, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);
/** The first of `keys` the config has. */
const firstKey = (config: Record<string, unknown>, keys: readonly string[] | undefined): string | undefined => keys?.find((k) => has(config, k));

/** Reads and parses a config file (size-bounded); every problem is an InputError naming it. */
export async function readConfigObject(configPath: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    const stat = await fs.stat(configPath);
    if (!stat.isFile()) throw new InputError(configPath, 'not a regular file');
    if (stat.size > MAX_CONFIG_BYTES) throw new InputError(configPath, `is ${stat.size} bytes, more than the ${MAX_CONFIG_BYTES} a config may have`);
    text = await fs.readFile(configPath, 'utf8');
  } catch (e) {
    if (e instanceof InputError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(configPath, code === 'ENOENT' ? 'no such file' : `cannot read (${code ?? String(e)})`);
  }
  const json = parseJsonBounded(text, configPath, 'the config');
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new InputError(configPath, 'expected a JSON object');
  }
  return json as Record<string, unknown>;
}

/**
 * Parses and validates a config file against the weights' dimensions (alphaXiv keys unless a
 * description is given). Every problem is thrown as an InputError naming the file.
 */
export async function readModelConfig(configPath: string, dims: ModelDims, layerDims: readonly LayerDims[] = uniformLayerDims(dims), description: ArchitectureDescription = ALPHAXIV): Promise<ConfigValues> {
  return configValues(configPath, await readConfigObject(configPath), dims, layerDims, description);
}

/** Validates a config object (a file's or one saved in the checkpoint) against the weights. */
export function configValues(where: string, config: Record<string, unknown>, dims: ModelDims, layerDims: readonly LayerDims[], description: ArchitectureDescription): ConfigValues {
  const keys: ConfigKeys = description.config;
  let known = 0;
  // Dimension keys: reduced / ff are the widest block's (every block's in a trained checkpoint).
  const widest = {
    reducedDim: maxOf(layerDims.map((l) => l.reducedDim)),
    ffDim: maxOf(layerDims.map((l) => l.ffDim)),
  };
  const uniform = layerDims.every((l) => l.reducedDim === layerDims[0].reducedDim && l.ffDim === layerDims[0].ffDim);
  const dimensionChecks: [keyof ConfigKeys, number, boolean][] = [
    ['vocabSize', dims.vocabSize, false],
    ['modelDim', dims.modelDim, false],
    ['layers', dims.layers, false],
    ['reducedDim', widest.reducedDim, true],
    ['ffDim', widest.ffDim, true],
  ];
  if (dims.maxPositions > 0) dimensionChecks.push(['maxPositions', dims.maxPositions, false]);
  for (const [field, expected, perBlock] of dimensionChecks) {
    const key = firstKey(config, keys[field] as string[] | undefined);
    if (key === undefined) continue;
    known++;
    if (config[key] !== expected) {
      const which = perBlock && !uniform ? `${expected}, the widest block's` : String(expected);
      throw new InputError(where, `${key} = ${previewJson(config[key])} does not match the checkpoint's weights (${which}): this config belongs to another model`);
    }
  }
  const multiplierKey = firstKey(config, keys.ffMultiplier);
  if (multiplierKey !== undefined) {
    known++;
    const m = config[multiplierKey];
    if (typeof m !== 'number' || m * dims.modelDim !== widest.ffDim) {
      throw new InputError(where, `${multiplierKey} = ${previewJson(m)} does not match the checkpoint's weights (FFN width ${widest.ffDim} = ${widest.ffDim / dims.modelDim} x d): this config belongs to another model`);
    }
  }
  for (const [key, value] of Object.entries(keys.require ?? {})) {
    if (!has(config, key)) continue;
    known++;
    if (config[key] !== value) {
      throw new InputError(where, `${key} = ${previewJson(config[key])}: ${description.label} checkpoints need ${key} = ${JSON.stringify(value)} (this config is for another architecture)`);
    }
  }

  const values: ConfigValues = { switched: {}, defaulted: [], known };
  const windowsKey = firstKey(config, keys.windows);
  if (windowsKey !== undefined) {
    values.known++;
    const w = config[windowsKey];
    if (!isWindowList(w, false)) {
      throw new InputError(where, `${windowsKey} must be a non-empty list of positive integers, got ${previewJson(w)}`);
    }
    if (description.windowForm === 'one-per-block' && w.length !== dims.layers) {
      throw new InputError(where, `${windowsKey} has ${w.length} entries but the checkpoint has ${dims.layers} blocks (one offset per block): this config belongs to another model`);
    }
    values.windowSizes = w;
  }
  // `layers` is this project's per-block list; another implementation may use the name for a count.
  if (has(config, 'layers') && (Array.isArray(config.layers) || description.id === ALPHAXIV.id)) {
    values.known++;
    values.layers = readLayerConfigs(where, config.layers, layerDims, description);
  }
  const epsKey = firstKey(config, keys.layerNormEps ?? ['layer_norm_eps']) ?? (has(config, 'layer_norm_eps') ? 'layer_norm_eps' : undefined);
  if (epsKey !== undefined) {
    const eps = config[epsKey];
    if (typeof eps !== 'number' || !(eps > 0) || !Number.isFinite(eps)) {
      throw new InputError(where, `${epsKey} must be a positive number, got ${previewJson(eps)}`);
    }
    values.layerNormEps = eps;
  }
  const tiedKey = firstKey(config, keys.tiedHead);
  if (tiedKey !== undefined) {
    values.known++;
    if (typeof config[tiedKey] === 'boolean') values.tiedHead = config[tiedKey] as boolean;
  }
  for (const [key, rule] of Object.entries(keys.switches ?? {})) {
    if (!has(config, key)) {
      values.defaulted.push(key);
      continue;
    }
    values.known++;
    const text = primitiveJson(config[key]);
    if (text === undefined || !has(rule.values, text)) {
      throw new InputError(where, `${key} must be one of ${Object.keys(rule.values).join(', ')}, got ${previewJson(config[key], 100)}`);
    }
    Object.assign(values.switched, rule.values[text]);
  }
  const maxKey = firstKey(config, keys.maxPositions);
  if (maxKey !== undefined && Number.isInteger(config[maxKey]) && (config[maxKey] as number) > 0) values.maxPositions = config[maxKey] as number;
  if (has(config, 'pairing')) {
    if (!PAIRING_RULES.includes(config.pairing as PairingRule)) {
      throw new InputError(where, `pairing must be one of ${PAIRING_RULES.join(', ')}, got ${previewJson(config.pairing)}`);
    }
    values.pairing = config.pairing as PairingRule;
  }
  if (has(config, 'gating')) {
    if (!GATING_RULES.includes(config.gating as GatingRule)) {
      throw new InputError(where, `gating must be one of ${GATING_RULES.join(', ')}, got ${previewJson(config.gating)}`);
    }
    values.gating = config.gating as GatingRule;
  }
  return values;
}

/** Validates config.json's `layers` against each block's weights. */
function readLayerConfigs(where: string, layers: unknown, layerDims: readonly LayerDims[], description: ArchitectureDescription): LayerConfigValues[] {
  if (!Array.isArray(layers)) {
    throw new InputError(where, `layers must be a list with one entry per block, got ${previewJson(layers)}`);
  }
  if (layers.length !== layerDims.length) {
    throw new InputError(where, `layers has ${layers.length} entries but the checkpoint has ${layerDims.length} blocks: this config belongs to another model`);
  }
  const reduce = description.tensors.reduceWeight ?? 'W_red';
  const ffnIn = description.tensors.ffnInWeight ?? 'ffn.0';
  return layers.map((entry: unknown, l) => {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      throw new InputError(where, `layers[${l}] must be an object ({"reduced_dim", "ff_dim", "window_sizes"}), got ${previewJson(entry)}`);
    }
    const e = entry as Record<string, unknown>;
    const checks: [string, number, string][] = [
      ['reduced_dim', layerDims[l].reducedDim, `${reduce.replace('{l}', String(l))} has ${layerDims[l].reducedDim} rows`],
      ['ff_dim', layerDims[l].ffDim, `${ffnIn.replace('{l}', String(l))} has ${layerDims[l].ffDim} rows`],
    ];
    for (const [key, expected, weights] of checks) {
      if (key in e && e[key] !== expected) {
        throw new InputError(where, `layers[${l}].${key} = ${previewJson(e[key])} does not match the checkpoint's weights (${weights})`);
      }
    }
    const out: LayerConfigValues = {};
    if ('window_sizes' in e) {
      if (!isWindowList(e.window_sizes, true)) {
        throw new InputError(where, `layers[${l}].window_sizes must be a list of positive integers (empty: no offsets in that block), got ${previewJson(e.window_sizes)}`);
      }
      out.windowSizes = e.window_sizes;
    }
    return out;
  });
}

/** Where the config can come from: a path (alphaXiv tests) or an opened checkpoint. */
export interface ConfigSource {
  path: string;
  /** Config dicts saved in the checkpoint, by their top-level key. */
  configs?: Readonly<Record<string, unknown>>;
}

/** Config dicts saved in a checkpoint: each top-level one, and dicts one level inside it. */
function embeddedConfigs(source: ConfigSource): { where: string; config: Record<string, unknown> }[] {
  const out: { where: string; config: Record<string, unknown> }[] = [];
  for (const [key, value] of Object.entries(source.configs ?? {})) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) continue;
    out.push({ where: `${source.path}#${key}`, config: value as Record<string, unknown> });
    for (const [inner, v] of Object.entries(value)) {
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) out.push({ where: `${source.path}#${key}.${inner}`, config: v as Record<string, unknown> });
    }
  }
  return out;
}

/**
 * Resolves windows, options and eps for a checkpoint with the given weight dimensions.
 * @param explicitConfigPath the CLI's --config: problems there throw InputError.
 * @param layerDims each block's r and f (default: every block has dims' values).
 * @param description the implementation (default: the alphaXiv reproduction).
 * @param tiedLmHead what the weights say about the head (checked against the config's key).
 */
export async function resolveModelConfig(
  source: string | ConfigSource,
  dims: ModelDims,
  explicitConfigPath?: string,
  layerDims: readonly LayerDims[] = uniformLayerDims(dims),
  description: ArchitectureDescription = ALPHAXIV,
  tiedLmHead?: boolean,
): Promise<ResolvedConfig> {
  const from: ConfigSource = typeof source === 'string' ? { path: source } : source;
  const warnings: string[] = [];
  let values: ConfigValues | undefined;
  let configPath: string | null = null;
  let configObject: Record<string, unknown> | null = null;
  if (explicitConfigPath !== undefined) {
    configObject = await readConfigObject(explicitConfigPath);
    values = configValues(explicitConfigPath, configObject, dims, layerDims, description);
    configPath = explicitConfigPath;
  } else {
    // A config saved in the checkpoint belongs to it; the first one with this implementation's keys.
    for (const { where, config } of embeddedConfigs(from)) {
      try {
        const v = configValues(where, config, dims, layerDims, description);
        if (v.known === 0) continue;
        values = v;
        configPath = where;
        configObject = config;
        break;
      } catch (e) {
        if (!(e instanceof InputError)) throw e;
        warnings.push(`ignored ${e.message}`);
      }
    }
    if (!values) {
      const found = await findConfigFile(from.path);
      if (found) {
        try {
          const object = await readConfigObject(found);
          const v = configValues(found, object, dims, layerDims, description);
          if (v.known > 0 || description.id === ALPHAXIV.id) {
            values = v;
            configPath = found;
            configObject = object;
          } else {
            warnings.push(`ignored ${found}: it has none of ${description.label}'s config keys`);
          }
        } catch (e) {
          if (!(e instanceof InputError)) throw e;
          warnings.push(`ignored ${e.message}`);
        }
      }
    }
  }
  const v: ConfigValues = values ?? { switched: {}, defaulted: Object.keys(description.config.switches ?? {}), known: 0 };
  const assumed: string[] = [];

  let windowSizes: number[];
  let windowSource: 'config' | 'assumed';
  let windowNote: string;
  const ownWindows = (v.layers ?? []).map((l) => l.windowSizes);
  const overridden = ownWindows.flatMap((w, l) => (w ? [l] : []));
  const everyBlockOwn = configPath !== null && dims.layers > 0 && overridden.length === dims.layers;
  const windowsKey = description.config.windows?.[0] ?? 'window_sizes';
  if (v.windowSizes && configPath) {
    windowSizes = v.windowSizes;
    windowSource = 'config';
    windowNote = `${windowsKey} from ${configPath}`;
  } else if (everyBlockOwn) {
    windowSizes = description.windowForm === 'one-per-block' ? ownWindows.map((w) => w![0] ?? 0).filter((w) => w > 0) : [...ownWindows[0]!];
    windowSource = 'config';
    windowNote = `window_sizes per block from ${configPath}`;
  } else {
    const fallback = description.id === ALPHAXIV.id && description.source === 'built-in'
      ? defaultWindowSizes(dims.layers)
      : (({ windows, note, warning }) => ({ windowSizes: windows, note, warning }))(defaultWindowsFor(description, dims.layers));
    windowSizes = fallback.windowSizes;
    windowSource = 'assumed';
    windowNote = fallback.note;
    assumed.push(`windows [${windowSizes.join(', ')}]: ${fallback.note} (no ${windowsKey} in a config)`);
    if (fallback.warning) warnings.push(fallback.warning);
  }
  if (overridden.length > 0 && !everyBlockOwn) {
    windowNote += `; blocks ${overridden.join(', ')} have their own window_sizes from ${configPath} (layers[l].window_sizes)`;
  } else if (everyBlockOwn && v.windowSizes) {
    windowNote += `; every block has its own window_sizes (layers[l].window_sizes)`;
  }
  const blockWindows = (l: number): number[] =>
    description.windowForm === 'one-per-block' ? (windowSizes[l] !== undefined ? [windowSizes[l]] : []) : [...windowSizes];
  const layerWindowSizes = Array.from({ length: dims.layers }, (_, l) => [...(ownWindows[l] ?? blockWindows(l))]);

  const options: ArchitectureOptions = { ...description.options, ...v.switched };
  for (const key of v.defaulted) {
    const rule = description.config.switches![key];
    if (rule.default === undefined) continue;
    Object.assign(options, rule.values[rule.default]);
    const chosen = Object.entries(rule.values[rule.default]).map(([k, x]) => `${k} ${String(x)}`).join(', ');
    assumed.push(`${chosen}: ${description.label}'s default ${key} = ${rule.default} (no ${key} in a config)`);
  }
  if (v.layerNormEps !== undefined) options.layerNormEps = v.layerNormEps;
  if (v.pairing) options.pairing = v.pairing;
  if (v.gating) options.mixOutput = v.gating;
  if (v.tiedHead !== undefined && tiedLmHead !== undefined && v.tiedHead !== tiedLmHead) {
    warnings.push(`${configPath} says ${description.config.tiedHead?.[0]} = ${v.tiedHead}, but the weights ${tiedLmHead ? 'have lm_head equal to the token embedding' : 'have a separate lm_head'}: following the weights`);
  }
  let maxPositions = dims.maxPositions;
  if (options.positions === 'none') {
    maxPositions = v.maxPositions ?? DEFAULT_MAX_POSITIONS;
    if (v.maxPositions === undefined) assumed.push(`at most ${DEFAULT_MAX_POSITIONS} positions (no learned positions and no length in a config)`);
  }
  return {
    windowSizes,
    layerWindowSizes,
    windowSource,
    windowNote,
    options,
    assumed,
    maxPositions,
    configPath,
    configObject,
    warnings,
    layerNormEps: options.layerNormEps,
    pairing: options.pairing,
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
 * config.json fields of a recognised model. For the alphaXiv reproduction, in the reference's
 * key order: architecture, vocab_size, max_seq_len, model_dim, num_layers, reduced_dim, ff_dim
 * (the widest block's), window_sizes, tie_weights, layer_norm_eps, activation, and pairing /
 * gating when they are not the paper's. For another implementation, its own keys
 * (ArchitectureDescription.config: the first name of each), so that its constructor takes them.
 * A base for prunedConfigJson when the model has no config of its own.
 */
export function configJsonForSpec(spec: GrassmannSpec): Record<string, unknown> {
  const shapes = spec.layerShapes;
  const reduced = shapes.length ? maxOf(shapes.map((l) => l.reducedDim)) : spec.dims.reducedDim;
  const ff = shapes.length ? maxOf(shapes.map((l) => l.ffDim)) : spec.dims.ffDim;
  const description = spec.description ?? ALPHAXIV;
  if (description.id !== ALPHAXIV.id) {
    const keys = description.config;
    const json: Record<string, unknown> = {};
    const put = (names: string[] | undefined, value: unknown): void => {
      if (names?.[0]) json[names[0]] = value;
    };
    put(keys.vocabSize, spec.dims.vocabSize);
    put(keys.modelDim, spec.dims.modelDim);
    put(keys.layers, spec.dims.layers);
    put(keys.reducedDim, reduced);
    put(keys.ffDim, ff);
    put(keys.ffMultiplier, ff / spec.dims.modelDim);
    put(keys.maxPositions, spec.dims.maxPositions);
    put(keys.windows, [...spec.windowSizes]);
    put(keys.tiedHead, spec.variant.tiedLmHead);
    for (const [key, value] of Object.entries(keys.require ?? {})) json[key] = value;
    for (const [key, rule] of Object.entries(keys.switches ?? {})) {
      const match = Object.entries(rule.values).find(([, o]) => Object.entries(o).every(([k, x]) => (spec.variant as unknown as Record<string, unknown>)[k] === x));
      if (match) json[key] = JSON.parse(match[0]);
    }
    return json;
  }
  const json: Record<string, unknown> = {
    architecture: spec.architecture,
    vocab_size: spec.dims.vocabSize,
    max_seq_len: spec.dims.maxPositions,
    model_dim: spec.dims.modelDim,
    num_layers: spec.dims.layers,
    reduced_dim: reduced,
    ff_dim: ff,
    window_sizes: [...spec.windowSizes],
    tie_weights: spec.variant.tiedLmHead,
    layer_norm_eps: spec.layerNormEps,
    activation: spec.variant.activation,
  };
  if (spec.variant.pairing !== 'previous') json.pairing = spec.variant.pairing;
  if (spec.variant.mixOutput !== 'blend') json.gating = spec.variant.mixOutput;
  return json;
}

/**
 * config.json for a structurally pruned copy of a model: every key of `original` (the source
 * model's config object, or configJsonForSpec(spec)) is kept, in its order, with the
 * implementation's own keys (`description`, default the alphaXiv reproduction's) set to
 *   layers  = layers.length (num_layers),
 *   reduced = the widest block's r, ff = the widest block's f (what readModelConfig checks; an FFN
 *             multiplier such as LMConfig's expansion_ratio becomes f / d, d from original's model
 *             width key, and is dropped when f / d * d is not exactly f),
 *   windows = original's list (else block 0's, when non-empty: the global list must not be empty;
 *             a one-offset-per-block schedule: each block's offset, dropped if a block has none),
 * and `layers` added: one {reduced_dim, ff_dim, window_sizes} per block, every field written, so the
 * file describes each block fully. Readers of this project bind each block's sizes from it.
 */
export function prunedConfigJson(original: Readonly<Record<string, unknown>>, layers: readonly ConfigLayerShape[], description: ArchitectureDescription = ALPHAXIV): Record<string, unknown> {
  if (layers.length === 0) throw new RangeError('a pruned model needs at least one block');
  const keys = description.config;
  const key = (names: string[] | undefined, fallback: string): string => (names ? (names.find((n) => has(original, n)) ?? names[0]) : fallback);
  const json: Record<string, unknown> = { ...original };
  delete json.layers; // re-added last
  const reduced = maxOf(layers.map((l) => l.reducedDim));
  const ff = maxOf(layers.map((l) => l.ffDim));
  json[key(keys.layers, 'num_layers')] = layers.length;
  json[key(keys.reducedDim, 'reduced_dim')] = reduced;
  if (keys.ffDim) json[key(keys.ffDim, 'ff_dim')] = ff;
  const multiplier = keys.ffMultiplier ? key(keys.ffMultiplier, '') : '';
  if (multiplier && has(json, multiplier)) {
    // f = d * multiplier: the widest block's f over the model width (original's own key), when
    // that product gives f back exactly (what readModelConfig checks); else the key is dropped.
    const modelDimKey = keys.modelDim ? key(keys.modelDim, '') : '';
    const d = modelDimKey && typeof original[modelDimKey] === 'number' ? (original[modelDimKey] as number) : 0;
    const ratio = d > 0 ? ff / d : NaN;
    if (d > 0 && ratio * d === ff) json[multiplier] = ratio;
    else delete json[multiplier];
  }
  if (!keys.ffDim && !keys.ffMultiplier) json.ff_dim = ff;
  const windowsKey = key(keys.windows, 'window_sizes');
  if (description.windowForm === 'one-per-block') {
    if (layers.every((l) => l.windowSizes.length === 1)) json[windowsKey] = layers.map((l) => l.windowSizes[0]);
    else delete json[windowsKey];
  } else if (!isWindowList(original[windowsKey], false)) {
    const first = layers.find((l) => l.windowSizes.length > 0);
    if (first) json[windowsKey] = [...first.windowSizes];
    else delete json[windowsKey];
  } else {
    json[windowsKey] = [...(original[windowsKey] as number[])];
  }
  json.layers = layers.map((l) => ({ reduced_dim: l.reducedDim, ff_dim: l.ffDim, window_sizes: [...l.windowSizes] }));
  return json;
}

/**
 * prunedConfigJson for a model described by `spec`: its own config (spec.configObject) when it
 * has one, over configJsonForSpec(spec) (so keys the file lacks, such as the windows when they
 * were assumed, are written too).
 */
export async function prunedConfigFor(spec: GrassmannSpec, layers: readonly ConfigLayerShape[]): Promise<Record<string, unknown>> {
  return prunedConfigJson(await configJsonOf(spec), layers, spec.description ?? ALPHAXIV);
}

/**
 * The model's config as an object: its own (spec.configObject: the file, or the dict saved in
 * the checkpoint) over configJsonForSpec(spec), so keys it lacks (windows when assumed) are there
 * too. Without one read at load, spec.configPath is read again (an unreadable file: the spec's
 * own values stand in for it).
 */
export async function configJsonOf(spec: GrassmannSpec): Promise<Record<string, unknown>> {
  let original: Record<string, unknown> = spec.configObject ? { ...spec.configObject } : {};
  if (!spec.configObject && spec.configPath) {
    try {
      original = await readConfigObject(spec.configPath);
    } catch {
      // unreadable now: the spec's own values stand in for it
    }
  }
  return { ...configJsonForSpec(spec), ...original };
}
