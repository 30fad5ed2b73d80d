/**
 * Where a Python training script saves its checkpoints: the `torch.save(obj, f)` and safetensors
 * `save_file(tensors, filename)` calls of a source file, and the folder each writes to when that
 * can be read off the source without running it:
 *
 *  - a string literal: 'runs/a/epoch_3.pt' -> runs/a
 *  - an f-string whose folder part is literal, or whose {names} are variables assigned a string
 *    (or another resolvable expression) earlier in the file: f"{out_dir}/epoch_{epoch}.pt"
 *  - os.path.join(a, ..., name) and Path(a) / ... / name, with resolvable parts
 *  - a variable assigned one of these
 *
 * Anything else (a function's argument, a config value) is left unresolved: the caller asks.
 * No vscode import: plain text in, plain data out (unit-tested).
 */

export interface SaveCall {
  /** 0-based line and character of the call's name. */
  line: number;
  character: number;
  call: 'torch.save' | 'save_file';
  /** Source text of the path argument ('' when there is none). */
  pathText: string;
  /** The folder written to, relative paths as written (relative to where the script runs); undefined if unknown. */
  folder?: string;
}

const CALL = /\b(torch\.save|(?:safetensors\.torch\.)?save_file)\s*\(/g;

/** The text of the call's arguments: from after '(' to the matching ')', skipping strings. */
function argumentText(source: string, open: number): string | undefined {
  let depth = 0;
  for (let i = open; i < source.length; i++) {
    const ch = source[i];
    if (ch === '#') {
      const nl = source.indexOf('\n', i);
      i = nl < 0 ? source.length : nl;
      continue;
    }
    if (ch === '"' || ch === "'") {
      i = stringEnd(source, i) - 1;
      continue;
    }
    if (ch === '(' || ch === '[' || ch === '{') depth++;
    else if (ch === ')' || ch === ']' || ch === '}') {
      depth--;
      if (depth === 0) return source.slice(open + 1, i);
    }
  }
  return undefined;
}

/** Index just past the string literal starting at `i` (a quote), triple quotes included. */
function stringEnd(source: string, i: number): number {
  const q = source[i];
  const triple = source.startsWith(q.repeat(3), i);
  const close = triple ? q.repeat(3) : q;
  let j = i + close.length;
  while (j < source.length) {
    if (source[j] === '\\') {
      j += 2;
      continue;
    }
    if (source.startsWith(close, j)) return j + close.length;
    if (!triple && source[j] === '\n') return j;
    j++;
  }
  return source.length;
}

/** Splits an argument list at top-level commas (a trailing comma adds no argument). */
function splitArguments(text: string): string[] {
  const parts = splitTopLevel(text, ',');
  if (parts[parts.length - 1] === '') parts.pop();
  return parts;
}

/** The path argument: keyword (`f=`, `filename=`) or the second positional one. */
function pathArgument(args: string[], call: SaveCall['call']): string {
  const keyword = call === 'torch.save' ? 'f' : 'filename';
  const named = args.find((a) => new RegExp(`^${keyword}\\s*=(?!=)`).test(a));
  if (named) return named.slice(named.indexOf('=') + 1).trim();
  const positional = args.filter((a) => !/^[A-Za-z_]\w*\s*=(?!=)/.test(a));
  return positional[1] ?? '';
}

/** Simple assignments `name = <expression>` (the last one before `beforeLine` wins). */
function assignments(source: string, beforeLine: number): Map<string, string> {
  const found = new Map<string, string>();
  const lines = source.split('\n');
  for (let l = 0; l < Math.min(beforeLine, lines.length); l++) {
    const m = /^\s*([A-Za-z_]\w*)\s*(?::\s*[\w.[\], ]+)?=(?!=)\s*(.+?)\s*(?:#.*)?$/.exec(lines[l]);
    if (m) found.set(m[1], m[2]);
  }
  return found;
}

/** The string a simple literal stands for (r/u prefixes allowed), else undefined. */
function literal(expr: string): string | undefined {
  const m = /^[rRuU]?(['"])(.*)\1$/.exec(expr.trim());
  return m && !m[2].includes(m[1]) ? m[2] : undefined;
}

/**
 * The string value of a path expression, with `{...}` left where an f-string has unknown fields
 * (marked by `\u0000` so the caller can tell known text from unknown).
 */
function valueOf(expr: string, vars: Map<string, string>, depth = 0): string | undefined {
  if (depth > 8) return undefined;
  const e = expr.trim().replace(/^\((.*)\)$/s, '$1').trim();
  const lit = literal(e);
  if (lit !== undefined) return lit;
  const f = /^(?:[fF][rR]?|[rR][fF])(['"])(.*)\1$/.exec(e);
  if (f) {
    return f[2].replace(/\{([^{}]*)\}/g, (_m, field: string) => {
      const name = field.split(/[!:]/)[0].trim();
      const known = /^[A-Za-z_]\w*$/.test(name) && vars.has(name) ? valueOf(vars.get(name)!, vars, depth + 1) : undefined;
      return known !== undefined && !known.includes('\u0000') ? known : '\u0000';
    });
  }
  const join = /^os\.path\.join\s*\((.*)\)$/s.exec(e);
  if (join) {
    const parts = splitArguments(join[1]).map((p) => valueOf(p, vars, depth + 1));
    if (parts.some((p) => p === undefined)) return undefined;
    return parts.join('/');
  }
  const slash = splitTopLevel(e, '/');
  if (slash.length > 1) {
    const head = /^(?:pathlib\.)?Path\s*\((.*)\)$/s.exec(slash[0]);
    const parts = [head ? valueOf(head[1], vars, depth + 1) : valueOf(slash[0], vars, depth + 1), ...slash.slice(1).map((p) => valueOf(p, vars, depth + 1))];
    if (parts.some((p) => p === undefined)) return undefined;
    return parts.join('/');
  }
  const path = /^(?:pathlib\.)?Path\s*\((.*)\)$/s.exec(e);
  if (path) return valueOf(path[1], vars, depth + 1);
  const str = /^str\s*\((.*)\)$/s.exec(e);
  if (str) return valueOf(str[1], vars, depth + 1);
  if (/^[A-Za-z_]\w*$/.test(e) && vars.has(e)) return valueOf(vars.get(e)!, vars, depth + 1);
  return undefined;
}

/** Splits at a top-level operator character (outside strings and brackets). */
function splitTopLevel(text: string, op: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"' || ch === "'") {
      i = stringEnd(text, i) - 1;
      continue;
    }
    if (ch === '(' || ch === '[' || ch === '{') depth++;
    else if (ch === ')' || ch === ']' || ch === '}') depth--;
    else if (ch === op && depth === 0) {
      parts.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  parts.push(text.slice(start).trim());
  return parts;
}

/** The folder of a resolved path value: the part before the last '/', if it is all known. */
function folderOf(value: string): string | undefined {
  const cut = value.lastIndexOf('/');
  const folder = cut < 0 ? '.' : cut === 0 ? '/' : value.slice(0, cut);
  return folder.includes('\u0000') ? undefined : folder;
}

/** True when the end of `prefix` (the start of a line) is code: not in a comment or a one-line string. */
function inCode(prefix: string): boolean {
  let quote = '';
  for (let i = 0; i < prefix.length; i++) {
    const ch = prefix[i];
    if (quote) {
      if (ch === '\\') i++;
      else if (ch === quote) quote = '';
    } else if (ch === '#') return false;
    else if (ch === '"' || ch === "'") quote = ch;
  }
  return quote === '';
}

/** Every torch.save / save_file call of a Python source, with the folder it writes to. */
export function findSaveCalls(source: string): SaveCall[] {
  const calls: SaveCall[] = [];
  const lineStarts = [0];
  for (let i = 0; i < source.length; i++) if (source[i] === '\n') lineStarts.push(i + 1);
  const lineOf = (index: number): number => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid] <= index) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  for (const m of source.matchAll(CALL)) {
    const index = m.index ?? 0;
    const line = lineOf(index);
    const lineText = source.slice(lineStarts[line], index);
    if (/\bdef\s+$/.test(lineText) || !inCode(lineText)) continue; // a definition, a comment, inside a string
    const call = m[1] === 'torch.save' ? 'torch.save' : 'save_file';
    const args = argumentText(source, index + m[0].length - 1);
    if (args === undefined) continue;
    const pathText = pathArgument(splitArguments(args), call);
    const value = pathText ? valueOf(pathText, assignments(source, line)) : undefined;
    calls.push({ line, character: index - lineStarts[line], call, pathText, folder: value === undefined ? undefined : folderOf(value) });
  }
  return calls;
}
