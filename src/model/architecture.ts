/**
 * A Grassmann language model's architecture as data: which tensor is which (per role, a key
 * template with `{l}` for the block index), and the options in which implementations differ.
 * The recogniser (./spec.ts), the config reader (./config.ts), the runtime (./grassmann.ts and
 * ./blockOps.ts), relevance, geometry and the pruning writers all read one resolved
 * `ArchitectureOptions`; what each option value computes lives in one table per option
 * (./layout.ts for the forward pass, ../relevance/layoutRules.ts for LRP).
 *
 * Built-in descriptions cover the public implementations (BUILT_IN_ARCHITECTURES). A researcher's
 * own is a JSON file (`grassmann-lens.arch.json`, schema in media/grassmann-lens.arch.schema.json)
 * read by `parseArchitectureFile`, or written pre-filled by `grassmann-lens describe-arch`.
 *
 * The block layouts (x: the block's input, m = Mix(h) the mixing module's output, with h its
 * input; LN_a / LN_f the mixing and FFN sub-layers' LayerNorms):
 *   pre-norm                    h = LN_a(x), x' = x + m;        x'' = x' + FFN(LN_f(x'))
 *   post-norm                   h = x,       x' = LN_a(x + m);  x'' = LN_f(x' + FFN(x'))
 *   post-norm-no-mix-residual   h = x,       x' = LN_a(m);      x'' = LN_f(x' + FFN(x'))
 * The mixing module: z = W_red h + b; p_hat per offset; g from the offsets (aggregation);
 * alpha = sigmoid(W_gate [h; g] + b_gate); its output (mixOutput) optionally through its own
 * LayerNorm (mixNorm):
 *   blend           alpha h + (1 - alpha) g
 *   additive        h + alpha g
 *   gated-geometry  alpha g
 * Aggregation over the offsets valid at t:
 *   project-then-mean   g = mean_d (W_plu p_hat_d + b_plu), 0 where no offset is valid
 *   mean-then-project   g = W_plu mean_d(p_hat_d) + b_plu, b_plu where no offset is valid
 */
import { InputError } from '../util/errors';
import { previewJson } from '../util/jsonLimits';

export const BLOCK_LAYOUTS = ['pre-norm', 'post-norm', 'post-norm-no-mix-residual'] as const;
export type BlockLayout = (typeof BLOCK_LAYOUTS)[number];

export const MIX_OUTPUTS = ['blend', 'additive', 'gated-geometry'] as const;
export type MixOutput = (typeof MIX_OUTPUTS)[number];

/**
 * One element's two terms [h-term, g-term] of each mixing output from h_i, g_i, alpha_i, for host
 * code (the h/g balance of ../geometry/features.ts); ./layout.ts has the same as tensor ops.
 */
export const MIX_TERM_VALUES: Readonly<Record<MixOutput, (h: number, g: number, alpha: number) => [number, number]>> = {
  blend: (h, g, alpha) => [alpha * h, (1 - alpha) * g],
  additive: (h, g, alpha) => [h, alpha * g],
  'gated-geometry': (_h, g, alpha) => [0, alpha * g],
};

export const AGGREGATIONS = ['project-then-mean', 'mean-then-project'] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];

export const ACTIVATIONS = ['gelu', 'gelu-tanh', 'relu'] as const;
export type Activation = (typeof ACTIVATIONS)[number];

export const PAIRINGS = ['previous', 'next'] as const;
/** Which state z_t is paired with at offset d: z_{t-d} (causal, the paper) or z_{t+d}. */
export type PairingRule = (typeof PAIRINGS)[number];

export const POSITION_KINDS = ['learned', 'none'] as const;
export type PositionKind = (typeof POSITION_KINDS)[number];

export const WINDOW_FORMS = ['list', 'one-per-block'] as const;
/** `list`: one window list every block applies; `one-per-block`: entry l is block l's only offset. */
export type WindowForm = (typeof WINDOW_FORMS)[number];

/** Everything that decides what a block computes, once resolved for one checkpoint. */
export interface ArchitectureOptions {
  block: BlockLayout;
  mixOutput: MixOutput;
  /** A LayerNorm inside the mixing module after its output (role mixNormWeight/Bias). */
  mixNorm: boolean;
  aggregation: Aggregation;
  /** p_hat = p / max(||p||, pluckerEps). */
  pluckerEps: number;
  layerNormEps: number;
  activation: Activation;
  pairing: PairingRule;
  positions: PositionKind;
}

