import { UsageError } from '../util/errors';

export interface OptionSpec {
  /** Takes a value (`--name VALUE` or `--name=VALUE`) or is a boolean flag. */
  value: boolean;
  /** May be given several times; the values are joined with ',' (lists also accept 'a,b'). */
  repeat?: boolean;
}

export interface ParsedArgs {
  positionals: string[];
  options: Map<string, string | true>;
}

/** Parses `argv` against a fixed set of options; unknown options are usage errors. */
export function parseArgs(argv: readonly string[], spec: Record<string, OptionSpec>): ParsedArgs {
  const positionals: string[] = [];
  const options = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const opt = spec[name];
    if (!opt) throw new UsageError(`unknown option --${name}`);
    if (!opt.value) {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`);
      options.set(name, true);
      continue;
    }
    let value: string | undefined = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    const before = options.get(name);
    options.set(name, opt.repeat && typeof before === 'string' ? `${before},${value}` : value);
  }
  return { positionals, options };
}

export function stringOption(args: ParsedArgs, name: string): string | undefined {
  const v = args.options.get(name);
  return typeof v === 'string' ? v : undefined;
}

/** An integer option of at least `min` (default 1). */
export function intOption(args: ParsedArgs, name: string, min = 1): number | undefined {
  const v = stringOption(args, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`--${name} must be ${min === 1 ? 'a positive integer' : `an integer >= ${min}`}, got '${v}'`);
  return n;
}

/** An integer option of any value: for options whose range is known only once the model is open (--seq-len). */
export function integerOption(args: ParsedArgs, name: string): number | undefined {
  const v = stringOption(args, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isSafeInteger(n)) throw new UsageError(`--${name} must be an integer, got '${v}'`);
  return n;
}

export function flag(args: ParsedArgs, name: string): boolean {
  return args.options.get(name) === true;
}
