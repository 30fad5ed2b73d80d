/**
 * A restricted pickle virtual machine for PyTorch checkpoints.
 *
 * Python's pickle format is a small stack language whose GLOBAL/REDUCE opcodes import and call
 * arbitrary functions, which is why loading an untrusted .pt with a normal unpickler can run
 * `os.system`. This VM never imports or calls anything: a global is resolved against a fixed
 * allow-list modelled on `torch.load(weights_only=True)` at the moment the pickle names it, and
 * any other global is refused right there, before the value could be used. The few allow-listed
 * callables (tensor/parameter rebuilders, OrderedDict, torch.Size, ...) are re-implemented here
 * and only build plain data: tensors become `TorchTensor` descriptions that point at storages,
 * and storages are `TorchStorage` descriptions (key, dtype, element count) whose bytes stay in
 * the checkpoint file.
 *
 * Resource bounds. The VM is a loop over opcodes (no recursion), every length field is checked
 * against the bytes that remain, and each unpickle runs under a budget (UNPICKLE_LIMITS; a
 * budget that is exceeded is an InputError naming the file and the budget, at the opcode that
 * passed it). A pickle's opcodes cost at least one byte each, so most budgets follow from its
 * size; what they stop is amplification, where an allow-listed callable copies a big value
 * (OrderedDict(d), set(l), _codecs.encode(s), torch.Size(t)) or the memo/DUP share one value
 * many times. A real checkpoint's pickle is small (its tensors live in storages: a 1B-parameter
 * model's state dict pickles to ~100 KB) and builds a few bytes of values per pickle byte, so
 * budgets proportional to the pickle with a generous floor never refuse one.
 *   maxOpcodes 64 Mi               opcodes executed (time): torch.save pickles run ~0.25-0.35
 *                                  per byte (a 12k-tensor legacy pickle of 1.6 MB: 372k).
 *   allocBytes 48 x pickle bytes,  estimated bytes of values built (8 per container element,
 *     at least 64 MiB, at most     32 per dict entry, 2 per string character, 1 per bytes byte,
 *     768 MiB                      48 per object, 16 per memo entry). torch.save pickles build
 *                                  7-9x their size (the fixtures; 2x for one big string), so a
 *                                  real pickle meets the cap only past ~85 MB (~600k tensors);
 *                                  the cap keeps a hostile one under ~1.2 GB of real memory.
 *   totalElements 4 x pickle       container elements created or copied, in all (real pickles
 *     bytes, at least 8 Mi,        hold ~0.2 per byte: elements come from opcodes, copies from
 *     at most 96 Mi                OrderedDict/set/torch.Size calls).
 *   maxContainerElements 8 Mi      elements of one list/tuple/dict/set (a V8 Map holds < 16.8M).
 *   maxMemoEntries 8 Mi            memo slots (a Map too; a real pickle has < one per 2 bytes).
 *   maxStringBytes 128 MiB         one string or bytes literal.
 *   maxNesting 1000                containers inside containers: CPython's pickler cannot write
 *                                  deeper under its default recursion limit; callers may recurse.
 *   maxExpandedValues 64 Mi        values the result holds once shared (memo/DUP) sub-values are
 *                                  counted at every place they occur: what a walk of it visits.
 * Nesting and expanded size are checked on the result at STOP by an iterative walk (values may be
 * built out of order through the memo, and may even be cyclic, as in Python: a cycle is counted
 * once, so code that walks a result must still bound its own walk). Integer literals are capped
 * at MAX_LONG_BYTES. Dicts are Maps, so no key ever reaches an object prototype.
 */
import { InputError } from '../util/errors';
import type { DType } from './types';

// ---------------------------------------------------------------------------------------------
// Value model
// ---------------------------------------------------------------------------------------------

/** Python values as plain data. Lists are JS arrays; dicts (and OrderedDicts) are Maps. */
export type PickleValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PickleValue[]
  | PickleTuple
  | Map<PickleValue, PickleValue>
  | PickleSet
  | PickleComplex
  | PickleGlobal
  | TorchStorage
  | TorchTensor;

/** A Python tuple (kept distinct from lists so shapes and persistent ids are recognisable). */
export class PickleTuple {
  constructor(readonly items: readonly PickleValue[]) {}
}

/** A Python set or frozenset. */
export class PickleSet {
  constructor(
    readonly items: PickleValue[],
    readonly frozen: boolean,
  ) {}
}

export class PickleComplex {
  constructor(
    readonly re: number,
    readonly im: number,
  ) {}
}

/**
 * An allow-listed global that is used as a value rather than called: a storage type
 * (torch.FloatStorage), a dtype (torch.float32) or a type marker (torch.Tensor).
 */
export class PickleGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}

  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

export type TorchDtypeName =
  | 'float64' | 'float32' | 'float16' | 'bfloat16'
  | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool'
  | 'complex64' | 'complex128';

/** The torch dtypes Grassmann Lens can read, as checkpoint dtypes; complex ones have none. */
export const TORCH_DTYPES: Readonly<Record<TorchDtypeName, DType | undefined>> = {
  float64: 'F64', float32: 'F32', float16: 'F16', bfloat16: 'BF16',
  int64: 'I64', int32: 'I32', int16: 'I16', int8: 'I8', uint8: 'U8', bool: 'BOOL',
  complex64: undefined, complex128: undefined,
};

export const TORCH_DTYPE_SIZE: Readonly<Record<TorchDtypeName, number>> = {
  float64: 8, float32: 4, float16: 2, bfloat16: 2,
  int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1,
  complex64: 8, complex128: 16,
};

/**
 * A storage referenced by a persistent id ('storage', type, key, location, numel). The bytes
 * live elsewhere in the checkpoint (zip entry `data/<key>`, or the tail of a legacy file).
 * Every reference to one key yields the same object, which is how tied weights show up.
 */
export class TorchStorage {
  constructor(
    readonly key: string,
    readonly dtype: TorchDtypeName,
    /** Size in elements of `dtype`. */
    readonly numel: number,
    readonly location: string,
  ) {}
}

/** A tensor: a strided view of a storage (nothing is read until the caller asks). */
export class TorchTensor {
  constructor(
    readonly storage: TorchStorage,
    /** Offset of element [0,...,0] from the start of the storage, in elements. */
    readonly storageOffset: number,
    readonly shape: readonly number[],
    readonly stride: readonly number[],
    readonly requiresGrad: boolean,
    /** True when it was saved as an nn.Parameter. */
    readonly isParameter: boolean,
  ) {}
}