/** Roles of the tensors outside the blocks. */
export const GLOBAL_ROLES = ['tokenEmbedding', 'positionEmbedding', 'finalNormWeight', 'finalNormBias', 'lmHead'] as const;
export type GlobalRole = (typeof GLOBAL_ROLES)[number];

/**
 * Roles of one block's tensors. norm1: the mixing sub-layer's LayerNorm (before the mixing in
 * pre-norm, after the sum in post-norm); mixNorm: the LayerNorm inside the mixing module (only
 * with mixNorm); norm2: the FFN sub-layer's LayerNorm.
 */
export const LAYER_ROLES = [
  'norm1Weight', 'norm1Bias',
  'reduceWeight', 'reduceBias',
  'pluckerWeight', 'pluckerBias',
  'gateWeight', 'gateBias',
  'mixNormWeight', 'mixNormBias',
  'norm2Weight', 'norm2Bias',
  'ffnInWeight', 'ffnInBias',
  'ffnOutWeight', 'ffnOutBias',
] as const;
export type LayerRole = (typeof LAYER_ROLES)[number];

/** Optional integer buffers that hold the pair order (torch state dicts). */
export const PAIR_INDEX_ROLES = ['pairFirst', 'pairSecond'] as const;
export type PairIndexRole = (typeof PAIR_INDEX_ROLES)[number];

/** Biases an implementation may leave out (nn.Linear(bias=False)): read as zeros. */
export const OPTIONAL_BIAS_ROLES: readonly string[] = ['reduceBias', 'pluckerBias', 'gateBias', 'ffnInBias', 'ffnOutBias'];

/**
 * How an implementation's config (config.json, or a dict saved in the checkpoint) names the
 * hyper-parameters. Dimension keys are checked against the weights; `windows` gives the offsets;
 * `switches` map a key's value to options (LMConfig's `pre_norm`).
 */
export interface ConfigKeys {
  vocabSize?: string[];
  modelDim?: string[];
  layers?: string[];
  reducedDim?: string[];
  ffDim?: string[];
  /** f = d * value (LMConfig's expansion_ratio). */
  ffMultiplier?: string[];
  maxPositions?: string[];
  windows?: string[];
  layerNormEps?: string[];
  /** A boolean key saying whether lm_head is tied (checked against the weights). */
  tiedHead?: string[];
  /** key -> value (as JSON text) -> options; `default` is the implementation's own default. */
  switches?: Record<string, { values: Record<string, Partial<ArchitectureOptions>>; default?: string }>;
  /** key -> the value this implementation requires (LMConfig: tensor_lifting_strategy = grassmann). */
  require?: Record<string, string | number | boolean>;
}

/** The implementation's default windows when its config gives none. */
export interface DefaultWindowRule {
  /** By depth: "6" -> list. */
  byDepth: Record<string, number[]>;
  /** Any other depth: the paper's 6-layer list, or offset 1 in every block. */
  otherwise: 'paper-6' | 'ones';
  /** Where the rule comes from, for the *assumed* note. */
  source: string;
  /** A description file's own default list (every depth). */
  fixed?: number[];
}

export interface ArchitectureDescription {
  /** Short identifier: alphaxiv, grasslm, lmconfig, or the file's own. */
  id: string;
  /** Human name shown in reports. */
  label: string;
  /** Role -> state-dict key template (`{l}`: block index). A missing optional role is absent. */
  tensors: Partial<Record<GlobalRole | LayerRole | PairIndexRole, string>>;
  /** Options fixed by the implementation (a config switch may override some). */
  options: ArchitectureOptions;
  windowForm: WindowForm;
  defaultWindows: DefaultWindowRule;
  config: ConfigKeys;
  /** Where the description comes from: built-in, or the file's path. */
  source: string;
}

export const DEFAULT_OPTIONS: ArchitectureOptions = {
  block: 'pre-norm',
  mixOutput: 'blend',
  mixNorm: true,
  aggregation: 'project-then-mean',
  pluckerEps: 1e-8,
  layerNormEps: 1e-5,
  activation: 'gelu',
  pairing: 'previous',
  positions: 'learned',
};

const PAPER_6 = [1, 2, 4, 8, 12, 16];
const PAPER_12 = [1, 1, 2, 2, 4, 4, 8, 8, 12, 12, 16, 16];

