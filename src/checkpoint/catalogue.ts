/**
 * What the pickers and the run watcher offer, and in which order: checkpoint files opened
 * header-only (src/core/catalogue.ts catalogueFiles, the worker's `catalogue`), ordered by their saved training progress, grouped
 * by folder; text files that can serve as an evaluation or reference text (not tokenizer files,
 * nothing inside a pruning output). No TensorFlow.js, no VS Code (test/unit/catalogue.test.ts).
 */
import { basename, dirname, sep } from 'node:path';
import { compareNames } from './files';

/** The most paths one `catalogue` call opens (the pickers search at most 500 files). */
export const MAX_CATALOGUE_PATHS = 500;

export interface CatalogueEntry {
  path: string;
  /** Opens and a built-in (or described) architecture fits it. */
  model: boolean;
  architecture?: string;
  /** Saved `epoch` / `step` (torch.save dict numbers, safetensors __metadata__ strings). */
  epoch: number | null;
  step: number | null;
  mtimeMs: number;
  size: number;
  /** Why it does not open (then model is false). */
  problem?: string;
}

/** A saved scalar as a number: numbers, and strings that parse as one. */
export function savedNumber(metadata: Record<string, unknown>, key: string): number | null {
  const v = metadata[key];
  const n = typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : null;
}

type Ordered = Pick<CatalogueEntry, 'path' | 'epoch' | 'step' | 'mtimeMs'>;

/**
 * Oldest first by training progress: saved epoch when every entry has one, then saved step when
 * every entry has one, then modification time, then natural name order. (A key only some
 * entries have is not used, as drift does for epochs: a copy or clone resets mtimes, not epochs.)
 */
export function trainingOrder<T extends Ordered>(entries: readonly T[]): T[] {
  const byEpoch = entries.length > 0 && entries.every((e) => e.epoch !== null);
  const byStep = entries.length > 0 && entries.every((e) => e.step !== null);
  return [...entries].sort((a, b) =>
    (byEpoch ? a.epoch! - b.epoch! : 0) || (byStep ? a.step! - b.step! : 0) || a.mtimeMs - b.mtimeMs || compareNames(basename(a.path), basename(b.path)));
}

/** The latest checkpoint of a folder's entries: among the models when there are any, else among the files that open. */
export function latestCheckpoint(entries: readonly CatalogueEntry[]): CatalogueEntry | undefined {
  const models = entries.filter((e) => e.model);
  const candidates = models.length ? models : entries.filter((e) => e.problem === undefined);
  const ordered = trainingOrder(candidates);
  return ordered[ordered.length - 1];
}

/** Items by the folder of their path, in the order met. */
function byFolder<T extends { path: string }>(items: readonly T[]): Map<string, T[]> {
  const folders = new Map<string, T[]>();
  for (const item of items) {
    const list = folders.get(dirname(item.path));
    if (list) list.push(item);
    else folders.set(dirname(item.path), [item]);
  }
  return folders;
}

export interface FolderGroup<T> {
  folder: string;
  entries: T[];
}

/**
 * Models grouped by folder, newest first within a group (training order reversed) and the
 * groups by their newest file's mtime; `others`: files that open but are not recognised as
 * models and files that do not open (problem), newest first, for one "not recognised" item.
 */
export function checkpointGroups(entries: readonly CatalogueEntry[]): { groups: FolderGroup<CatalogueEntry>[]; others: CatalogueEntry[] } {
  const groups = [...byFolder(entries.filter((x) => x.model))].map(([folder, list]) => ({ folder, entries: trainingOrder(list).reverse() }));
  const newest = (g: FolderGroup<CatalogueEntry>): number => Math.max(...g.entries.map((e) => e.mtimeMs));
  groups.sort((a, b) => newest(b) - newest(a) || compareNames(a.folder, b.folder));
  const others = entries.filter((e) => !e.model).sort((a, b) => b.mtimeMs - a.mtimeMs || compareNames(a.path, b.path));
  return { groups, others };
}

/** Tokenizer and vocabulary files: never an evaluation text. */
const TOKENIZER_NAMES = /^(vocab\.txt|vocab\.json|merges\.txt|special_tokens_map\.json|added_tokens\.json|tokenizer.*\.json|spiece\.model|sentencepiece\.bpe\.model)$/i;

export function isTokenizerFile(path: string): boolean {
  return TOKENIZER_NAMES.test(basename(path));
}

/** Whether `path` lies inside one of `outputs` (folders holding a pruning.json: a sweep's output or one of its steps). */
export function insideAny(path: string, outputs: readonly string[]): boolean {
  return outputs.some((folder) => path.startsWith(folder.endsWith(sep) ? folder : folder + sep));
}

export interface TextFile {
  path: string;
  mtimeMs: number;
}

/**
 * Text files that can serve: no tokenizer file, nothing inside a pruning output (`pruningOutputs`:
 * the folders of the pruning.json files found), grouped by folder; the groups nearest to
 * `near` first (its folder, then its parents, up to 3 levels; then the rest by newest file),
 * newest first within a group.
 */
export function textGroups(files: readonly TextFile[], pruningOutputs: readonly string[], near?: string): FolderGroup<TextFile>[] {
  const kept = files.filter((f) => !isTokenizerFile(f.path) && !insideAny(f.path, pruningOutputs));
  const closeness = (folder: string): number => {
    if (!near) return 99;
    let dir = dirname(near);
    for (let up = 0; up < 4; up++, dir = dirname(dir)) if (folder === dir) return up;
    return 99;
  };
  const groups = [...byFolder(kept)].map(([folder, list]) => ({ folder, entries: list.sort((a, b) => b.mtimeMs - a.mtimeMs || compareNames(a.path, b.path)) }));
  const newest = (g: FolderGroup<TextFile>): number => g.entries[0].mtimeMs;
  return groups.sort((a, b) => closeness(a.folder) - closeness(b.folder) || newest(b) - newest(a) || compareNames(a.folder, b.folder));
}