export interface UnpickleResult {
  /** The object the pickle produced. */
  value: PickleValue;
  /** Offset just past the STOP opcode (legacy checkpoints hold several pickles back to back). */
  end: number;
  /** Every storage referenced by a persistent id, by key, in first-reference order. */
  storages: Map<string, TorchStorage>;
  /** What this pickle used of its budgets (UNPICKLE_LIMITS). */
  usage: UnpickleUsage;
}

export interface UnpickleUsage {
  opcodes: number;
  /** Estimated bytes of values built, and the budget for this pickle. */
  allocBytes: number;
  allocBudget: number;
  elements: number;
  elementBudget: number;
  memoEntries: number;
  /** Deepest nesting and expanded size of the result. */
  nesting: number;
  expandedValues: number;
}

/**
 * Thrown when the data ends before STOP. A caller that only handed over a prefix of a file can
 * catch it, read more and retry; for a complete file it is the final, user-facing error.
 */
export class PickleTruncatedError extends InputError {}

// ---------------------------------------------------------------------------------------------
// Allow-list
// ---------------------------------------------------------------------------------------------

type Callable = (args: readonly PickleValue[], vm: VmContext) => PickleValue;

interface VmContext {
  file: string;
  fail(problem: string): never;
  /** Charges `elements` container elements and `bytes` estimated bytes to the budget. */
  alloc(elements: number, bytes: number): void;
}

/** Estimated bytes per thing built, for the allocation budget (see the module comment). */
const COST_ELEMENT = 8;
const COST_DICT_ENTRY = 32;
const COST_OBJECT = 48;
const COST_MEMO_ENTRY = 16;

/** Storage classes of torch.save persistent ids -> their element dtype. */
const STORAGE_TYPES: Readonly<Record<string, TorchDtypeName>> = {
  'torch.DoubleStorage': 'float64',
  'torch.FloatStorage': 'float32',
  'torch.HalfStorage': 'float16',
  'torch.BFloat16Storage': 'bfloat16',
  'torch.LongStorage': 'int64',
  'torch.IntStorage': 'int32',
  'torch.ShortStorage': 'int16',
  'torch.CharStorage': 'int8',
  'torch.ByteStorage': 'uint8',
  'torch.BoolStorage': 'bool',
  'torch.ComplexFloatStorage': 'complex64',
  'torch.ComplexDoubleStorage': 'complex128',
  // Untyped storages are bytes.
  'torch.UntypedStorage': 'uint8',
  'torch.storage.UntypedStorage': 'uint8',
};

/** torch.<name> dtype globals (pickled by name: `torch.float32.__reduce__()` is 'float32'). */
const DTYPE_GLOBALS: Readonly<Record<string, TorchDtypeName>> = {
  float64: 'float64', double: 'float64',
  float32: 'float32', float: 'float32',
  float16: 'float16', half: 'float16',
  bfloat16: 'bfloat16',
  int64: 'int64', long: 'int64',
  int32: 'int32', int: 'int32',
  int16: 'int16', short: 'int16',
  int8: 'int8', uint8: 'uint8', bool: 'bool',
  complex64: 'complex64', cfloat: 'complex64',
  complex128: 'complex128', cdouble: 'complex128',
};

/** Allowed globals that are only ever values (never called). */
const VALUE_GLOBALS = new Set<string>([
  ...Object.keys(STORAGE_TYPES),
  'torch.storage.TypedStorage',
  'torch.TypedStorage',
  ...Object.keys(DTYPE_GLOBALS).map((n) => `torch.${n}`),
  // Type markers passed to _rebuild_from_type_v2 for plain tensors and parameters.
  'torch.Tensor',
  'torch._tensor.Tensor',
  'torch.nn.parameter.Parameter',
]);

const CALLABLE_GLOBALS: ReadonlyMap<string, Callable> = new Map<string, Callable>([
  ['collections.OrderedDict', callOrderedDict],
  ['torch._utils._rebuild_tensor_v2', (a, vm) => rebuildTensor(a, vm, 'torch._utils._rebuild_tensor_v2')],
  ['torch._utils._rebuild_tensor', (a, vm) => rebuildTensor(a, vm, 'torch._utils._rebuild_tensor')],
  ['torch._utils._rebuild_parameter', rebuildParameter],
  ['torch._utils._rebuild_parameter_with_state', rebuildParameter],
  ['torch._tensor._rebuild_from_type_v2', rebuildFromType],
  ['torch.Size', callTorchSize],
  ['torch.device', callTorchDevice],
  ['builtins.set', (a, vm) => callSet(a, vm, false)],
  ['builtins.frozenset', (a, vm) => callSet(a, vm, true)],
  ['builtins.complex', callComplex],
  ['_codecs.encode', callCodecsEncode],
]);

/** Python 2 module names that pickle maps to their Python 3 homes (fix_imports). */
const PY2_MODULES: Readonly<Record<string, string>> = { __builtin__: 'builtins', copy_reg: 'copyreg' };

function refusedMessage(qualified: string): string {
  return `refused to load: the pickle references the global '${cut(qualified)}', which is not on the allow-list of safe types (nothing was executed)`;
}

function resolveGlobal(vm: VmContext, module: string, name: string): PickleGlobal {
  const mod = Object.prototype.hasOwnProperty.call(PY2_MODULES, module) ? PY2_MODULES[module] : module;
  const qualified = `${mod}.${name}`;
  if (!VALUE_GLOBALS.has(qualified) && !CALLABLE_GLOBALS.has(qualified)) vm.fail(refusedMessage(qualified));
  vm.alloc(0, COST_OBJECT);
  return new PickleGlobal(mod, name);
}

function callGlobal(vm: VmContext, fn: PickleValue, args: readonly PickleValue[]): PickleValue {
  if (!(fn instanceof PickleGlobal)) vm.fail(`pickle tries to call a ${typeName(fn)}, which is not callable`);
  const impl = CALLABLE_GLOBALS.get(fn.qualifiedName);
  if (!impl) vm.fail(`refused to load: the pickle calls '${fn.qualifiedName}', which is allowed only as a value (nothing was executed)`);
  return impl(args, vm);
}

function callOrderedDict(args: readonly PickleValue[], vm: VmContext): PickleValue {
  const d = new Map<PickleValue, PickleValue>();
  vm.alloc(0, COST_OBJECT);
  if (args.length === 0) return d;
  // OrderedDict(iterable of pairs) or OrderedDict(mapping): a copy, charged before it is made.
  const src = args[0];
  if (src instanceof Map) {
    vm.alloc(src.size, src.size * COST_DICT_ENTRY);
    for (const [k, v] of src) d.set(k, v);
    return d;
  }
  const pairs = sequenceItems(src, vm, 'OrderedDict argument');
  vm.alloc(pairs.length, pairs.length * COST_DICT_ENTRY);
  for (const pair of pairs) {
    const kv = sequenceItems(pair, vm, 'OrderedDict item');
    if (kv.length !== 2) vm.fail('OrderedDict item is not a (key, value) pair');
    d.set(kv[0], kv[1]);
  }
  return d;
}