/** The alphaXiv reproduction (shared/fixtures/tiny-grassmann). */
export const ALPHAXIV: ArchitectureDescription = {
  id: 'alphaxiv',
  label: 'GrassmannGPT (alphaXiv reproduction)',
  tensors: {
    tokenEmbedding: 'token_embedding.weight',
    positionEmbedding: 'position_embedding.weight',
    finalNormWeight: 'ln_f.weight',
    finalNormBias: 'ln_f.bias',
    lmHead: 'lm_head.weight',
    norm1Weight: 'blocks.{l}.ln1.weight',
    norm1Bias: 'blocks.{l}.ln1.bias',
    reduceWeight: 'blocks.{l}.grassmann.W_red.weight',
    reduceBias: 'blocks.{l}.grassmann.W_red.bias',
    pluckerWeight: 'blocks.{l}.grassmann.W_plu.weight',
    pluckerBias: 'blocks.{l}.grassmann.W_plu.bias',
    gateWeight: 'blocks.{l}.grassmann.W_gate.weight',
    gateBias: 'blocks.{l}.grassmann.W_gate.bias',
    mixNormWeight: 'blocks.{l}.grassmann.layer_norm.weight',
    mixNormBias: 'blocks.{l}.grassmann.layer_norm.bias',
    norm2Weight: 'blocks.{l}.ln2.weight',
    norm2Bias: 'blocks.{l}.ln2.bias',
    ffnInWeight: 'blocks.{l}.ffn.0.weight',
    ffnInBias: 'blocks.{l}.ffn.0.bias',
    ffnOutWeight: 'blocks.{l}.ffn.3.weight',
    ffnOutBias: 'blocks.{l}.ffn.3.bias',
    pairFirst: 'blocks.{l}.grassmann.plucker.idx_i',
    pairSecond: 'blocks.{l}.grassmann.plucker.idx_j',
  },
  options: { ...DEFAULT_OPTIONS },
  windowForm: 'list',
  defaultWindows: { byDepth: { '6': PAPER_6, '12': PAPER_12 }, otherwise: 'paper-6', source: 'the paper' },
  config: {
    vocabSize: ['vocab_size'],
    modelDim: ['model_dim'],
    layers: ['num_layers'],
    reducedDim: ['reduced_dim'],
    ffDim: ['ff_dim'],
    maxPositions: ['max_seq_len'],
    windows: ['window_sizes'],
    layerNormEps: ['layer_norm_eps'],
    tiedHead: ['tie_weights'],
  },
  source: 'built-in',
};

/** GrassLM (the `grasslm` package: GrassLM, GrassmannBlock, GrassmannMixing, PluckerEncoder). */
export const GRASSLM: ArchitectureDescription = {
  id: 'grasslm',
  label: 'GrassLM',
  tensors: {
    tokenEmbedding: 'tok_embed.weight',
    positionEmbedding: 'pos_embed.weight',
    finalNormWeight: 'ln_final.weight',
    finalNormBias: 'ln_final.bias',
    lmHead: 'lm_head.weight',
    norm1Weight: 'blocks.{l}.ln1.weight',
    norm1Bias: 'blocks.{l}.ln1.bias',
    reduceWeight: 'blocks.{l}.mixing.plucker_encoder.W_red.weight',
    reduceBias: 'blocks.{l}.mixing.plucker_encoder.W_red.bias',
    pluckerWeight: 'blocks.{l}.mixing.plucker_encoder.W_plu.weight',
    pluckerBias: 'blocks.{l}.mixing.plucker_encoder.W_plu.bias',
    gateWeight: 'blocks.{l}.mixing.W_gate.weight',
    gateBias: 'blocks.{l}.mixing.W_gate.bias',
    norm2Weight: 'blocks.{l}.ln2.weight',
    norm2Bias: 'blocks.{l}.ln2.bias',
    ffnInWeight: 'blocks.{l}.ffn.0.weight',
    ffnInBias: 'blocks.{l}.ffn.0.bias',
    ffnOutWeight: 'blocks.{l}.ffn.2.weight',
    ffnOutBias: 'blocks.{l}.ffn.2.bias',
    pairFirst: 'blocks.{l}.mixing.plucker_encoder.idx_i',
    pairSecond: 'blocks.{l}.mixing.plucker_encoder.idx_j',
  },
  options: { ...DEFAULT_OPTIONS, block: 'post-norm-no-mix-residual', mixNorm: false, pluckerEps: 1e-8 },
  windowForm: 'one-per-block',
  defaultWindows: { byDepth: { '6': PAPER_6, '12': PAPER_12 }, otherwise: 'ones', source: "GrassLM's default window schedule" },
  config: {
    vocabSize: ['vocab_size'],
    modelDim: ['d_model'],
    layers: ['n_layers'],
    reducedDim: ['d_reduce'],
    ffDim: ['d_ff'],
    maxPositions: ['max_seq_len'],
    windows: ['window_schedule'],
  },
  source: 'built-in',
};

