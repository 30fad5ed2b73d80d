/**
 * The architecture's import rules, read from the sources (every `import … from`, `export … from`,
 * `import('…')` and `require('…')`, type-only imports included):
 * - `vscode` is imported only under src/extension (the core, the worker, the CLI and the webviews
 *   run without it);
 * - the webviews (webview/) import nothing from src/extension;
 * - no cycle between folders (src/<folder>, src for files directly in it, webview): each folder's
 *   imports go one way, so any folder can be read, tested and bundled without the ones above it.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

const root = resolve(__dirname, '..', '..');

export interface ImportEdge {
  /** Importing file, relative to the repository root with '/' separators. */
  file: string;
  /** The specifier as written. */
  specifier: string;
  /** The imported file or folder, relative to the root (relative specifiers only). */
  target?: string;
}

const IMPORT = /(?:^|[^\w$.])(?:import|export)\s+(?:type\s+)?(?:[\w$*{}\s,]+?\s+from\s+)?['"]([^'"]+)['"]|(?:^|[^\w$.])(?:import|require)\s*\(\s*['"]([^'"]+)['"]\s*\)/gm;

/** Removes comments (so an example in a doc comment is no import); strings are kept. */
function stripComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, ' ')).replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...tsFiles(path));
    else if (/\.(ts|mts|cts)$/.test(name) && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

const posix = (p: string): string => p.split(sep).join('/');

export function importsOf(file: string, source: string): ImportEdge[] {
  const rel = posix(relative(root, file));
  const edges: ImportEdge[] = [];
  for (const m of stripComments(source).matchAll(IMPORT)) {
    const specifier = m[1] ?? m[2];
    const edge: ImportEdge = { file: rel, specifier };
    if (specifier.startsWith('.')) {
      // a folder import means its index.ts
      const path = resolve(dirname(file), specifier);
      const isFolder = existsSync(path) && statSync(path).isDirectory();
      edge.target = posix(relative(root, isFolder ? join(path, 'index.ts') : path));
    }
    edges.push(edge);
  }
  return edges;
}

/** The folder a file or import target belongs to: src/<folder>, src (files directly in src), webview. */
export function folderOf(path: string): string {
  const parts = path.split('/');
  if (parts[0] === 'src') return parts.length > 2 ? `src/${parts[1]}` : 'src';
  return parts[0];
}

/** Strongly connected components of more than one folder (Tarjan), each sorted. */
export function folderCycles(edges: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    indices.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!indices.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, indices.get(w)!));
    }
    if (low.get(v) === indices.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) out.push(component.sort());
    }
  };
  for (const v of [...edges.keys()].sort()) if (!indices.has(v)) visit(v);
  return out;
}

const files = [...tsFiles(join(root, 'src')), ...tsFiles(join(root, 'webview'))];
const all = files.flatMap((f) => importsOf(f, readFileSync(f, 'utf8')));

describe('import rules', () => {
  test('the reader finds every kind of import and nothing in comments', () => {
    const file = join(root, 'src', 'core', 'example.ts');
    const source = [
      "import * as tf from '@tensorflow/tfjs-core';",
      "import type { A } from '../model/spec';",
      "import {\n  b,\n  type C,\n} from './b';",
      "export { d } from '../geometry/d';",
      "export * from './e';",
      "import './side-effect';",
      "const f = await import('../pruning/f');",
      "const g = require('vscode');",
      "// import { no } from '../extension/no';",
      "/* import { no } from '../extension/no2'; */",
      "const s = 'from here'; x.import('nothing');",
      "import { Tokenizer } from '../tokenizer';",
    ].join('\n');
    assert.deepEqual(importsOf(file, source).map((e) => [e.specifier, e.target && folderOf(e.target)]), [
      ['@tensorflow/tfjs-core', undefined],
      ['../model/spec', 'src/model'],
      ['./b', 'src/core'],
      ['../geometry/d', 'src/geometry'],
      ['./e', 'src/core'],
      ['./side-effect', 'src/core'],
      ['../pruning/f', 'src/pruning'],
      ['vscode', undefined],
      ['../tokenizer', 'src/tokenizer'],
    ]);
  });

  test('cycles are found across two and more folders', () => {
    const graph = (pairs: [string, string][]): Map<string, Set<string>> => {
      const g = new Map<string, Set<string>>();
      for (const [a, b] of pairs) {
        if (!g.has(a)) g.set(a, new Set());
        g.get(a)!.add(b);
      }
      return g;
    };
    assert.deepEqual(folderCycles(graph([['a', 'b'], ['b', 'c'], ['c', 'a'], ['c', 'd'], ['d', 'e'], ['e', 'd']])), [['d', 'e'], ['a', 'b', 'c']]);
    assert.deepEqual(folderCycles(graph([['a', 'b'], ['b', 'c'], ['a', 'c']])), []);
  });

  test('the sources are read: every folder of src and the webviews import something', () => {
    assert.ok(files.length > 100, `${files.length} files`);
    for (const folder of ['src/checkpoint', 'src/core', 'src/extension', 'src/model', 'src/relevance', 'src/pruning', 'src/protocol', 'webview']) {
      assert.ok(all.some((e) => folderOf(e.file) === folder), folder);
    }
  });

  test("'vscode' is imported only under src/extension", () => {
    const outside = all.filter((e) => e.specifier === 'vscode' && folderOf(e.file) !== 'src/extension');
    assert.deepEqual(outside.map((e) => e.file), []);
  });

  test('the webviews import nothing from src/extension', () => {
    const bad = all.filter((e) => folderOf(e.file) === 'webview' && e.target !== undefined && folderOf(e.target) === 'src/extension');
    assert.deepEqual(bad.map((e) => `${e.file} -> ${e.specifier}`), []);
  });

  test('no cycle between folders', () => {
    const edges = new Map<string, Set<string>>();
    const examples = new Map<string, string[]>();
    for (const e of all) {
      if (e.target === undefined) continue;
      const [a, b] = [folderOf(e.file), folderOf(e.target)];
      if (a === b) continue;
      if (!edges.has(a)) edges.set(a, new Set());
      edges.get(a)!.add(b);
      const key = `${a} -> ${b}`;
      if (!examples.has(key)) examples.set(key, []);
      examples.get(key)!.push(`${e.file} imports ${e.specifier}`);
    }
    const cycles = folderCycles(edges);
    const explain = cycles.map((c) => `${c.join(' <-> ')}:\n${[...examples].filter(([k]) => c.some((a) => c.some((b) => k === `${a} -> ${b}`))).map(([k, v]) => `  ${k}: ${v.slice(0, 3).join('; ')}`).join('\n')}`);
    assert.deepEqual(cycles, [], explain.join('\n'));
  });
});