function rebuildTensor(args: readonly PickleValue[], vm: VmContext, fn: string): PickleValue {
  // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
  // _rebuild_tensor(storage, storage_offset, size, stride)
  if (args.length < 4) vm.fail(`${fn} called with ${args.length} arguments, expected at least 4`);
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof TorchStorage)) vm.fail(`${fn}: first argument is a ${typeName(storage)}, expected a storage`);
  const shape = intTuple(size, vm, `${fn}: size`);
  const strides = intTuple(stride, vm, `${fn}: stride`);
  if (shape.length !== strides.length) vm.fail(`${fn}: size has ${shape.length} dimensions but stride has ${strides.length}`);
  const off = nonNegativeInt(offset, vm, `${fn}: storage offset`);
  const requiresGrad = args.length > 4 && args[4] === true;
  vm.alloc(0, COST_OBJECT);
  return new TorchTensor(storage, off, shape, strides, requiresGrad, false);
}

function rebuildParameter(args: readonly PickleValue[], vm: VmContext): PickleValue {
  // _rebuild_parameter(data, requires_grad, backward_hooks[, state])
  const data = args[0];
  if (!(data instanceof TorchTensor)) vm.fail(`_rebuild_parameter: data is a ${typeName(data)}, expected a tensor`);
  vm.alloc(0, COST_OBJECT);
  return new TorchTensor(data.storage, data.storageOffset, data.shape, data.stride, args[1] === true, true);
}

function rebuildFromType(args: readonly PickleValue[], vm: VmContext): PickleValue {
  // _rebuild_from_type_v2(func, new_type, args, state): tensors with Python attributes. Like
  // weights_only, accept it only for plain tensors and parameters; the attributes are dropped.
  const [func, newType, inner] = args;
  if (!(newType instanceof PickleGlobal) || !['torch.Tensor', 'torch._tensor.Tensor', 'torch.nn.parameter.Parameter'].includes(newType.qualifiedName)) {
    vm.fail(`refused to load: _rebuild_from_type_v2 rebuilds a ${newType instanceof PickleGlobal ? `'${newType.qualifiedName}'` : typeName(newType)}, which is not a plain tensor type (nothing was executed)`);
  }
  const result = callGlobal(vm, func, sequenceItems(inner, vm, '_rebuild_from_type_v2 args'));
  if (result instanceof TorchTensor && newType.name === 'Parameter') {
    vm.alloc(0, COST_OBJECT);
    return new TorchTensor(result.storage, result.storageOffset, result.shape, result.stride, result.requiresGrad, true);
  }
  return result;
}

function callTorchSize(args: readonly PickleValue[], vm: VmContext): PickleValue {
  vm.alloc(0, COST_OBJECT);
  return new PickleTuple(args.length === 0 ? [] : intTuple(args[0], vm, 'torch.Size'));
}

function callTorchDevice(args: readonly PickleValue[], vm: VmContext): PickleValue {
  const [kind, index] = args;
  if (typeof kind !== 'string') vm.fail('torch.device argument is not a string');
  vm.alloc(0, 2 * kind.length + COST_OBJECT);
  return typeof index === 'number' ? `${kind}:${index}` : kind;
}

function callSet(args: readonly PickleValue[], vm: VmContext, frozen: boolean): PickleValue {
  const items = args.length === 0 ? [] : sequenceItems(args[0], vm, 'set argument');
  // A copy, charged before it is made.
  vm.alloc(items.length, items.length * COST_ELEMENT + COST_OBJECT);
  return new PickleSet(items.slice(), frozen);
}

function callComplex(args: readonly PickleValue[], vm: VmContext): PickleValue {
  const [re = 0, im = 0] = args;
  if (typeof re !== 'number' || typeof im !== 'number') vm.fail('complex() arguments are not numbers');
  vm.alloc(0, COST_OBJECT);
  return new PickleComplex(re, im);
}

/** Protocol-2 pickles written by Python 3 encode bytes as `_codecs.encode(str, 'latin1')`. */
function callCodecsEncode(args: readonly PickleValue[], vm: VmContext): PickleValue {
  const [text, encoding = 'utf-8'] = args;
  if (typeof text !== 'string' || typeof encoding !== 'string') vm.fail('_codecs.encode arguments are not strings');
  const enc = encoding.toLowerCase().replace(/_/g, '-');
  // A new bytes value as long as the text (3x for UTF-8 at most), charged before it is made.
  vm.alloc(0, (enc.startsWith('utf') ? 3 : 1) * text.length + COST_OBJECT);
  if (enc === 'latin1' || enc === 'latin-1' || enc === 'iso-8859-1') {
    const out = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c > 0xff) vm.fail('_codecs.encode: latin-1 text holds a character above U+00FF');
      out[i] = c;
    }
    return out;
  }
  if (enc === 'utf-8' || enc === 'utf8' || enc === 'ascii') return new TextEncoder().encode(text);
  vm.fail(`_codecs.encode with unsupported encoding '${encoding}'`);
}

// ---------------------------------------------------------------------------------------------
// Helpers on values
// ---------------------------------------------------------------------------------------------

export function typeName(v: PickleValue | undefined): string {
  if (v === undefined) return 'missing value';
  if (v === null) return 'None';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (typeof v === 'bigint') return 'int';
  if (typeof v === 'string') return 'str';
  if (v instanceof Uint8Array) return 'bytes';
  if (Array.isArray(v)) return 'list';
  if (v instanceof PickleTuple) return 'tuple';
  if (v instanceof Map) return 'dict';
  if (v instanceof PickleSet) return v.frozen ? 'frozenset' : 'set';
  if (v instanceof PickleComplex) return 'complex';
  if (v instanceof PickleGlobal) return v.qualifiedName;
  if (v instanceof TorchStorage) return 'storage';
  return 'tensor';
}

function sequenceItems(v: PickleValue | undefined, vm: VmContext, what: string): readonly PickleValue[] {
  if (Array.isArray(v)) return v;
  if (v instanceof PickleTuple) return v.items;
  if (v instanceof PickleSet) return v.items;
  return vm.fail(`${what} is a ${typeName(v)}, expected a list or tuple`);
}

function nonNegativeInt(v: PickleValue | undefined, vm: VmContext, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) vm.fail(`${what} is ${describe(v)}, expected a non-negative integer`);
  return v;
}

