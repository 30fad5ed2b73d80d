/**
 * The config and tokenizer a checkpoint runs with when they are not found beside it: chosen in
 * VS Code (Choose Config… / Choose Tokenizer…, remembered per checkpoint in the workspace state)
 * or set in the `grassmannLens.modelFiles` setting. Without either, the worker finds them as the
 * CLI does (config.json beside the checkpoint, the tokenizer near it or in the Hugging Face cache).
 *
 * Precedence, per file kind: the choice made in VS Code, then the setting, then discovery. The
 * setting maps a checkpoint path to its files; relative paths (keys and values) are resolved
 * against the workspace folder. Nothing here imports `vscode` (test/unit/modelFiles.test.ts).
 */
import { isAbsolute, resolve } from 'node:path';

export const MODEL_FILE_KINDS = ['config', 'tokenizer'] as const;
export type ModelFileKind = (typeof MODEL_FILE_KINDS)[number];

/** Explicit files for one checkpoint (absent: found as the CLI finds them). */
export interface ModelFiles {
  config?: string;
  tokenizer?: string;
}

/** Where the file a checkpoint runs with comes from. */
export type ModelFileOrigin = 'chosen' | 'setting' | 'found';

/** The remembered choices: checkpoint path (resolved) → its files. */
export type ModelFileChoices = Record<string, ModelFiles>;

export function isModelFileKind(v: unknown): v is ModelFileKind {
  return (MODEL_FILE_KINDS as readonly unknown[]).includes(v);
}

function absolute(path: string, root: string | undefined): string {
  return isAbsolute(path) || root === undefined ? resolve(path) : resolve(root, path);
}

/**
 * The `grassmannLens.modelFiles` setting, checked: an object of checkpoint → { config?, tokenizer? }
 * with string values. Entries that are not of that shape are reported, not used.
 */
export function readModelFilesSetting(value: unknown, root: string | undefined): { entries: ModelFileChoices; problems: string[] } {
  const entries: ModelFileChoices = {};
  const problems: string[] = [];
  if (value === undefined || value === null) return { entries, problems };
  if (typeof value !== 'object' || Array.isArray(value)) return { entries, problems: ['grassmannLens.modelFiles must be an object of checkpoint path → { "config": …, "tokenizer": … }'] };
  for (const [key, files] of Object.entries(value as Record<string, unknown>)) {
    if (typeof files !== 'object' || files === null || Array.isArray(files)) {
      problems.push(`grassmannLens.modelFiles["${key}"] must be an object with "config" and/or "tokenizer"`);
      continue;
    }
    const entry: ModelFiles = {};
    for (const [k, v] of Object.entries(files as Record<string, unknown>)) {
      if (!isModelFileKind(k)) problems.push(`grassmannLens.modelFiles["${key}"].${k} is not a model file kind (config, tokenizer)`);
      else if (typeof v !== 'string' || !v.trim()) problems.push(`grassmannLens.modelFiles["${key}"].${k} must be a path`);
      else entry[k] = absolute(v, root);
    }
    entries[absolute(key, root)] = entry;
  }
  return { entries, problems };
}

/** The files `checkpoint` runs with, and where each comes from. */
export function modelFilesOf(
  checkpoint: string,
  chosen: ModelFileChoices,
  setting: ModelFileChoices,
): { files: ModelFiles; origin: Record<ModelFileKind, ModelFileOrigin> } {
  const key = resolve(checkpoint);
  const files: ModelFiles = {};
  const origin: Record<ModelFileKind, ModelFileOrigin> = { config: 'found', tokenizer: 'found' };
  for (const kind of MODEL_FILE_KINDS) {
    const mine = chosen[key]?.[kind];
    const set = setting[key]?.[kind];
    if (mine) {
      files[kind] = mine;
      origin[kind] = 'chosen';
    } else if (set) {
      files[kind] = set;
      origin[kind] = 'setting';
    }
  }
  return { files, origin };
}

/** `chosen` with `checkpoint`'s `kind` set to `file` (or forgotten when undefined); a new object. */
export function withChoice(chosen: ModelFileChoices, checkpoint: string, kind: ModelFileKind, file: string | undefined): ModelFileChoices {
  const key = resolve(checkpoint);
  const entry: ModelFiles = { ...(chosen[key] ?? {}) };
  if (file === undefined) delete entry[kind];
  else entry[kind] = resolve(file);
  const next: ModelFileChoices = { ...chosen };
  if (entry.config === undefined && entry.tokenizer === undefined) delete next[key];
  else next[key] = entry;
  return next;
}
