/**
 * `describe-arch`: a pre-filled architecture description (grassmann-lens.arch.json) for a
 * checkpoint, from its tensor names and shapes only (no values are read).
 *
 * If a built-in description fits, the draft is that description. Otherwise the roles are matched
 * by shape, then by name where shapes cannot tell:
 *   - blocks: the first all-digit part of a name is the block index (`net.layers.3.mix.w` ->
 *     `net.layers.{l}.mix.w`); the prefix most tensors share is the blocks', the rest is global;
 *   - d: the gate W_gate is the block matrix [d, 2d] (d agreeing with the embedding's columns);
 *   - W_red [r, d] (r < d) whose partner W_plu [d, r(r-1)/2] exists;
 *   - the FFN: the remaining pair [f, d] (in) and [d, f] (out);
 *   - biases: a vector [out] beside a matrix (`.weight` -> `.bias`, `.w` -> `.b`, ...);
 *   - LayerNorms: the remaining [d] vectors in weight/bias pairs; one inside the mixing module
 *     (the common prefix of W_red, W_plu and W_gate) is mixNorm; norm1 / norm2 from their names
 *     (ln1, norm1, attention_norm, ... / ln2, ffn_norm, ...), else from their order (file order
 *     in a torch pickle, which keeps the modules' order; name order otherwise): a guess;
 *   - globals: the token embedding [V, d] (by name, else the largest first dimension), the
 *     position table [Tmax, d], an untied lm_head [V, d], the final LayerNorm [d];
 *   - pair-index buffers: two integer vectors of length r(r-1)/2 per block.
 * The block layout, mixing output, aggregation, Plücker eps and activation cannot be told from
 * shapes: the draft has the paper's values as guesses and lists them in `undecided`. Config keys
 * (config.json beside the checkpoint, or a config saved in it) are matched by value and name.
 */
import { promises as fs } from 'node:fs';
import { openCheckpoint } from '../checkpoint/open';
import type { Checkpoint, TensorInfo } from '../checkpoint/types';
import {
  architectureFileBeside,
  architectureFileJson,
  architectureFileText,
  type ArchitectureFileJson,
} from '../model/archFile';
import type { ArchitectureDraft, DescribeArchReport } from './describeArchReport';
import {
  ACTIVATIONS,
  BUILT_IN_ARCHITECTURES,
  DEFAULT_OPTIONS,
  GLOBAL_ROLES,
  LAYER_ROLES,
  PAIR_INDEX_ROLES,
  parseArchitectureFile,
  type ArchitectureOptions,
} from '../model/architecture';
import { findConfigFile, readConfigObject } from '../model/config';
import { recognizeShapes } from '../model/spec';
import { InputError } from '../util/errors';

export type { ArchitectureDraft, DescribeArchReport } from './describeArchReport';
export { formatDescribeArchReport } from './describeArchReport';

type Shaped = Pick<TensorInfo, 'shape' | 'dtype' | 'storage' | 'elementOffset' | 'strides'>;

const INTEGER_DTYPES = new Set(['I64', 'I32', 'I16', 'I8', 'U8', 'BOOL']);
const WEIGHT_LEAVES = ['weight', 'w', 'kernel', 'gamma', 'scale', 'g'];
const BIAS_LEAVES = ['bias', 'b', 'beta', 'shift', 'offset'];
const natural = (a: string, b: string): number => a.localeCompare(b, 'en', { numeric: true });
const shapeText = (s: readonly number[]): string => `[${s.join(', ')}]`;

/** One tensor name, split at the block index (the first all-digit part). */
interface Split {
  prefix: string;
  index: number;
  template: string;
}

function splitBlock(name: string): Split | null {
  const parts = name.split('.');
  const k = parts.findIndex((p, i) => i < parts.length - 1 && /^\d{1,6}$/.test(p));
  if (k < 0) return null;
  const prefix = parts.slice(0, k).join('.') + (k > 0 ? '.' : '');
  return { prefix, index: Number(parts[k]), template: [...parts.slice(0, k), '{l}', ...parts.slice(k + 1)].join('.') };
}

/** A tensor (global: its name; per block: its template) with block 0's shape. */
interface Item {
  key: string;
  shape: number[];
  integer: boolean;
  /** Position of its first tensor in the file. */
  order: number;
  perBlock: boolean;
}