function intTuple(v: PickleValue | undefined, vm: VmContext, what: string): number[] {
  const items = sequenceItems(v, vm, what);
  vm.alloc(items.length, items.length * COST_ELEMENT + COST_OBJECT);
  return items.map((x, i) => nonNegativeInt(x, vm, `${what}[${i}]`));
}

/** Untrusted text for a message, cut to `n` characters (the output layer escapes it). */
function cut(s: string, n = 200): string {
  return s.length > n ? `${s.slice(0, n)}...` : s;
}

/**
 * A value for a message without walking it: strings (cut to 60 characters) and numbers as
 * Python writes them, anything else as its type. Never String(v): on a list that joins (and
 * recurses into) every element.
 */
export function shortText(v: PickleValue | undefined): string {
  if (typeof v === 'string') return `'${v.length > 60 ? `${v.slice(0, 60)}...` : v}'`;
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  return `a ${typeName(v)}`;
}

function describe(v: PickleValue | undefined): string {
  return typeof v === 'number' || typeof v === 'bigint' ? String(v) : `a ${typeName(v)}`;
}

// ---------------------------------------------------------------------------------------------
// The VM
// ---------------------------------------------------------------------------------------------

/** Integer literals longer than this many bytes are refused (no checkpoint needs them). */
const MAX_LONG_BYTES = 1024;
const HIGHEST_PROTOCOL = 5;

const utf8 = new TextDecoder('utf-8');
const latin1 = new TextDecoder('latin1');

/** The budgets of one unpickle (see the module comment for why each value). */
export interface UnpickleLimits {
  maxOpcodes: number;
  /** Allocation budget: `allocBytesPerByte` x the pickle's bytes, within [floor, cap]. */
  allocBytesPerByte: number;
  allocBytesFloor: number;
  allocBytesCap: number;
  /** Elements created or copied in all: per byte, within [floor, cap]. */
  totalElementsPerByte: number;
  totalElementsFloor: number;
  totalElementsCap: number;
  maxContainerElements: number;
  maxMemoEntries: number;
  maxStringBytes: number;
  maxNesting: number;
  maxExpandedValues: number;
}

const MiB = 1024 * 1024;
const Mi = 1024 * 1024;

function mib(bytes: number): string {
  return bytes % MiB === 0 ? `${bytes / MiB} MiB` : `${bytes} bytes`;
}

export const UNPICKLE_LIMITS: Readonly<UnpickleLimits> = Object.freeze({
  maxOpcodes: 64 * Mi,
  allocBytesPerByte: 48,
  allocBytesFloor: 64 * MiB,
  allocBytesCap: 768 * MiB,
  totalElementsPerByte: 4,
  totalElementsFloor: 8 * Mi,
  totalElementsCap: 96 * Mi,
  maxContainerElements: 8 * Mi,
  maxMemoEntries: 8 * Mi,
  maxStringBytes: 128 * MiB,
  maxNesting: 1000,
  maxExpandedValues: 64 * Mi,
});

/** The budgets for a pickle of `pickleBytes` bytes (the relative ones resolved). */
export function unpickleBudget(pickleBytes: number, limits: Readonly<UnpickleLimits> = UNPICKLE_LIMITS): { allocBytes: number; totalElements: number } {
  const within = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));
  return {
    allocBytes: within(limits.allocBytesPerByte * pickleBytes, limits.allocBytesFloor, limits.allocBytesCap),
    totalElements: within(limits.totalElementsPerByte * pickleBytes, limits.totalElementsFloor, limits.totalElementsCap),
  };
}

export interface UnpickleOptions {
  /** Overrides of UNPICKLE_LIMITS (tests). */
  limits?: Partial<UnpickleLimits>;
}

/**
 * Runs the pickle that starts at `start` in `data`, up to its STOP opcode, within the budgets of
 * UNPICKLE_LIMITS (relative ones taken against the bytes from `start` to the end of `data`).
 * Errors are InputErrors naming `file` (PickleTruncatedError when the data ends first).
 */
export function unpickle(file: string, data: Uint8Array, start = 0, options: UnpickleOptions = {}): UnpickleResult {
  return new Vm(file, data, start, { ...UNPICKLE_LIMITS, ...options.limits }).run();
}

/** Whether `v` is a value that holds other values (so nesting and sharing apply to it). */
function isContainer(v: PickleValue): v is PickleValue[] | PickleTuple | Map<PickleValue, PickleValue> | PickleSet {
  return Array.isArray(v) || v instanceof PickleTuple || v instanceof Map || v instanceof PickleSet;
}

function containerSize(v: PickleValue[] | PickleTuple | Map<PickleValue, PickleValue> | PickleSet): number {
  if (Array.isArray(v)) return v.length;
  if (v instanceof Map) return v.size;
  return v.items.length;
}

/** A frame of the result walk: a container and a cursor over its children. */
interface WalkFrame {
  node: object;
  items: readonly PickleValue[] | null;
  index: number;
  entries: Iterator<[PickleValue, PickleValue]> | null;
  pendingValue: PickleValue | undefined;
  hasPending: boolean;
  /** Height below this node so far, and values in its expansion so far (itself included). */
  height: number;
  expanded: number;
}

class Vm implements VmContext {
  private pos: number;
  private opStart = 0;
  private readonly stack: PickleValue[] = [];
  /** Stack lengths at each MARK still open. */
  private readonly marks: number[] = [];
  private readonly memo = new Map<number, PickleValue>();
  private readonly storages = new Map<string, TorchStorage>();
  private readonly view: DataView;
  private readonly allocBudget: number;
  private readonly elementBudget: number;
  private allocated = 0;
  private elements = 0;
  private opcodes = 0;

  constructor(
    readonly file: string,
    private readonly data: Uint8Array,
    start: number,
    private readonly limits: Readonly<UnpickleLimits>,
  ) {
    this.pos = start;
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const budget = unpickleBudget(Math.max(0, data.length - start), limits);
    this.allocBudget = budget.allocBytes;
    this.elementBudget = budget.totalElements;
  }

  fail(problem: string): never {
    throw new InputError(this.file, `${problem} (pickle offset ${this.opStart})`);
  }

  /** An exceeded budget: `what` the pickle does, and the budget (its UNPICKLE_LIMITS name). */
  private overBudget(what: string, budget: string): never {
    this.fail(`refused: the pickle ${what} (budget ${budget}, far above what any real checkpoint needs: a hostile or corrupt pickle; nothing was executed)`);
  }

  alloc(elements: number, bytes: number): void {
    this.elements += elements;
    this.allocated += bytes;
    if (this.elements > this.elementBudget) {
      this.overBudget(`creates or copies more than ${this.elementBudget} container elements`, `totalElements: ${this.limits.totalElementsPerByte} per pickle byte, at least ${this.limits.totalElementsFloor}`);
    }
    if (this.allocated > this.allocBudget) {
      this.overBudget(`would build more than ${mib(this.allocBudget)} of values`, `allocBytes: ${this.limits.allocBytesPerByte} x the pickle's size, at least ${mib(this.limits.allocBytesFloor)}, at most ${mib(this.limits.allocBytesCap)}`);
    }
  }

