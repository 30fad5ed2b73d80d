/**
 * Finding the model's state dict inside whatever a training script passed to torch.save.
 *
 * Common shapes: the state dict itself (`torch.save(model.state_dict())`), or a dict with the
 * state dict under `model_state_dict` / `state_dict` / `model` / `module` next to training
 * bookkeeping (`epoch`, `val_loss`, `optimizer_state_dict`, ...). Names may carry the prefix that
 * nn.DataParallel (`module.`) or torch.compile (`_orig_mod.`) adds. This module only looks at the
 * unpickled value tree, so it works for any container format and can be tested with plain data.
 *
 * The tree is untrusted (and may share or even contain itself, as Python values can), so nothing
 * here walks it without a bound: the wrapper search is MAX_WRAPPER_DEPTH deep, configs are cut at
 * MAX_CONFIG_DEPTH / MAX_CONFIG_ENTRIES, keys are named without String() (which recurses into a
 * list), warnings about skipped entries stop at MAX_ENTRY_WARNINGS, and keys only ever land in
 * Maps, null-prototype objects or own data properties, never on a prototype.
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

/** Warnings about skipped entries listed one by one; the rest are counted in one more. */
export const MAX_ENTRY_WARNINGS = 20;

/** Wrapper prefixes stripped at most this many times (a compiled DataParallel model needs 2). */
const MAX_PREFIX_STRIPS = 8;

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
  /** What was left out as expected (optimizer state): worth knowing, not a warning. */
  notes: string[];
}

/** A dict in the value tree: a Map from the unpickler, or a plain object (tests, JSON). */
type DictLike = Map<unknown, unknown> | Record<string, unknown>;