/** `x.weight` -> `x`, `x.b` -> `x`, `x_bias` -> `x`: the module a parameter belongs to. */
function stemOf(key: string): { stem: string; leaf: string } {
  const m = /^(.*?)[._]([A-Za-z]+)$/.exec(key);
  if (m && [...WEIGHT_LEAVES, ...BIAS_LEAVES].includes(m[2].toLowerCase())) return { stem: m[1], leaf: m[2].toLowerCase() };
  const dot = key.lastIndexOf('.');
  return dot < 0 ? { stem: key, leaf: '' } : { stem: key.slice(0, dot), leaf: key.slice(dot + 1).toLowerCase() };
}

/** Longest common prefix of some keys, cut after a '.'. */
function commonModulePrefix(keys: string[]): string {
  if (keys.length === 0) return '';
  let p = keys[0];
  for (const k of keys) while (!k.startsWith(p)) p = p.slice(0, -1);
  return p.slice(0, p.lastIndexOf('.') + 1);
}

const NORM1_NAME = /(^|[._])(ln_?1|norm_?1|layer_?norm_?1|attn_?norm|attention_?norm|ln_?attn|input_?layernorm|ln_?a)([._]|$)/i;
const NORM2_NAME = /(^|[._])(ln_?2|norm_?2|layer_?norm_?2|ffn?_?norm|mlp_?norm|ln_?ffn?|ln_?mlp|post_?attention_?layernorm|ln_?f|norm_?ffn?)([._]|$)/i;
const GATE_NAME = /gate|alpha/i;
const REDUCE_NAME = /red|down|low|proj_?z|to_?z/i;
const PLUCKER_NAME = /pl(u|ue)|lift|expand|up/i;
const FFN_IN_NAME = /(^|[._])(in|fc_?1|up|w_?1|c_?fc|lin_?1|0|dense_?h_?to_?4h|inter\w*)([._]|$)/i;
const FFN_OUT_NAME = /(^|[._])(out|fc_?2|down|w_?2|c_?proj|proj|lin_?2|dense_?4h_?to_?h)([._]|$)/i;
const EMBED_NAME = /tok|wte|word|emb/i;
const POSITION_NAME = /pos|wpe|position/i;
const HEAD_NAME = /head|unembed|logit|output|out_?proj|decoder|classifier|lm/i;
const FINAL_NAME = /final|ln_?f|norm_?f|out|last|post/i;

/** Config key patterns by field, for keys whose value equals that dimension. */
const CONFIG_NAMES: Record<'vocabSize' | 'modelDim' | 'layers' | 'reducedDim' | 'ffDim' | 'maxPositions', RegExp> = {
  vocabSize: /vocab|n_?tokens|num_?tokens/i,
  modelDim: /d_?model|model_?dim|hidden_?size|n_?embd|emb(ed(ding)?)?_?(dim|size)|^dim$|^d$|width/i,
  layers: /layers?$|n_?layers|num_?layers|depth|n_?blocks|num_?blocks/i,
  reducedDim: /reduc|low|rank|z_?dim|^r$|d_?r(ed)?$/i,
  ffDim: /ff|inner|intermediate|mlp|feed/i,
  maxPositions: /seq|ctx|context|position|max_?len|block_?size/i,
};

/**
 * The draft for a checkpoint's tensors (pure: no file is read).
 * @param fileOrder the tensors are in the modules' order (a torch pickle), not sorted by name.
 * @param config a config of the checkpoint, to match its keys (where: its path, for messages).
 */