  /** Charges `added` new elements of a container that will then hold `size`. */
  private grow(size: number, added: number, bytesEach = COST_ELEMENT): void {
    if (size > this.limits.maxContainerElements) this.overBudget(`builds a container of more than ${this.limits.maxContainerElements} elements`, 'maxContainerElements');
    this.alloc(added, added * bytesEach);
  }

  private memoPut(index: number, v: PickleValue): void {
    if (!this.memo.has(index)) {
      if (this.memo.size >= this.limits.maxMemoEntries) this.overBudget(`fills more than ${this.limits.maxMemoEntries} memo slots`, 'maxMemoEntries');
      this.alloc(0, COST_MEMO_ENTRY);
    }
    this.memo.set(index, v);
  }

  /** A string or bytes literal's length, checked before it is read. */
  private literal(n: number): Uint8Array {
    const b = this.bytes(n);
    if (n > this.limits.maxStringBytes) this.overBudget(`has a ${n}-byte string or bytes literal, more than ${mib(this.limits.maxStringBytes)}`, 'maxStringBytes');
    this.alloc(0, 2 * n + COST_ELEMENT);
    return b;
  }

  /**
   * At STOP: nesting depth and expanded size of the result, by an iterative walk that visits
   * each container once (shared ones are summed, not re-walked; a cycle is counted once).
   */
  private checkResult(root: PickleValue): { nesting: number; expandedValues: number } {
    if (!isContainer(root)) return { nesting: 0, expandedValues: 1 };
    const { maxNesting, maxExpandedValues } = this.limits;
    const done = new Map<object, { height: number; expanded: number }>();
    const onPath = new Set<object>();
    const frames: WalkFrame[] = [];
    const tooDeep = (): never => this.overBudget(`nests containers deeper than ${maxNesting}`, `maxNesting: CPython's pickler cannot write a deeper value`);
    const enter = (node: PickleValue[] | PickleTuple | Map<PickleValue, PickleValue> | PickleSet): void => {
      if (frames.length >= maxNesting) tooDeep();
      onPath.add(node);
      frames.push({
        node,
        items: node instanceof Map ? null : Array.isArray(node) ? node : node.items,
        index: 0,
        entries: node instanceof Map ? node.entries() : null,
        pendingValue: undefined,
        hasPending: false,
        height: 1,
        expanded: 1,
      });
    };
    const nextChild = (f: WalkFrame): { child: PickleValue } | undefined => {
      if (f.items) return f.index < f.items.length ? { child: f.items[f.index++] } : undefined;
      if (f.hasPending) {
        f.hasPending = false;
        return { child: f.pendingValue as PickleValue };
      }
      const r = (f.entries as Iterator<[PickleValue, PickleValue]>).next();
      if (r.done) return undefined;
      f.pendingValue = r.value[1];
      f.hasPending = true;
      return { child: r.value[0] };
    };
    const tooBig = (): never => this.overBudget(`builds a value that expands to more than ${maxExpandedValues} values when its shared (memo/DUP) parts are counted where each occurs`, 'maxExpandedValues');
    enter(root);
    while (frames.length > 0) {
      const f = frames[frames.length - 1];
      const next = nextChild(f);
      if (next === undefined) {
        frames.pop();
        onPath.delete(f.node);
        done.set(f.node, { height: f.height, expanded: f.expanded });
        if (frames.length === 0) return { nesting: f.height, expandedValues: f.expanded };
        if (frames.length > 0) {
          const parent = frames[frames.length - 1];
          parent.height = Math.max(parent.height, f.height + 1);
          parent.expanded += f.expanded;
          if (parent.expanded > maxExpandedValues) tooBig();
        }
        continue;
      }
      const c = next.child;
      if (!isContainer(c) || onPath.has(c)) {
        f.expanded++;
      } else {
        const seen = done.get(c);
        if (seen === undefined) {
          enter(c);
          continue;
        }
        if (frames.length + seen.height > maxNesting) tooDeep();
        f.height = Math.max(f.height, seen.height + 1);
        f.expanded += seen.expanded;
      }
      if (f.expanded > maxExpandedValues) tooBig();
    }
    return { nesting: 0, expandedValues: 0 }; // not reached: the root's frame returns
  }

  private truncated(): never {
    throw new PickleTruncatedError(this.file, `pickle data ends at offset ${this.data.length} before its STOP opcode: the file is truncated or corrupt`);
  }

  // --- reading ---

  private need(n: number): void {
    if (n > this.data.length - this.pos) this.truncated();
  }

  private u8(): number {
    this.need(1);
    return this.data[this.pos++];
  }