/** The reproduction configured by `LMConfig` with tensor_lifting_strategy = "grassmann". */
export const LMCONFIG: ArchitectureDescription = {
  id: 'lmconfig',
  label: 'LMConfig Grassmann reproduction',
  tensors: {
    tokenEmbedding: 'token_embedding.weight',
    positionEmbedding: 'position_embedding.weight',
    finalNormWeight: 'output_norm.weight',
    finalNormBias: 'output_norm.bias',
    lmHead: 'lm_head.weight',
    norm1Weight: 'transformer_blocks.{l}.attention_norm.weight',
    norm1Bias: 'transformer_blocks.{l}.attention_norm.bias',
    reduceWeight: 'transformer_blocks.{l}.attention.reduce.weight',
    reduceBias: 'transformer_blocks.{l}.attention.reduce.bias',
    pluckerWeight: 'transformer_blocks.{l}.attention.expand.weight',
    pluckerBias: 'transformer_blocks.{l}.attention.expand.bias',
    gateWeight: 'transformer_blocks.{l}.attention.gate_proj.weight',
    gateBias: 'transformer_blocks.{l}.attention.gate_proj.bias',
    norm2Weight: 'transformer_blocks.{l}.ffn_norm.weight',
    norm2Bias: 'transformer_blocks.{l}.ffn_norm.bias',
    ffnInWeight: 'transformer_blocks.{l}.ffn.layers.0.weight',
    ffnInBias: 'transformer_blocks.{l}.ffn.layers.0.bias',
    ffnOutWeight: 'transformer_blocks.{l}.ffn.layers.2.weight',
    ffnOutBias: 'transformer_blocks.{l}.ffn.layers.2.bias',
    pairFirst: 'transformer_blocks.{l}.attention.idx_i',
    pairSecond: 'transformer_blocks.{l}.attention.idx_j',
  },
  options: { ...DEFAULT_OPTIONS, block: 'post-norm', mixOutput: 'gated-geometry', mixNorm: false, aggregation: 'mean-then-project', pluckerEps: 1e-6 },
  windowForm: 'list',
  defaultWindows: { byDepth: {}, otherwise: 'paper-6', source: 'the paper (LMConfig has no default lags)' },
  config: {
    vocabSize: ['vocab_size'],
    modelDim: ['d_model'],
    layers: ['num_layers'],
    reducedDim: ['d_low'],
    ffMultiplier: ['expansion_ratio'],
    maxPositions: ['max_context_len'],
    windows: ['lags'],
    tiedHead: ['weight_tying'],
    switches: {
      pre_norm: { values: { true: { block: 'pre-norm' }, false: { block: 'post-norm' } }, default: 'false' },
    },
    require: { tensor_lifting_strategy: 'grassmann' },
  },
  source: 'built-in',
};

/** Tried in this order; the first whose every required tensor is present and fits wins. */
export const BUILT_IN_ARCHITECTURES: readonly ArchitectureDescription[] = [ALPHAXIV, GRASSLM, LMCONFIG];

/** Roles that must be present for a description to run. */
export function requiredRoles(description: Pick<ArchitectureDescription, 'options'>): { global: GlobalRole[]; layer: LayerRole[] } {
  const global: GlobalRole[] = ['tokenEmbedding', 'finalNormWeight', 'finalNormBias'];
  if (description.options.positions === 'learned') global.push('positionEmbedding');
  const layer = LAYER_ROLES.filter((r) => (description.options.mixNorm || !r.startsWith('mixNorm')) && !OPTIONAL_BIAS_ROLES.includes(r));
  return { global, layer };
}

// ---------------------------------------------------------------------------------------------
// Description files
// ---------------------------------------------------------------------------------------------

export const ARCHITECTURE_FILE_NAME = 'grassmann-lens.arch.json';
/** Largest description file read (a description is a few kB). */
export const MAX_ARCHITECTURE_FILE_BYTES = 1 << 20;