export function draftFromTensors(
  checkpointPath: string,
  tensors: ReadonlyMap<string, Shaped>,
  options: { fileOrder?: boolean; config?: { where: string; object: Record<string, unknown> } | null } = {},
): ArchitectureDraft {
  const config = options.config ?? null;
  for (const builtIn of BUILT_IN_ARCHITECTURES) {
    if (!recognizeShapes(tensors, builtIn).ok) continue;
    const file = architectureFileJson(builtIn);
    const decided = [`these tensors fit the built-in description ${builtIn.label} (${builtIn.id}): Grassmann Lens reads this checkpoint without a description file; this file is that description, to change`];
    file.undecided = [];
    return { checkpoint: checkpointPath, file, builtIn: { id: builtIn.id, label: builtIn.label }, decided, undecided: [], unused: [], configPath: config?.where ?? null, fits: true, problems: [] };
  }

  const decided: string[] = [];
  const undecided: string[] = [];
  const roles: Record<string, string | null> = {};
  const taken = new Set<string>();

  // Blocks: the prefix before the block index that most tensors share.
  const byPrefix = new Map<string, number>();
  for (const name of tensors.keys()) {
    const s = splitBlock(name);
    if (s) byPrefix.set(s.prefix, (byPrefix.get(s.prefix) ?? 0) + 1);
  }
  const blockPrefix = [...byPrefix.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
  const items = new Map<string, Item>();
  let layers = 0;
  let order = 0;
  for (const [name, t] of tensors) {
    const s = splitBlock(name);
    const integer = INTEGER_DTYPES.has(t.dtype);
    if (s && s.prefix === blockPrefix) {
      layers = Math.max(layers, s.index + 1);
      const item = items.get(s.template);
      if (!item) items.set(s.template, { key: s.template, shape: [...t.shape], integer, order: order++, perBlock: true });
      else if (s.index === 0) item.shape = [...t.shape];
    } else {
      items.set(name, { key: name, shape: [...t.shape], integer, order: order++, perBlock: false });
    }
  }
  if (blockPrefix !== undefined) decided.push(`blocks: ${layers} under ${blockPrefix}{l}. (the first number in the names is the block index)`);
  else undecided.push('blocks: no tensor name has a block index (a number between dots, as in blocks.0.ln1.weight): cannot map the per-block roles');

  const free = (pred: (i: Item) => boolean): Item[] => [...items.values()].filter((i) => !taken.has(i.key) && pred(i)).sort((a, b) => a.order - b.order);
  const take = (role: string, item: Item, why: string): void => {
    roles[role] = item.key;
    taken.add(item.key);
    decided.push(`${role} = ${item.key} ${shapeText(item.shape)}: ${why}`);
  };
  /** Of several candidates: the one whose name matches, else the first, noted as a guess. */
  const pick = (role: string, candidates: Item[], name: RegExp | null, what: string): Item | undefined => {
    if (candidates.length <= 1) return candidates[0];
    const named = name ? candidates.filter((c) => name.test(c.key)) : [];
    if (named.length === 1) return named[0];
    undecided.push(`tensors.${role}: ${candidates.map((c) => c.key).join(' or ')} (${what}; the names do not tell): took ${candidates[0].key}`);
    return candidates[0];
  };
  const blockMats = (): Item[] => free((i) => i.perBlock && !i.integer && i.shape.length === 2);
  const globalMats = free((i) => !i.perBlock && !i.integer && i.shape.length === 2);

  // d: the gate [d, 2d], agreeing with the embedding's columns.
  const largest = [...globalMats].sort((a, b) => b.shape[0] - a.shape[0] || a.order - b.order)[0];
  const gateShaped = blockMats().filter((i) => i.shape[1] === 2 * i.shape[0]);
  const gateCandidates = largest ? gateShaped.filter((i) => i.shape[0] === largest.shape[1]) : gateShaped;
  let d = gateCandidates[0]?.shape[0] ?? gateShaped[0]?.shape[0] ?? largest?.shape[1];
  if (d === undefined) {
    undecided.push('the model width d: no block matrix is [d, 2d] (the gate) and no global matrix (the embedding) was found');
    d = 0;
  }
  const gate = pick('gateWeight', blockMats().filter((i) => i.shape[0] === d && i.shape[1] === 2 * d), GATE_NAME, `both [d, 2d] with d = ${d}`);
  if (gate) take('gateWeight', gate, `the block matrix [d, 2d], d = ${d}`);

  // W_red [r, d] with a W_plu [d, r(r-1)/2].
  const pluFor = (r: number): Item[] => blockMats().filter((i) => i.shape[0] === d && i.shape[1] === (r * (r - 1)) / 2);
  const reduceCandidates = blockMats().filter((i) => i.shape[1] === d && i.shape[0] >= 2 && pluFor(i.shape[0]).length > 0);
  const narrow = reduceCandidates.filter((i) => i.shape[0] < d);
  const reduce = pick('reduceWeight', narrow.length > 0 ? narrow : reduceCandidates, REDUCE_NAME, '[r, d] each with a [d, r(r-1)/2] partner');
  let r = 0;
  if (reduce) {
    r = reduce.shape[0];
    take('reduceWeight', reduce, `[r, d] with r = ${r} < d = ${d}, and a [d, r(r-1)/2] = [${d}, ${(r * (r - 1)) / 2}] matrix exists`);
    const plucker = pick('pluckerWeight', pluFor(r), PLUCKER_NAME, `both [d, r(r-1)/2]`);
    if (plucker) take('pluckerWeight', plucker, `[d, r(r-1)/2] = [${d}, ${(r * (r - 1)) / 2}]`);
  }

  // FFN: [f, d] in, [d, f] out.
  const ffnInCandidates = blockMats().filter((i) => i.shape[1] === d && blockMats().some((o) => o !== i && o.shape[0] === d && o.shape[1] === i.shape[0]));
  const ffnIn = pick('ffnInWeight', ffnInCandidates, FFN_IN_NAME, '[f, d] each with a [d, f] partner');
  if (ffnIn) {
    const f = ffnIn.shape[0];
    take('ffnInWeight', ffnIn, `[f, d] with f = ${f}`);
    const outs = blockMats().filter((o) => o.shape[0] === d && o.shape[1] === f);
    const ffnOut = pick('ffnOutWeight', outs, FFN_OUT_NAME, `both [d, f]`);
    if (ffnOut) take('ffnOutWeight', ffnOut, `[d, f] = [${d}, ${f}]`);
  }

  // Biases beside their matrices.
  const vectors = (perBlock: boolean): Item[] => free((i) => i.perBlock === perBlock && !i.integer && i.shape.length === 1);
  const biasFor = (weightRole: string, biasRole: string, length: number): void => {
    const weight = roles[weightRole];
    if (!weight) return;
    const { stem } = stemOf(weight);
    const candidates = vectors(true).filter((v) => v.shape[0] === length && stemOf(v.key).stem === stem && BIAS_LEAVES.includes(stemOf(v.key).leaf));
    if (candidates.length >= 1) take(biasRole, candidates[0], `the bias beside ${weight}`);
    else decided.push(`${biasRole}: none beside ${weight} (a linear map without bias: zeros)`);
  };
  if (d > 0) {
    biasFor('reduceWeight', 'reduceBias', r);
    biasFor('pluckerWeight', 'pluckerBias', d);
    biasFor('gateWeight', 'gateBias', d);
    if (roles.ffnInWeight) biasFor('ffnInWeight', 'ffnInBias', items.get(roles.ffnInWeight)!.shape[0]);
    biasFor('ffnOutWeight', 'ffnOutBias', d);
  }

  // LayerNorms: [d] weight/bias pairs.
  interface Norm { stem: string; weight: Item; bias: Item; order: number }
  const norms = (perBlock: boolean): Norm[] => {
    const groups = new Map<string, { weight?: Item; bias?: Item; order: number }>();
    for (const v of vectors(perBlock).filter((x) => x.shape[0] === d)) {
      const { stem, leaf } = stemOf(v.key);
      const g = groups.get(stem) ?? { order: v.order };
      if (WEIGHT_LEAVES.includes(leaf)) g.weight ??= v;
      else if (BIAS_LEAVES.includes(leaf)) g.bias ??= v;
      g.order = Math.min(g.order, v.order);
      groups.set(stem, g);
    }
    const out: Norm[] = [];
    for (const [stem, g] of groups) {
      if (g.weight && g.bias) out.push({ stem, weight: g.weight, bias: g.bias, order: g.order });
      else undecided.push(`${(g.weight ?? g.bias)!.key}: a [d] vector without its ${g.weight ? 'bias' : 'weight'} (Grassmann Lens reads LayerNorms with both): not used`);
    }
    return out.sort((a, b) => (options.fileOrder ? a.order - b.order : natural(a.stem, b.stem)));
  };
  const takeNorm = (role: 'norm1' | 'norm2' | 'mixNorm' | 'finalNorm', n: Norm, why: string): void => {
    take(`${role}Weight`, n.weight, why);
    take(`${role}Bias`, n.bias, why);
  };
  const blockNorms = d > 0 ? norms(true) : [];
  const mixPrefix = commonModulePrefix(['reduceWeight', 'pluckerWeight', 'gateWeight'].map((k) => roles[k]).filter((k): k is string => !!k));
  const inBlockModule = mixPrefix.length > `${blockPrefix ?? ''}{l}.`.length;
  let rest = [...blockNorms];
  let mixNorm = false;
  const insideMix = inBlockModule ? rest.filter((n) => n.stem.startsWith(mixPrefix)) : [];
  if (insideMix.length === 1) {
    takeNorm('mixNorm', insideMix[0], `a LayerNorm inside the mixing module ${mixPrefix}* (with W_red, W_plu, W_gate): its own LayerNorm after the mixing output`);
    mixNorm = true;
    rest = rest.filter((n) => n !== insideMix[0]);
  }
  const by1 = rest.filter((n) => NORM1_NAME.test(n.stem.slice(n.stem.indexOf('{l}'))));
  const by2 = rest.filter((n) => NORM2_NAME.test(n.stem.slice(n.stem.indexOf('{l}'))));
  let norm1: Norm | undefined;
  let norm2: Norm | undefined;
  if (rest.length === 2 && by1.length + by2.length >= 1 && !(by1.length === 2 || by2.length === 2) && !(by1.length === 1 && by2.length === 1 && by1[0] === by2[0])) {
    // One of the two named as either: the other is the other one.
    norm1 = by1[0] ?? rest.find((n) => n !== by2[0])!;
    norm2 = by2[0] ?? rest.find((n) => n !== by1[0])!;
    if (norm1 === norm2) norm2 = rest.find((n) => n !== norm1)!;
    takeNorm('norm1', norm1, `the mixing sub-layer's LayerNorm (by ${by1[0] === norm1 ? 'its name' : `the name of ${norm2.stem}`})`);
    takeNorm('norm2', norm2, `the FFN sub-layer's LayerNorm (by ${by2[0] === norm2 ? 'its name' : `the name of ${norm1.stem}`})`);
  } else if (by1.length === 1 && by2.length === 1 && by1[0] !== by2[0]) {
    norm1 = by1[0];
    norm2 = by2[0];
    takeNorm('norm1', norm1, 'the mixing sub-layer\'s LayerNorm (by its name)');
    takeNorm('norm2', norm2, 'the FFN sub-layer\'s LayerNorm (by its name)');
    rest = rest.filter((n) => n !== norm1 && n !== norm2);
    if (rest.length > 0) undecided.push(`LayerNorms ${rest.map((n) => n.stem).join(', ')}: not used (a block has norm1, norm2 and at most the mixing module's own)`);
  } else if (rest.length >= 2) {
    const how = options.fileOrder ? 'the order of the modules in the file' : 'name order';
    if (!mixNorm && rest.length >= 3) {
      takeNorm('norm1', rest[0], `guessed by ${how}`);
      takeNorm('mixNorm', rest[1], `guessed by ${how}`);
      takeNorm('norm2', rest[2], `guessed by ${how}`);
      mixNorm = true;
      undecided.push(`which LayerNorm is which: norm1 = ${rest[0].stem}, mixNorm = ${rest[1].stem}, norm2 = ${rest[2].stem} guessed by ${how}; swap the templates if the mixing sub-layer's, the mixing module's own and the FFN sub-layer's LayerNorms are others`);
    } else {
      takeNorm('norm1', rest[0], `guessed by ${how}`);
      takeNorm('norm2', rest[1], `guessed by ${how}`);
      undecided.push(`which LayerNorm is which: norm1 (the mixing sub-layer's) = ${rest[0].stem}, norm2 (the FFN sub-layer's) = ${rest[1].stem}, guessed by ${how}; swap them if it is the other way round`);
    }
  } else {
    undecided.push(`LayerNorms: found ${blockNorms.length} per-block [d] weight/bias pair(s) ${blockNorms.map((n) => n.stem).join(', ')}; a block needs two (norm1, norm2), three with the mixing module's own`);
  }
  if (mixNorm) decided.push('options.mixNorm = true: a third LayerNorm in each block');

  // Pair-index buffers: two integer vectors of length r(r-1)/2 per block.
  const pairBuffers = free((i) => i.perBlock && i.integer && i.shape.length === 1 && i.shape[0] === (r * (r - 1)) / 2).sort((a, b) => natural(a.key, b.key));
  if (pairBuffers.length === 2) {
    take('pairFirst', pairBuffers[0], 'integer buffer of length r(r-1)/2 (first of the pair, by name)');
    take('pairSecond', pairBuffers[1], 'integer buffer of length r(r-1)/2');
  }

  // Globals: embedding, positions, lm_head, final LayerNorm.
  const wide = globalMats.filter((i) => i.shape[1] === d && !taken.has(i.key));
  const named = wide.filter((i) => EMBED_NAME.test(i.key) && !POSITION_NAME.test(i.key) && !HEAD_NAME.test(i.key));
  const embedding = named.length === 1 ? named[0] : [...wide].sort((a, b) => b.shape[0] - a.shape[0] || a.order - b.order)[0];
  let V = 0;
  if (embedding) {
    V = embedding.shape[0];
    take('tokenEmbedding', embedding, named.length === 1 ? `[V, d] named as the token embedding, V = ${V}` : `[V, d] with the largest first dimension, V = ${V}`);
    if (named.length !== 1 && wide.filter((i) => i !== embedding).length > 0) {
      undecided.push(`tensors.tokenEmbedding: ${embedding.key} taken as the token embedding for having the most rows; check it is not the position table`);
    }
  }
  const heads = wide.filter((i) => !taken.has(i.key) && i.shape[0] === V && (HEAD_NAME.test(i.key) || !POSITION_NAME.test(i.key)));
  const head = pick('lmHead', heads, HEAD_NAME, '[V, d]');
  if (head) take('lmHead', head, '[V, d] beside the embedding: the output projection (tied if its values equal the embedding\'s)');
  else if (embedding) decided.push('lmHead: no second [V, d] matrix: the output projection is tied to the token embedding');
  const positionCandidates = wide.filter((i) => !taken.has(i.key));
  const position = pick('positionEmbedding', positionCandidates, POSITION_NAME, '[Tmax, d]');
  let positions: ArchitectureOptions['positions'] = 'learned';
  if (position) take('positionEmbedding', position, `[Tmax, d] with Tmax = ${position.shape[0]}: the learned positions`);
  else if (embedding) {
    positions = 'none';
    decided.push('options.positions = none: no [Tmax, d] position table');
  }
  const finals = d > 0 ? norms(false) : [];
  const finalNorm = finals.length === 1 ? finals[0] : (finals.find((n) => FINAL_NAME.test(n.stem)) ?? finals[finals.length - 1]);
  if (finalNorm) {
    takeNorm('finalNorm', finalNorm, 'the LayerNorm outside the blocks: before the output projection');
    if (finals.length > 1) undecided.push(`tensors.finalNormWeight: ${finals.map((n) => n.stem).join(' or ')}: took ${finalNorm.stem}`);
  }

  // Options the shapes cannot tell: the paper's values, as guesses.
  const opts: ArchitectureOptions = { ...DEFAULT_OPTIONS, mixNorm, positions };
  undecided.push(
    "options.block = pre-norm is a guess: the shapes cannot tell pre-norm (x + Mix(LN(x))), post-norm (LN(x + Mix(x))) or post-norm-no-mix-residual (LN(Mix(x))); read the block's forward()",
    "options.mixOutput = blend is a guess: blend (α⊙h + (1−α)⊙g), additive (h + α⊙g) or gated-geometry (α⊙g)",
    'options.aggregation = project-then-mean is a guess: mean over the offsets of (W_plu p̂ + b) (0 where none is valid), or mean-then-project W_plu (mean of p̂) + b',
    'options.pluckerEps = 1e-8 is a guess: the eps in p̂ = p / max(‖p‖, eps)',
    'options.activation = gelu is a guess: gelu (exact, erf), gelu-tanh or relu',
  );
  decided.push('options.pairing = previous: planes span(z_t, z_{t−d}), as a causal language model needs');

  // Config keys, matched by value and name.
  const configKeys: Record<string, unknown> = {};
  const dims = { vocabSize: V, modelDim: d, layers, reducedDim: r, ffDim: roles.ffnInWeight ? items.get(roles.ffnInWeight)!.shape[0] : 0, maxPositions: position?.shape[0] ?? 0 };
  let windowsForm: 'list' | 'one-per-block' = 'list';
  if (config) {
    const o = config.object;
    for (const [field, pattern] of Object.entries(CONFIG_NAMES) as [keyof typeof CONFIG_NAMES, RegExp][]) {
      const key = Object.keys(o).find((k) => o[k] === dims[field] && dims[field] > 0 && pattern.test(k));
      if (key) {
        configKeys[field] = [key];
        decided.push(`config.${field} = ${key}: ${key} = ${dims[field]} in ${config.where}`);
      }
    }
    if (!configKeys.ffDim && dims.ffDim > 0 && d > 0) {
      const key = Object.keys(o).find((k) => typeof o[k] === 'number' && (o[k] as number) * d === dims.ffDim && /ratio|mult|expan|factor/i.test(k));
      if (key) {
        configKeys.ffMultiplier = [key];
        decided.push(`config.ffMultiplier = ${key}: f = ${dims.ffDim} = ${key} x d in ${config.where}`);
      }
    }
    const windowKey = Object.keys(o).find((k) => /window|lag|offset|schedule|delta|shift/i.test(k) && Array.isArray(o[k]) && (o[k] as unknown[]).length > 0 && (o[k] as unknown[]).every((v) => Number.isInteger(v) && (v as number) >= 1));
    if (windowKey) {
      configKeys.windows = [windowKey];
      const list = o[windowKey] as number[];
      decided.push(`config.windows = ${windowKey}: [${list.join(', ')}] in ${config.where}`);
      if (/schedule|per_?(layer|block)/i.test(windowKey) && list.length === layers) windowsForm = 'one-per-block';
      if (list.length === layers) {
        undecided.push(`windows.form = ${windowsForm} is a guess: ${windowKey} has one entry per block (${layers}); 'list' if every block applies the whole list, 'one-per-block' if entry l is block l's only offset`);
      } else {
        decided.push(`windows.form = list: ${windowKey} has ${list.length} entries for ${layers} blocks, so every block applies the whole list`);
      }
    } else {
      undecided.push(`windows: no window list in ${config.where}: the paper's list by depth is assumed; set windows.default (or config.windows, the config key) to the model's offsets`);
    }
    const epsKey = Object.keys(o).find((k) => /eps/i.test(k) && !/pl(u|ue)/i.test(k) && typeof o[k] === 'number' && (o[k] as number) > 0 && (o[k] as number) < 0.01);
    if (epsKey) {
      configKeys.layerNormEps = [epsKey];
      opts.layerNormEps = o[epsKey] as number;
      decided.push(`config.layerNormEps = ${epsKey}: ${String(o[epsKey])} in ${config.where}`);
    }
    const pluEpsKey = Object.keys(o).find((k) => /eps/i.test(k) && /pl(u|ue)/i.test(k) && typeof o[k] === 'number' && (o[k] as number) > 0);
    if (pluEpsKey) {
      opts.pluckerEps = o[pluEpsKey] as number;
      decided.push(`options.pluckerEps = ${String(o[pluEpsKey])}: ${pluEpsKey} in ${config.where}`);
      const i = undecided.findIndex((u) => u.startsWith('options.pluckerEps'));
      if (i >= 0) undecided.splice(i, 1);
    }
    const activationKey = Object.keys(o).find((k) => /activation|act_?fn|hidden_?act/i.test(k) && (ACTIVATIONS as readonly unknown[]).includes(o[k]));
    if (activationKey) {
      opts.activation = o[activationKey] as ArchitectureOptions['activation'];
      decided.push(`options.activation = ${opts.activation}: ${activationKey} in ${config.where}`);
      const i = undecided.findIndex((u) => u.startsWith('options.activation'));
      if (i >= 0) undecided.splice(i, 1);
    }
    const tieKey = Object.keys(o).find((k) => /ti(e|ed|ing)|tying/i.test(k) && typeof o[k] === 'boolean');
    if (tieKey) {
      configKeys.tiedHead = [tieKey];
      decided.push(`config.tiedHead = ${tieKey} in ${config.where}`);
    }
    const preNormKey = Object.keys(o).find((k) => /^pre_?norm$|^prenorm$|^norm_?first$/i.test(k) && typeof o[k] === 'boolean');
    if (preNormKey) {
      configKeys.switches = { [preNormKey]: { values: { true: { block: 'pre-norm' }, false: { block: 'post-norm' } }, default: String(o[preNormKey]) } };
      opts.block = o[preNormKey] ? 'pre-norm' : 'post-norm';
      const i = undecided.findIndex((u) => u.startsWith('options.block'));
      undecided.splice(i, 1, `options.block: ${preNormKey} = ${String(o[preNormKey])} in ${config.where} switches pre-norm / post-norm (config.switches.${preNormKey}); post-norm assumes a residual around the mixing (post-norm-no-mix-residual if not)`);
    }
  } else {
    undecided.push("config: no config.json beside or above the checkpoint (nor one saved in it): windows come from windows.default, the paper's list by depth assumed; name your config's keys in config (windows, modelDim, ...) if it has one");
  }

  // Required roles nobody took: null, for the user to fill in.
  const required = ['tokenEmbedding', 'finalNormWeight', 'finalNormBias', ...(positions === 'learned' ? ['positionEmbedding'] : []),
    'norm1Weight', 'norm1Bias', 'reduceWeight', 'pluckerWeight', 'gateWeight', 'norm2Weight', 'norm2Bias', 'ffnInWeight', 'ffnOutWeight',
    ...(mixNorm ? ['mixNormWeight', 'mixNormBias'] : [])];
  for (const role of required) {
    if (!roles[role]) {
      roles[role] = null;
      undecided.push(`tensors.${role}: no tensor found (${role.startsWith('final') || role.endsWith('Embedding') ? 'outside the blocks' : 'per block, with {l}'}): fill in its key template`);
    }
  }
  const tensorsJson: Record<string, string | null> = {};
  for (const role of [...GLOBAL_ROLES, ...LAYER_ROLES, ...PAIR_INDEX_ROLES]) if (role in roles) tensorsJson[role] = roles[role];
  const unused = [...items.values()].filter((i) => !taken.has(i.key)).map((i) => i.key);
  if (unused.length > 0) decided.push(`not used: ${unused.join(', ')}`);

  const file: ArchitectureFileJson = {
    name: 'custom',
    label: 'My Grassmann implementation',
    tensors: tensorsJson,
    options: { ...opts },
    windows: { form: windowsForm },
    config: configKeys,
    undecided,
  };
  let fits = false;
  let problems: string[];
  try {
    const description = parseArchitectureFile(checkpointPath, file);
    const shapes = recognizeShapes(tensors, description);
    fits = shapes.ok;
    problems = shapes.problems;
  } catch (e) {
    problems = [(e as InputError).problem ?? (e as Error).message];
  }
  return { checkpoint: checkpointPath, file, builtIn: null, decided, undecided, unused, configPath: config?.where ?? null, fits, problems };
}

/** The config whose keys describe-arch matches: one saved in the checkpoint, else config.json. */
async function configFor(checkpoint: Checkpoint, explicit?: string): Promise<{ where: string; object: Record<string, unknown> } | null> {
  if (explicit !== undefined) return { where: explicit, object: await readConfigObject(explicit) };
  for (const [key, value] of Object.entries(checkpoint.configs ?? {})) {
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return { where: `${checkpoint.path}#${key}`, object: value as Record<string, unknown> };
  }
  const found = await findConfigFile(checkpoint.path);
  if (!found) return null;
  try {
    return { where: found, object: await readConfigObject(found) };
  } catch {
    return null;
  }
}

/** Opens a checkpoint (headers only) and drafts its description. */
export async function draftArchitecture(checkpointPath: string, params: { config?: string } = {}): Promise<ArchitectureDraft> {
  const checkpoint = await openCheckpoint(checkpointPath);
  try {
    const config = await configFor(checkpoint, params.config);
    return draftFromTensors(checkpoint.path, checkpoint.tensors, { fileOrder: checkpoint.format === 'torch-zip' || checkpoint.format === 'torch-legacy', config });
  } finally {
    await checkpoint.close();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await fs.stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * `describe-arch`: drafts the description and writes it to `out` (default: grassmann-lens.arch.json
 * beside the checkpoint); an existing file is kept unless `force`.
 */
export async function describeArchitecture(checkpointPath: string, params: { out?: string; force?: boolean; config?: string } = {}): Promise<DescribeArchReport> {
  const out = params.out ?? (await architectureFileBeside(checkpointPath));
  if (!params.force && (await exists(out))) {
    throw new InputError(out, 'already exists: pass --force to overwrite it, or --out to write elsewhere');
  }
  const draft = await draftArchitecture(checkpointPath, { config: params.config });
  try {
    await fs.writeFile(out, architectureFileText(draft.file));
  } catch (e) {
    throw new InputError(out, `cannot write (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return { ...draft, out };
}
