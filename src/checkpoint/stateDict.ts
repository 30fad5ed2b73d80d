/**
 * Finding the model's state dict inside whatever a training script passed to torch.save.
 *
 * Common shapes: the state dict itself (`torch.save(model.state_dict())`), or a dict with the
 * state dict under `model_state_dict` / `state_dict` / `model` / `module` next to training
 * bookkeeping (`epoch`, `val_loss`, `optimizer_state_dict`, ...). Names may carry the prefix that
 * nn.DataParallel (`module.`) or torch.compile (`_orig_mod.`) adds. This module only looks at the
 * unpickled value tree, so it works for any container format and can be tested with plain data.
 */
import { InputError } from '../util/errors';
import type { ScalarValue } from './types';
import { PickleTuple, TorchTensor, typeName, type PickleValue } from './unpickler';

/** Keys under which checkpoints commonly nest the state dict, in order of preference. */
export const STATE_DICT_KEYS = ['model_state_dict', 'state_dict', 'model', 'module'] as const;

/** Keys holding optimizer state: skipped (its storages are never read). */
export const OPTIMIZER_KEYS = ['optimizer_state_dict', 'optimizer'] as const;

/** Wrapper prefixes stripped when every tensor name carries them. */
export const STRIPPED_PREFIXES = ['module.', '_orig_mod.'] as const;

/** Top-level keys under which training scripts save the model's hyper-parameters. */
export const CONFIG_KEYS = ['config', 'cfg', 'args', 'hparams', 'hyper_parameters', 'model_config'] as const;

/** Bounds on a saved config turned into plain values: nesting depth and entries in all. */
export const MAX_CONFIG_DEPTH = 8;
export const MAX_CONFIG_ENTRIES = 10000;

/** How deep wrappers may nest ({'state_dict': {'model': {...}}}); bounds the search. */
const MAX_WRAPPER_DEPTH = 4;

export interface ExtractedStateDict<T> {
  /** Tensors by (prefix-stripped) name, in file order. */
  tensors: Map<string, T>;
  /** Scalar entries of the top-level dict (epoch, val_loss, ...). */
  metadata: Record<string, ScalarValue>;
  /** Config dicts saved next to the state dict (CONFIG_KEYS), as plain JSON-like values. */
  configs: Record<string, unknown>;
  /** Where the state dict sat: the wrapper keys walked down ('' = top level) and prefixes stripped. */
  layout: { stateKeys: string[]; strippedPrefixes: string[] };
  warnings: string[];
}

/** A dict in the value tree: a Map from the unpickler, or a plain object (tests, JSON). */
type DictLike = Map<unknown, unknown> | Record<string, unknown>;