const OPTION_VALUES: Record<string, readonly unknown[]> = {
  block: BLOCK_LAYOUTS,
  mixOutput: MIX_OUTPUTS,
  aggregation: AGGREGATIONS,
  activation: ACTIVATIONS,
  pairing: PAIRINGS,
  positions: POSITION_KINDS,
};

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const own = (o: Record<string, unknown>, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

/** Sets an own property, whatever the key (`__proto__` included: never the prototype). */
function setOwn<T>(o: Record<string, T>, k: string, v: T): void {
  Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true });
}

/** A plain copy of an untrusted object's own entries (keys such as `__proto__` stay plain keys). */
function copyOwn(v: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) setOwn(out, k, x);
  return out;
}

/** Checks option values (a full set, or a partial one for switches); throws a plain message. */
export function checkOptions(value: unknown, where: string, partial: boolean): Partial<ArchitectureOptions> {
  if (!isObject(value)) throw new Error(`${where} must be an object`);
  const out: Partial<ArchitectureOptions> = {};
  for (const [k, v] of Object.entries(value)) {
    if (own(OPTION_VALUES, k)) {
      if (!OPTION_VALUES[k].includes(v)) throw new Error(`${where}.${k} must be one of ${OPTION_VALUES[k].join(', ')}, got ${previewJson(v)}`);
    } else if (k === 'mixNorm') {
      if (typeof v !== 'boolean') throw new Error(`${where}.mixNorm must be true or false, got ${previewJson(v)}`);
    } else if (k === 'pluckerEps' || k === 'layerNormEps') {
      if (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v)) throw new Error(`${where}.${k} must be a number >= 0, got ${previewJson(v)}`);
    } else {
      throw new Error(`${where} has an unknown option '${k}' (known: ${[...Object.keys(OPTION_VALUES), 'mixNorm', 'pluckerEps', 'layerNormEps'].join(', ')})`);
    }
    (out as Record<string, unknown>)[k] = v;
  }
  if (!partial) {
    for (const k of Object.keys(DEFAULT_OPTIONS)) if (!own(out, k)) (out as Record<string, unknown>)[k] = (DEFAULT_OPTIONS as unknown as Record<string, unknown>)[k];
  }
  return out;
}

const KEY_LIST_FIELDS = ['vocabSize', 'modelDim', 'layers', 'reducedDim', 'ffDim', 'ffMultiplier', 'maxPositions', 'windows', 'layerNormEps', 'tiedHead'] as const;

function checkConfigKeys(value: unknown): ConfigKeys {
  if (value === undefined) return {};
  if (!isObject(value)) throw new Error('config must be an object');
  const out: ConfigKeys = {};
  for (const [k, v] of Object.entries(value)) {
    if ((KEY_LIST_FIELDS as readonly string[]).includes(k)) {
      const list = typeof v === 'string' ? [v] : v;
      if (!Array.isArray(list) || list.length === 0 || list.length > 16 || !list.every((s) => typeof s === 'string' && s.length > 0 && s.length <= 200)) {
        throw new Error(`config.${k} must be a key name or a list of key names, got ${previewJson(v)}`);
      }
      (out as Record<string, unknown>)[k] = list;
    } else if (k === 'switches') {
      if (!isObject(v)) throw new Error('config.switches must be an object');
      const switches: NonNullable<ConfigKeys['switches']> = {};
      for (const [key, s] of Object.entries(v)) {
        if (!isObject(s) || !isObject(s.values)) throw new Error(`config.switches.${key} must be {"values": {...}, "default": ...}`);
        const values: Record<string, Partial<ArchitectureOptions>> = {};
        for (const [text, options] of Object.entries(s.values)) setOwn(values, text, checkOptions(options, `config.switches.${key}.values.${text}`, true));
        if (s.default !== undefined && (typeof s.default !== 'string' || !own(values, s.default))) {
          throw new Error(`config.switches.${key}.default must name one of its values (${Object.keys(values).join(', ')})`);
        }
        setOwn(switches, key, { values, default: s.default as string | undefined });
      }
      out.switches = switches;
    } else if (k === 'require') {
      if (!isObject(v) || !Object.values(v).every((x) => ['string', 'number', 'boolean'].includes(typeof x))) {
        throw new Error('config.require must map key names to a string, number or boolean');
      }
      out.require = copyOwn(v) as Record<string, string | number | boolean>;
    } else {
      throw new Error(`config has an unknown field '${k}'`);
    }
  }
  return out;
}