function isDictLike(v: unknown): v is DictLike {
  if (v instanceof Map) return true;
  if (v === null || typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

function entriesOf(d: DictLike): Iterable<[unknown, unknown]> {
  return d instanceof Map ? d.entries() : Object.entries(d);
}

/** A dict key as a name: strings as they are, numbers and the like as text, others by type. */
function keyName(k: unknown): string {
  if (typeof k === 'string') return k;
  if (typeof k === 'number' || typeof k === 'bigint') return String(k);
  if (typeof k === 'boolean' || k === null) return k === null ? 'None' : k ? 'True' : 'False';
  return `<${describeValue(k)} key>`;
}

/** Sets `obj[key]` as an own data property, so even '__proto__' cannot reach the prototype. */
function setOwn<V>(obj: Record<string, V>, key: string, value: V): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Collects warnings, listing the first MAX_ENTRY_WARNINGS of a kind and counting the rest. */
class EntryWarnings {
  private count = 0;
  constructor(
    private readonly out: string[],
    private readonly summary: (more: number) => string,
  ) {}

  add(message: string): void {
    if (this.count++ < MAX_ENTRY_WARNINGS) this.out.push(message);
  }

  finish(): void {
    if (this.count > MAX_ENTRY_WARNINGS) this.out.push(this.summary(this.count - MAX_ENTRY_WARNINGS));
  }
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
  const notes: string[] = [];
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
    if (depth === 0) collectTopLevel(root, key, metadata, configs, warnings, notes);
    stateKeys.push(key);
    stateDict = getEntry(current, key) as DictLike;
    path += `${path ? '.' : ''}${key}`;
  }

  const tensorCount = countTensors(stateDict, isTensor);
  if (tensorCount === 0) {
    const keys: string[] = [];
    for (const [k] of entriesOf(root)) {
      if (keys.length === 12) break;
      keys.push(keyName(k));
    }
    const where = path ? `under '${path}'` : 'at the top level';
    throw new InputError(file, `no state dict found: no tensors ${where}, and no ${STATE_DICT_KEYS.join('/')} entry holding them (top-level keys: ${keys.join(', ') || 'none'})`);
  }

  // In a bare state dict (no wrapper), scalar entries are the only metadata there is.
  const names: string[] = [];
  const values: T[] = [];
  const skipped = new EntryWarnings(warnings, (more) => `${more} more state dict entries are not tensors: skipped`);
  for (const [k, v] of entriesOf(stateDict)) {
    const name = keyName(k);
    if (isTensor(v)) {
      names.push(name);
      values.push(v);
    } else if (stateDict === root && toScalar(v) !== undefined) {
      setOwn(metadata, name, toScalar(v) as ScalarValue);
    } else {
      skipped.add(`state dict entry '${name}' is a ${describeValue(v)}, not a tensor: skipped`);
    }
  }
  skipped.finish();

  const stripped = stripPrefixes(names);
  warnings.push(...stripped.warnings);
  const tensors = new Map<string, T>();
  stripped.names.forEach((n, i) => tensors.set(n, values[i]));
  return { tensors, metadata, configs, layout: { stateKeys, strippedPrefixes: stripped.strippedPrefixes }, warnings, notes };
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
  if (Array.isArray(v)) return v.slice(0, Math.max(0, budget.entries)).map((x) => plainConfig(x, budget, depth + 1));
  if (v instanceof PickleTuple) return v.items.slice(0, Math.max(0, budget.entries)).map((x) => plainConfig(x, budget, depth + 1));
  if (isDictLike(v)) {
    const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    // Iterated in place (not copied first): a shared dict of millions of entries may be met
    // many times, and each visit must cost only the entries the budget still allows.
    for (const [k, x] of entriesOf(v)) {
      if (budget.entries <= 0) break;
      if (typeof k !== 'string' || k === '__proto__' || k === 'constructor' || k === 'prototype') continue;
      out[k] = plainConfig(x, budget, depth + 1);
    }
    return out;
  }
  return null;
}

/** Top-level entries next to the state dict: scalars become metadata; the rest is skipped. */
function collectTopLevel(root: DictLike, stateKey: string, metadata: Record<string, ScalarValue>, configs: Record<string, unknown>, warnings: string[], notes: string[]): void {
  const ignored = new EntryWarnings(warnings, (more) => `${more} more top-level entries ignored: only the state dict and scalar metadata are read`);
  for (const [k, v] of entriesOf(root)) {
    if (k === stateKey) continue;
    const key = keyName(k);
    const scalar = toScalar(v);
    if (scalar !== undefined) {
      setOwn(metadata, key, scalar);
    } else if (typeof k === 'string' && (CONFIG_KEYS as readonly string[]).includes(k) && isDictLike(v)) {
      configs[k] = plainConfig(v);
    } else if (typeof k === 'string' && (OPTIMIZER_KEYS as readonly string[]).includes(k)) {
      notes.push(`optimizer state skipped ('${key}')`);
    } else if (v !== null) {
      ignored.add(`top-level entry '${key}' (a ${describeValue(v)}) ignored: only the state dict and scalar metadata are read`);
    }
  }
  ignored.finish();
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
 * when every name carries it, repeatedly (a compiled DataParallel model has both; at most
 * MAX_PREFIX_STRIPS times, so a hostile name of a million 'module.'s costs little). A prefix on
 * only some names is left alone: it is then a real submodule name, not a wrapper.
 */
export function stripPrefixes(names: readonly string[]): StrippedNames {
  let current = [...names];
  const strippedPrefixes: string[] = [];
  const warnings: string[] = [];
  while (strippedPrefixes.length < MAX_PREFIX_STRIPS) {
    const prefix = STRIPPED_PREFIXES.find((p) => current.length > 0 && current.every((n) => n.startsWith(p) && n.length > p.length));
    if (prefix === undefined) break;
    current = current.map((n) => n.slice(prefix.length));
    strippedPrefixes.push(prefix);
    const why = prefix === 'module.' ? 'DataParallel/DistributedDataParallel' : 'torch.compile';
    warnings.push(`stripped the '${prefix}' prefix from all tensor names (added by ${why})`);
  }
  return { names: current, strippedPrefixes, warnings };
}