  private u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }

  private u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  private i32(): number {
    this.need(4);
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }

  private u64(): number {
    this.need(8);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    // Anything beyond the remaining bytes is absurd; checking here keeps the value a safe number.
    if (v > BigInt(this.data.length - this.pos)) this.lengthTooLarge(v);
    return Number(v);
  }

  /** Reads `n` bytes after checking the (untrusted) length against what remains. */
  private bytes(n: number): Uint8Array {
    if (n > this.data.length - this.pos) this.lengthTooLarge(n);
    const b = this.data.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  private lengthTooLarge(n: number | bigint): never {
    this.fail(`length field of ${n} bytes is larger than the ${this.data.length - this.pos} bytes that remain: corrupt pickle`);
  }

  /** A text-protocol argument: bytes up to (not including) the next newline. */
  private line(): string {
    const nl = this.data.indexOf(0x0a, this.pos);
    if (nl < 0) this.truncated();
    const s = latin1.decode(this.data.subarray(this.pos, nl));
    this.pos = nl + 1;
    return s;
  }

  // --- stack ---

  private push(v: PickleValue): void {
    this.stack.push(v);
  }

  private pop(): PickleValue {
    const floor = this.marks.length ? this.marks[this.marks.length - 1] : 0;
    if (this.stack.length <= floor) this.fail('pickle stack underflow: corrupt pickle');
    return this.stack.pop() as PickleValue;
  }

  private top(): PickleValue {
    const floor = this.marks.length ? this.marks[this.marks.length - 1] : 0;
    if (this.stack.length <= floor) this.fail('pickle stack underflow: corrupt pickle');
    return this.stack[this.stack.length - 1];
  }

  /** Pops everything above the most recent MARK, and the mark. */
  private popMark(): PickleValue[] {
    const m = this.marks.pop();
    if (m === undefined) this.fail('pickle uses a MARK that was never set: corrupt pickle');
    return this.stack.splice(m);
  }

  private memoGet(index: number): PickleValue {
    if (!this.memo.has(index)) this.fail(`pickle reads memo slot ${index}, which was never written: corrupt pickle`);
    return this.memo.get(index) as PickleValue;
  }

  // --- main loop ---

  run(): UnpickleResult {
    for (;;) {
      this.opStart = this.pos;
      if (++this.opcodes > this.limits.maxOpcodes) this.overBudget(`runs more than ${this.limits.maxOpcodes} opcodes`, 'maxOpcodes');
      const op = this.u8();
      switch (op) {
        // Framing and protocol
        case 0x80: { // PROTO
          const proto = this.u8();
          if (proto > HIGHEST_PROTOCOL) this.fail(`unsupported pickle protocol ${proto}`);
          break;
        }
        case 0x95: // FRAME: an 8-byte frame length; frames are only a read-ahead hint.
          this.u64();
          break;
        case 0x2e: { // STOP
          const value = this.pop();
          const shape = this.checkResult(value);
          const usage: UnpickleUsage = {
            opcodes: this.opcodes, allocBytes: this.allocated, allocBudget: this.allocBudget,
            elements: this.elements, elementBudget: this.elementBudget, memoEntries: this.memo.size, ...shape,
          };
          return { value, end: this.pos, storages: this.storages, usage };
        }

        // Stack manipulation
        case 0x28: // MARK
          this.marks.push(this.stack.length);
          break;
        case 0x30: // POP
          if (this.marks.length && this.marks[this.marks.length - 1] === this.stack.length) this.marks.pop();
          else this.pop();
          break;
        case 0x31: // POP_MARK
          this.popMark();
          break;
        case 0x32: // DUP
          this.push(this.top());
          break;

        // Memo
        case 0x71: // BINPUT
          this.memoPut(this.u8(), this.top());
          break;
        case 0x72: // LONG_BINPUT
          this.memoPut(this.u32(), this.top());
          break;
        case 0x70: // PUT
          this.memoPut(this.parseDecimalIndex(this.line()), this.top());
          break;
        case 0x94: // MEMOIZE
          this.memoPut(this.memo.size, this.top());
          break;
        case 0x68: // BINGET
          this.push(this.memoGet(this.u8()));
          break;
        case 0x6a: // LONG_BINGET
          this.push(this.memoGet(this.u32()));
          break;
        case 0x67: // GET
          this.push(this.memoGet(this.parseDecimalIndex(this.line())));
          break;

        // Constants
        case 0x4e: this.push(null); break; // NONE
        case 0x88: this.push(true); break; // NEWTRUE
        case 0x89: this.push(false); break; // NEWFALSE
        case 0x4a: this.push(this.i32()); break; // BININT
        case 0x4b: this.push(this.u8()); break; // BININT1
        case 0x4d: this.push(this.u16()); break; // BININT2
        case 0x8a: this.push(this.readLong(this.u8())); break; // LONG1
        case 0x8b: { // LONG4
          const n = this.i32();
          if (n < 0) this.fail('LONG4 with a negative byte count: corrupt pickle');
          this.push(this.readLong(n));
          break;
        }
        case 0x49: { // INT (text): "01"/"00" are protocol 0's True/False
          const s = this.line();
          this.push(s === '01' ? true : s === '00' ? false : this.parseDecimalInt(s));
          break;
        }
        case 0x4c: // LONG (text), with an optional trailing L
          this.push(this.parseDecimalInt(this.line().replace(/L$/, '')));
          break;
        case 0x47: { // BINFLOAT: big-endian IEEE double
          this.need(8);
          this.push(this.view.getFloat64(this.pos, false));
          this.pos += 8;
          break;
        }
        case 0x46: // FLOAT (text)
          this.push(this.parseFloatText(this.line()));
          break;

        // Strings and bytes
        case 0x58: this.push(utf8.decode(this.literal(this.u32()))); break; // BINUNICODE
        case 0x8c: this.push(utf8.decode(this.literal(this.u8()))); break; // SHORT_BINUNICODE
        case 0x8d: this.push(utf8.decode(this.literal(this.u64()))); break; // BINUNICODE8
        case 0x56: this.push(decodeRawUnicodeEscape(this.textLiteral())); break; // UNICODE (text)
        case 0x53: this.push(this.decodeStringRepr(this.textLiteral())); break; // STRING (text, Python 2 str)
        case 0x54: { // BINSTRING (Python 2 str; torch.load decodes these as UTF-8)
          const n = this.i32();
          if (n < 0) this.fail('BINSTRING with a negative length: corrupt pickle');
          this.push(utf8.decode(this.literal(n)));
          break;
        }
        case 0x55: this.push(utf8.decode(this.literal(this.u8()))); break; // SHORT_BINSTRING
        case 0x42: this.push(copyBytes(this.literal(this.u32()))); break; // BINBYTES
        case 0x43: this.push(copyBytes(this.literal(this.u8()))); break; // SHORT_BINBYTES
        case 0x8e: this.push(copyBytes(this.literal(this.u64()))); break; // BINBYTES8
        case 0x96: this.push(copyBytes(this.literal(this.u64()))); break; // BYTEARRAY8
        case 0x97: // NEXT_BUFFER
          this.fail('pickle uses out-of-band buffers (protocol 5 NEXT_BUFFER), which torch.save never writes');
          break;
        case 0x98: // READONLY_BUFFER: only marks the top buffer read-only
          this.top();
          break;

        // Containers
        case 0x29: this.push(this.newTuple([])); break; // EMPTY_TUPLE
        case 0x85: this.push(this.newTuple([this.pop()])); break; // TUPLE1
        case 0x86: { // TUPLE2
          const b = this.pop();
          const a = this.pop();
          this.push(this.newTuple([a, b]));
          break;
        }
        case 0x87: { // TUPLE3
          const c = this.pop();
          const b = this.pop();
          const a = this.pop();
          this.push(this.newTuple([a, b, c]));
          break;
        }
        case 0x74: this.push(this.newTuple(this.popMark())); break; // TUPLE
        case 0x5d: this.alloc(0, COST_OBJECT); this.push([]); break; // EMPTY_LIST
        case 0x6c: { // LIST
          const items = this.popMark();
          this.grow(items.length, items.length);
          this.alloc(0, COST_OBJECT);
          this.push(items);
          break;
        }
        case 0x7d: this.alloc(0, COST_OBJECT); this.push(new Map()); break; // EMPTY_DICT
        case 0x64: { // DICT
          const items = this.popMark();
          this.alloc(0, COST_OBJECT);
          this.push(this.fillDict(new Map(), items));
          break;
        }
        case 0x8f: this.alloc(0, COST_OBJECT); this.push(new PickleSet([], false)); break; // EMPTY_SET
        case 0x91: { // FROZENSET
          const items = this.popMark();
          this.grow(items.length, items.length);
          this.alloc(0, COST_OBJECT);
          this.push(new PickleSet(items, true));
          break;
        }
        case 0x61: { // APPEND
          const v = this.pop();
          const list = this.listTarget(this.top());
          this.grow(list.length + 1, 1);
          list.push(v);
          break;
        }
        case 0x65: { // APPENDS
          const items = this.popMark();
          const list = this.listTarget(this.top());
          this.grow(list.length + items.length, items.length);
          for (const v of items) list.push(v);
          break;
        }
        case 0x73: { // SETITEM
          const v = this.pop();
          const k = this.pop();
          const d = this.dictTarget(this.top());
          this.grow(d.size + 1, 1, COST_DICT_ENTRY);
          d.set(k, v);
          break;
        }
        case 0x75: { // SETITEMS
          const items = this.popMark();
          this.fillDict(this.dictTarget(this.top()), items);
          break;
        }
        case 0x90: { // ADDITEMS
          const items = this.popMark();
          const set = this.top();
          if (!(set instanceof PickleSet) || set.frozen) this.fail(`ADDITEMS on a ${typeName(set)}: corrupt pickle`);
          this.grow(set.items.length + items.length, items.length);
          // A loop, not push(...items): a spread of ~100k arguments overflows the stack.
          for (const v of items) set.items.push(v);
          break;
        }

        // Globals and object construction: only the allow-list, see resolveGlobal.
        case 0x63: { // GLOBAL "module\nname\n"
          const module = this.line();
          const name = this.line();
          this.push(resolveGlobal(this, module, name));
          break;
        }
        case 0x93: { // STACK_GLOBAL
          const name = this.pop();
          const module = this.pop();
          if (typeof module !== 'string' || typeof name !== 'string') this.fail('STACK_GLOBAL operands are not strings: corrupt pickle');
          this.push(resolveGlobal(this, module, name));
          break;
        }
        case 0x52: { // REDUCE: callable(*args)
          const args = this.pop();
          const fn = this.pop();
          this.push(callGlobal(this, fn, sequenceItems(args, this, 'REDUCE arguments')));
          break;
        }
        case 0x81: { // NEWOBJ: cls.__new__(cls, *args); only OrderedDict/set-like classes qualify
          const args = this.pop();
          const cls = this.pop();
          this.push(this.newObject(cls, sequenceItems(args, this, 'NEWOBJ arguments')));
          break;
        }
        case 0x92: { // NEWOBJ_EX: like NEWOBJ, with keyword arguments
          const kwargs = this.pop();
          const args = this.pop();
          const cls = this.pop();
          if (!(kwargs instanceof Map) || kwargs.size > 0) this.fail('NEWOBJ_EX with keyword arguments is not supported');
          this.push(this.newObject(cls, sequenceItems(args, this, 'NEWOBJ_EX arguments')));
          break;
        }
        case 0x69: { // INST "module\nname\n" with arguments since MARK (protocol 0)
          const module = this.line();
          const name = this.line();
          const cls = resolveGlobal(this, module, name);
          this.push(callGlobal(this, cls, this.popMark()));
          break;
        }
        case 0x6f: { // OBJ: class and arguments since MARK (protocol 1)
          const items = this.popMark();
          if (items.length === 0) this.fail('OBJ without a class: corrupt pickle');
          this.push(callGlobal(this, items[0], items.slice(1)));
          break;
        }
        case 0x62: { // BUILD: obj.__setstate__(state)
          const state = this.pop();
          this.build(this.top(), state);
          break;
        }
        case 0x82: case 0x83: case 0x84: // EXT1/2/4
          this.fail('pickle uses the copyreg extension registry (EXT opcodes), which is not supported');
          break;

        // Persistent ids: how torch.save refers to tensor storages.
        case 0x51: // BINPERSID
          this.push(this.persistentLoad(this.pop()));
          break;
        case 0x50: // PERSID (text)
          this.push(this.persistentLoad(this.line()));
          break;

        default:
          this.fail(`unknown pickle opcode 0x${op.toString(16).padStart(2, '0')}: not a pickle, or a corrupt one`);
      }
    }
  }

  private fillDict(d: Map<PickleValue, PickleValue>, items: PickleValue[]): Map<PickleValue, PickleValue> {
    if (items.length % 2 !== 0) this.fail('odd number of items for a dict: corrupt pickle');
    this.grow(d.size + items.length / 2, items.length / 2, COST_DICT_ENTRY);
    for (let i = 0; i < items.length; i += 2) d.set(items[i], items[i + 1]);
    return d;
  }

  private newTuple(items: PickleValue[]): PickleTuple {
    this.grow(items.length, items.length);
    this.alloc(0, COST_OBJECT);
    return new PickleTuple(items);
  }

  /** A text-protocol string argument, within the literal budget. */
  private textLiteral(): string {
    const s = this.line();
    if (s.length > this.limits.maxStringBytes) this.overBudget(`has a ${s.length}-byte string literal, more than ${mib(this.limits.maxStringBytes)}`, 'maxStringBytes');
    this.alloc(0, 2 * s.length + COST_ELEMENT);
    return s;
  }

  private listTarget(v: PickleValue): PickleValue[] {
    if (!Array.isArray(v)) this.fail(`APPEND to a ${typeName(v)}, which is not a list`);
    return v;
  }

  private dictTarget(v: PickleValue): Map<PickleValue, PickleValue> {
    if (!(v instanceof Map)) this.fail(`SETITEM on a ${typeName(v)}, which is not a dict`);
    return v;
  }

  private newObject(cls: PickleValue, args: readonly PickleValue[]): PickleValue {
    if (cls instanceof PickleGlobal && ['collections.OrderedDict', 'builtins.set', 'builtins.frozenset'].includes(cls.qualifiedName)) {
      // __new__ makes an empty container; contents follow via SETITEMS/BUILD.
      return callGlobal(this, cls, []);
    }
    if (cls instanceof PickleGlobal && cls.qualifiedName === 'builtins.complex') return callGlobal(this, cls, args);
    return this.fail(`refused to load: the pickle constructs a '${cls instanceof PickleGlobal ? cls.qualifiedName : typeName(cls)}' object, which is not a plain data type (nothing was executed)`);
  }

  private build(target: PickleValue, state: PickleValue): void {
    // torch.save's OrderedDicts carry instance attributes (the state dict's `_metadata` of module
    // versions): harmless, and not needed to read weights, so they are dropped.
    if (target instanceof Map) return;
    // weights_only permits BUILD on tensors only with empty state (no Python attributes).
    if (target instanceof TorchTensor && (state === null || (state instanceof Map && state.size === 0))) return;
    this.fail(`refused to load: the pickle sets the state of a ${typeName(target)} object, which plain data never needs (nothing was executed)`);
  }

  /**
   * torch.save's persistent ids: ('storage', storage_type, key, location, numel) in the zip
   * format, plus a sixth view_metadata element (None, or (view_key, offset, size) for the storage
   * views of very old files) in the legacy format.
   */
  private persistentLoad(pid: PickleValue): PickleValue {
    if (!(pid instanceof PickleTuple) || pid.items[0] !== 'storage') {
      this.fail(`unsupported persistent id ${pid instanceof PickleTuple ? `(${shortText(pid.items[0])}, ...)` : `(${typeName(pid)})`}: only tensor storages are supported`);
    }
    if (pid.items.length < 5) this.fail(`storage persistent id has ${pid.items.length} fields, expected 5`);
    const [, type, key, location, numel, viewMetadata] = pid.items;
    if (!(type instanceof PickleGlobal) || !(type.qualifiedName in STORAGE_TYPES)) {
      this.fail(`storage persistent id names ${type instanceof PickleGlobal ? `'${type.qualifiedName}'` : `a ${typeName(type)}`}, which is not a storage type with a known dtype`);
    }
    if (typeof key !== 'string' && typeof key !== 'number') this.fail(`storage key is a ${typeName(key)}, expected a string`);
    const keyStr = String(key);
    const dtype = STORAGE_TYPES[type.qualifiedName];
    // Untyped storages count bytes; typed ones count elements.
    const count = nonNegativeInt(numel, this, `storage '${cut(keyStr)}' size`);
    let storage = this.storages.get(keyStr);
    if (!storage) {
      this.alloc(0, COST_OBJECT + 2 * keyStr.length);
      storage = new TorchStorage(keyStr, dtype, count, typeof location === 'string' ? location : shortText(location));
      this.storages.set(keyStr, storage);
    } else if (storage.dtype !== dtype) {
      this.fail(`storage '${cut(keyStr)}' is referenced as both ${storage.dtype} and ${dtype}`);
    }
    if (viewMetadata === undefined || viewMetadata === null) return storage;
    // A pre-0.4 storage view: a window [offset, offset + size) of the root storage.
    const [viewKey, offset, size] = sequenceItems(viewMetadata, this, 'storage view metadata');
    const off = nonNegativeInt(offset, this, 'storage view offset');
    const len = nonNegativeInt(size, this, 'storage view size');
    if (off + len > storage.numel) this.fail(`storage view ${shortText(viewKey)} reaches past the end of storage '${cut(keyStr)}'`);
    this.alloc(0, COST_OBJECT);
    return new StorageView(storage, off, len);
  }

  private readLong(n: number): number | bigint {
    if (n > MAX_LONG_BYTES) this.fail(`integer literal of ${n} bytes is larger than any checkpoint needs (limit ${MAX_LONG_BYTES})`);
    const b = this.bytes(n);
    if (n === 0) return 0;
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b[n - 1] & 0x80) v -= 1n << BigInt(8 * n); // two's complement
    return narrowInt(v);
  }

  private parseDecimalInt(s: string): number | bigint {
    const t = s.trim();
    if (!/^[+-]?\d+$/.test(t)) this.fail(`'${t.slice(0, 40)}' is not an integer literal: corrupt pickle`);
    if (t.length > MAX_LONG_BYTES * 3) this.fail(`integer literal of ${t.length} digits is larger than any checkpoint needs`);
    return narrowInt(BigInt(t));
  }

  private parseDecimalIndex(s: string): number {
    const v = this.parseDecimalInt(s);
    if (typeof v !== 'number' || v < 0) this.fail(`bad memo index '${s}': corrupt pickle`);
    return v;
  }

  private parseFloatText(s: string): number {
    const t = s.trim();
    if (/^[+-]?inf$/i.test(t)) return t.startsWith('-') ? -Infinity : Infinity;
    if (/^[+-]?nan$/i.test(t)) return NaN;
    if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) this.fail(`'${t.slice(0, 40)}' is not a float literal: corrupt pickle`);
    return Number(t);
  }

  /** Decodes a Python 2 str repr ('...' or "..." with backslash escapes), as UTF-8. */
  private decodeStringRepr(s: string): string {
    const q = s[0];
    if (s.length < 2 || (q !== "'" && q !== '"') || s[s.length - 1] !== q) this.fail('STRING argument is not a quoted string: corrupt pickle');
    const body = s.slice(1, -1);
    const out: number[] = [];
    const simple: Record<string, number> = { n: 10, t: 9, r: 13, a: 7, b: 8, f: 12, v: 11, '\\': 92, "'": 39, '"': 34 };
    for (let i = 0; i < body.length; i++) {
      const c = body.charCodeAt(i);
      if (c !== 92 || i + 1 >= body.length) { out.push(c & 0xff); continue; }
      const e = body[++i];
      if (e in simple) out.push(simple[e]);
      else if (e === 'x' && /^[0-9a-fA-F]{2}$/.test(body.slice(i + 1, i + 3))) { out.push(parseInt(body.slice(i + 1, i + 3), 16)); i += 2; }
      else if (/[0-7]/.test(e)) {
        let j = i;
        while (j < body.length && j < i + 3 && /[0-7]/.test(body[j])) j++;
        out.push(parseInt(body.slice(i, j), 8) & 0xff);
        i = j - 1;
      } else if (e === '\n') { /* line continuation */ }
      else out.push(92, e.charCodeAt(0) & 0xff);
    }
    return utf8.decode(Uint8Array.from(out));
  }
}

/** A window of a root storage (pre-0.4 legacy files): tensors on it add `offset` to theirs. */
export class StorageView extends TorchStorage {
  constructor(
    readonly root: TorchStorage,
    readonly offset: number,
    size: number,
  ) {
    super(root.key, root.dtype, size, root.location);
  }
}

/** An independent plain Uint8Array (the input may be a Buffer, whose slice() is a view). */
function copyBytes(b: Uint8Array): Uint8Array {
  return new Uint8Array(b);
}

function narrowInt(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** Python's raw-unicode-escape: only \uXXXX and \UXXXXXXXX are escapes; other bytes are Latin-1. */
function decodeRawUnicodeEscape(s: string): string {
  return s.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_m, u4: string | undefined, u8: string | undefined) => {
    const cp = parseInt((u4 ?? u8) as string, 16);
    return cp <= 0x10ffff ? String.fromCodePoint(cp) : '\ufffd';
  });
}