const ALL_ROLES: readonly string[] = [...GLOBAL_ROLES, ...LAYER_ROLES, ...PAIR_INDEX_ROLES];

const isWindowList = (v: unknown): v is number[] =>
  Array.isArray(v) && v.length > 0 && v.length <= 4096 && v.every((x) => Number.isInteger(x) && x >= 1);

/**
 * A description file's `windows.default`: one list for every depth, or lists by depth
 * (`{"6": [...], "12": [...], "otherwise": "paper-6" | "ones"}`, how the built-ins say it).
 */
function checkDefaultWindows(value: unknown, file: string): DefaultWindowRule {
  if (Array.isArray(value)) {
    if (!isWindowList(value)) throw new Error('windows.default must be a non-empty list of positive integers');
    return { byDepth: {}, otherwise: 'paper-6', source: file, fixed: value };
  }
  if (!isObject(value)) throw new Error('windows.default must be a list of positive integers or {"<depth>": [...], "otherwise": "paper-6" | "ones"}');
  const byDepth: Record<string, number[]> = {};
  let otherwise: DefaultWindowRule['otherwise'] = 'paper-6';
  for (const [k, v] of Object.entries(value)) {
    if (k === 'otherwise') {
      if (v !== 'paper-6' && v !== 'ones') throw new Error(`windows.default.otherwise must be one of paper-6, ones, got ${previewJson(v)}`);
      otherwise = v;
    } else if (/^[1-9][0-9]{0,5}$/.test(k)) {
      if (!isWindowList(v)) throw new Error(`windows.default.${k} must be a non-empty list of positive integers`);
      setOwn(byDepth, k, v);
    } else {
      throw new Error(`windows.default has an unknown key '${k}' (a depth such as "6", or "otherwise")`);
    }
  }
  return { byDepth, otherwise, source: file };
}

/**
 * Validates a parsed description file (see media/grassmann-lens.arch.schema.json). Every problem
 * is an InputError naming the file and the field. Fields: `name`, `label`, `tensors` (role ->
 * template; per-block roles need `{l}`), `options`, `windows` ({"form", "default": a list, or
 * lists by depth with "otherwise"}), `config`; `$schema` and `undecided` (describe-arch's list of
 * what it could not tell) are ignored.
 */