function isDictLike(v: unknown): v is DictLike {
  if (v instanceof Map) return true;
  if (v === null || typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

function entriesOf(d: DictLike): [unknown, unknown][] {
  return d instanceof Map ? [...d.entries()] : Object.entries(d);
}

function getEntry(d: DictLike, key: string): unknown {
  return d instanceof Map ? d.get(key) : Object.prototype.hasOwnProperty.call(d, key) ? d[key] : undefined;
}

function isTorchTensor(v: unknown): v is TorchTensor {
  return v instanceof TorchTensor;
}

function countTensors(d: DictLike, isTensor: (v: unknown) => boolean): number {
  let n = 0;
  for (const [, v] of entriesOf(d)) if (isTensor(v)) n++;
  return n;
}

/** A scalar for Checkpoint.metadata, or undefined for anything else (None included). */
function toScalar(v: unknown): ScalarValue | undefined {
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return v;
  // Python ints beyond 2^53 arrive as bigint: keep them exact as text.
  if (typeof v === 'bigint') return v.toString();
  return undefined;
}

function describeValue(v: unknown): string {
  if (v === undefined) return 'missing';
  if (isDictLike(v) && !(v instanceof Map)) return 'dict';
  return typeName(v as PickleValue);
}

/**
 * Finds the state dict in `root` (see the module comment). `file` names the checkpoint in errors.
 * `isTensor` says what a tensor is; by default the unpickler's TorchTensor, so callers with other
 * leaf types (or plain test objects) can reuse the logic.
 */
export function extractStateDict<T = TorchTensor>(
  file: string,
  root: unknown,
  isTensor: (v: unknown) => v is T = isTorchTensor as unknown as (v: unknown) => v is T,
): ExtractedStateDict<T> {
  const warnings: string[] = [];
  const metadata: Record<string, ScalarValue> = {};
  const configs: Record<string, unknown> = {};
  const stateKeys: string[] = [];
  if (!isDictLike(root)) {
    throw new InputError(file, `the checkpoint holds a ${describeValue(root)}, not a dict of tensors (a state dict)`);
  }

  // Walk down through wrapper keys until reaching a dict that directly holds tensors.
  let stateDict: DictLike = root;
  let path = '';
  for (let depth = 0; depth < MAX_WRAPPER_DEPTH && countTensors(stateDict, isTensor) === 0; depth++) {
    const current: DictLike = stateDict;
    const key = STATE_DICT_KEYS.find((k) => isDictLike(getEntry(current, k)));
    if (key === undefined) break;
    // Bookkeeping scalars only come from the top level: nested wrappers rarely have any, and
    // the top level is what the training script chose to record.
    if (depth === 0) collectTopLevel(root, key, metadata, configs, warnings);
    stateKeys.push(key);
    stateDict = getEntry(current, key) as DictLike;
    path += `${path ? '.' : ''}${key}`;
  }

  const tensorCount = countTensors(stateDict, isTensor);
  if (tensorCount === 0) {
    const keys = entriesOf(root).map(([k]) => String(k)).slice(0, 12);
    const where = path ? `under '${path}'` : 'at the top level';
    throw new InputError(file, `no state dict found: no tensors ${where}, and no ${STATE_DICT_KEYS.join('/')} entry holding them (top-level keys: ${keys.join(', ') || 'none'})`);
  }

  // In a bare state dict (no wrapper), scalar entries are the only metadata there is.
  const names: string[] = [];
  const values: T[] = [];
  for (const [k, v] of entriesOf(stateDict)) {
    const name = String(k);
    if (isTensor(v)) {
      names.push(name);
      values.push(v);
    } else if (stateDict === root && toScalar(v) !== undefined) {
      metadata[name] = toScalar(v) as ScalarValue;
    } else {
      warnings.push(`state dict entry '${name}' is a ${describeValue(v)}, not a tensor: skipped`);
    }
  }

  const stripped = stripPrefixes(names);
  warnings.push(...stripped.warnings);
  const tensors = new Map<string, T>();
  stripped.names.forEach((n, i) => tensors.set(n, values[i]));
  return { tensors, metadata, configs, layout: { stateKeys, strippedPrefixes: stripped.strippedPrefixes }, warnings };
}

/**
 * A saved config as plain values: dicts become objects (string keys only; `__proto__` and the
 * like are dropped so no key reaches a prototype), lists and tuples arrays, scalars themselves;
 * anything else (tensors, objects) null. Bounded by MAX_CONFIG_DEPTH and MAX_CONFIG_ENTRIES:
 * beyond them, null.
 */
export function plainConfig(v: unknown, budget = { entries: MAX_CONFIG_ENTRIES }, depth = 0): unknown {
  if (budget.entries-- <= 0 || depth > MAX_CONFIG_DEPTH) return null;
  const scalar = toScalar(v);
  if (scalar !== undefined) return scalar;
  if (Array.isArray(v)) return v.slice(0, budget.entries).map((x) => plainConfig(x, budget, depth + 1));
  if (v instanceof PickleTuple) return v.items.slice(0, budget.entries).map((x) => plainConfig(x, budget, depth + 1));
  if (isDictLike(v)) {
    const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    for (const [k, x] of entriesOf(v)) {
      if (typeof k !== 'string' || k === '__proto__' || k === 'constructor' || k === 'prototype') continue;
      if (budget.entries <= 0) break;
      out[k] = plainConfig(x, budget, depth + 1);
    }
    return out;
  }
  return null;
}

/** Top-level entries next to the state dict: scalars become metadata; the rest is skipped. */
function collectTopLevel(root: DictLike, stateKey: string, metadata: Record<string, ScalarValue>, configs: Record<string, unknown>, warnings: string[]): void {
  for (const [k, v] of entriesOf(root)) {
    const key = String(k);
    if (key === stateKey) continue;
    const scalar = toScalar(v);
    if (scalar !== undefined) {
      metadata[key] = scalar;
    } else if ((CONFIG_KEYS as readonly string[]).includes(key) && isDictLike(v)) {
      configs[key] = plainConfig(v);
    } else if ((OPTIMIZER_KEYS as readonly string[]).includes(key)) {
      warnings.push(`optimizer state skipped ('${key}')`);
    } else if (v !== null) {
      warnings.push(`top-level entry '${key}' (a ${describeValue(v)}) ignored: only the state dict and scalar metadata are read`);
    }
  }
}

export interface StrippedNames {
  /** The names with the common wrapper prefixes removed (same order). */
  names: string[];
  /** The prefixes removed, outermost first (e.g. ['module.']). */
  strippedPrefixes: string[];
  /** One warning per stripped prefix, for Checkpoint.warnings. */
  warnings: string[];
}

/**
 * Removes `module.` (nn.DataParallel / DistributedDataParallel) and `_orig_mod.` (torch.compile)
 * when every name carries it, repeatedly (a compiled DataParallel model has both). A prefix on
 * only some names is left alone: it is then a real submodule name, not a wrapper.
 */
export function stripPrefixes(names: readonly string[]): StrippedNames {
  let current = [...names];
  const strippedPrefixes: string[] = [];
  const warnings: string[] = [];
  for (;;) {
    const prefix = STRIPPED_PREFIXES.find((p) => current.length > 0 && current.every((n) => n.startsWith(p) && n.length > p.length));
    if (prefix === undefined) break;
    current = current.map((n) => n.slice(prefix.length));
    strippedPrefixes.push(prefix);
    const why = prefix === 'module.' ? 'DataParallel/DistributedDataParallel' : 'torch.compile';
    warnings.push(`stripped the '${prefix}' prefix from all tensor names (added by ${why})`);
  }
  return { names: current, strippedPrefixes, warnings };
}