export function parseArchitectureFile(file: string, json: unknown): ArchitectureDescription {
  try {
    if (!isObject(json)) throw new Error('expected a JSON object');
    for (const k of Object.keys(json)) {
      if (!['$schema', 'name', 'label', 'tensors', 'options', 'windows', 'config', 'undecided'].includes(k)) throw new Error(`unknown field '${k}'`);
    }
    const name = json.name ?? 'custom';
    if (typeof name !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw new Error(`name must be 1-64 letters, digits, '.', '_' or '-', got ${previewJson(name)}`);
    const label = json.label ?? name;
    if (typeof label !== 'string' || label.length > 200) throw new Error('label must be a string of at most 200 characters');
    if (!isObject(json.tensors)) throw new Error('tensors must be an object mapping roles to state-dict key templates');
    const tensors: ArchitectureDescription['tensors'] = {};
    for (const [role, template] of Object.entries(json.tensors)) {
      if (!ALL_ROLES.includes(role)) throw new Error(`tensors has an unknown role '${role}' (roles: ${ALL_ROLES.join(', ')})`);
      if (template === null) continue;
      if (typeof template !== 'string' || template.length === 0 || template.length > 500) throw new Error(`tensors.${role} must be a key template string`);
      const perBlock = (LAYER_ROLES as readonly string[]).includes(role) || (PAIR_INDEX_ROLES as readonly string[]).includes(role);
      const marks = template.split('{l}').length - 1;
      if (perBlock && marks !== 1) throw new Error(`tensors.${role} = ${JSON.stringify(template)} must contain {l} (the block index) exactly once`);
      if (!perBlock && marks !== 0) throw new Error(`tensors.${role} = ${JSON.stringify(template)} is outside the blocks and must not contain {l}`);
      tensors[role as keyof ArchitectureDescription['tensors']] = template;
    }
    const options = checkOptions(json.options ?? {}, 'options', false) as ArchitectureOptions;
    const required = requiredRoles({ options });
    const missing = [...required.global, ...required.layer].filter((r) => !tensors[r]);
    if (missing.length > 0) throw new Error(`tensors has no template for ${missing.join(', ')}`);
    let windowForm: WindowForm = 'list';
    let defaultWindows: DefaultWindowRule = { byDepth: { '6': PAPER_6, '12': PAPER_12 }, otherwise: 'paper-6', source: 'the paper' };
    if (json.windows !== undefined) {
      const w = json.windows;
      if (!isObject(w)) throw new Error('windows must be an object ({"form": "list" | "one-per-block", "default": [...]})');
      if (w.form !== undefined) {
        if (!(WINDOW_FORMS as readonly unknown[]).includes(w.form)) throw new Error(`windows.form must be one of ${WINDOW_FORMS.join(', ')}`);
        windowForm = w.form as WindowForm;
      }
      if (w.default !== undefined) defaultWindows = checkDefaultWindows(w.default, file);
    }
    return { id: name, label, tensors, options, windowForm, defaultWindows, config: checkConfigKeys(json.config), source: file };
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(file, `not a valid architecture description: ${(e as Error).message}`);
  }
}

/** The default window list of a description for a depth, and where it comes from. */
export function defaultWindowsFor(description: ArchitectureDescription, layers: number): { windows: number[]; note: string; warning?: string } {
  const rule = description.defaultWindows;
  const perBlock = description.windowForm === 'one-per-block';
  if (rule.fixed) return { windows: [...rule.fixed], note: `the default windows of ${rule.source}` };
  const byDepth = rule.byDepth[String(layers)];
  if (byDepth) return { windows: [...byDepth], note: `${rule.source} for ${layers} layers` };
  if (rule.otherwise === 'ones') {
    return { windows: perBlock ? Array.from({ length: layers }, () => 1) : [1], note: `${rule.source} for ${layers} layers (offset 1 in every block)` };
  }
  const note = `${rule.source} gives no list for ${layers} layers: assumed the 6-layer list [${PAPER_6.join(', ')}]`;
  const windows = perBlock ? Array.from({ length: layers }, (_, l) => PAPER_6[l % PAPER_6.length]) : [...PAPER_6];
  return { windows, note, warning: `${note}; if it was trained otherwise, give its config (VS Code: Choose Config…; CLI: --config) with the model's windows` };
}

/** What a block computes under `options`, one line per aspect (reports, inspect, the editor). */
export function describeOptions(options: ArchitectureOptions): string[] {
  const block: Record<BlockLayout, string> = {
    'pre-norm': "pre-norm: x' = x + Mix(LN_a(x)), out = x' + FFN(LN_f(x'))",
    'post-norm': "post-norm: x' = LN_a(x + Mix(x)), out = LN_f(x' + FFN(x'))",
    'post-norm-no-mix-residual': "post-norm, no residual around the mixing: x' = LN_a(Mix(x)), out = LN_f(x' + FFN(x'))",
  };
  const mix: Record<MixOutput, string> = {
    blend: 'Mix(h) = α⊙h + (1−α)⊙g',
    additive: 'Mix(h) = h + α⊙g',
    'gated-geometry': 'Mix(h) = α⊙g',
  };
  const aggregation: Record<Aggregation, string> = {
    'project-then-mean': 'g = mean over the valid offsets of (W_plu p̂ + b_plu), 0 where none is valid',
    'mean-then-project': 'g = W_plu (mean over the valid offsets of p̂) + b_plu, b_plu where none is valid',
  };
  const activation: Record<Activation, string> = { gelu: 'GELU (exact, erf)', 'gelu-tanh': 'GELU (tanh approximation)', relu: 'ReLU' };
  const small = (v: number): string => (v !== 0 && Math.abs(v) < 1e-3 ? v.toExponential() : String(v));
  return [
    block[options.block],
    `${mix[options.mixOutput]}${options.mixNorm ? ', then its own LayerNorm' : ''}, α = σ(W_gate [h; g] + b_gate)`,
    aggregation[options.aggregation],
    `p̂ = p / max(‖p‖, ${small(options.pluckerEps)}), planes span(z_t, z_${options.pairing === 'previous' ? 't−d' : 't+d'})`,
    `FFN activation ${activation[options.activation]}, LayerNorm eps ${small(options.layerNormEps)}${options.positions === 'none' ? ', no learned positions' : ''}`,
  ];
}
