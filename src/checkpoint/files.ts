/**
 * Which files are checkpoints, and a folder's checkpoints in one order: the one list every reader,
 * picker, watcher and glob uses (no TensorFlow.js, no VS Code: the extension host's quick picks and
 * the core share it, and test/unit/checkpointFiles.test.ts checks package.json's editor patterns
 * and activation events against it).
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';

/** File extensions (lower case, without the dot) that hold checkpoints. */
export const CHECKPOINT_EXTENSIONS = ['safetensors', 'pt', 'pth', 'bin', 'ckpt'] as const;

/**
 * The extensions that are checkpoints whenever they occur: `.bin` is left out where a file is
 * offered or opened unasked (workspace searches, activation, reopening tabs), since a `.bin` is
 * often something else; it is opened when asked for.
 */
export const UNAMBIGUOUS_CHECKPOINT_EXTENSIONS = ['safetensors', 'pt', 'pth', 'ckpt'] as const;

/** `*.safetensors`, `*.pt`, …: one file pattern per extension (for globs that cannot nest braces). */
export const CHECKPOINT_PATTERNS: readonly string[] = CHECKPOINT_EXTENSIONS.map((e) => `*.${e}`);

/** `*.{safetensors,pt,pth,bin,ckpt}`: a glob of checkpoint file names (prefix it with a folder or `**\/`). */
export const CHECKPOINT_GLOB = `*.{${CHECKPOINT_EXTENSIONS.join(',')}}`;

/** `*.{safetensors,pt,pth,ckpt}`: the glob of UNAMBIGUOUS_CHECKPOINT_EXTENSIONS. */
export const UNAMBIGUOUS_CHECKPOINT_GLOB = `*.{${UNAMBIGUOUS_CHECKPOINT_EXTENSIONS.join(',')}}`;

/** For file dialogs' filters. */
export const CHECKPOINT_FILTERS: Readonly<Record<string, string[]>> = { Checkpoints: [...CHECKPOINT_EXTENSIONS] };

/** Whether `name` (a file name or path) ends in a checkpoint extension; hidden files (".x.pt", a writer's temporary) are not. */
export function isCheckpointName(name: string): boolean {
  const base = name.slice(Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\')) + 1).toLowerCase();
  if (base.startsWith('.')) return false;
  const dot = base.lastIndexOf('.');
  return dot > 0 && (CHECKPOINT_EXTENSIONS as readonly string[]).includes(base.slice(dot + 1));
}

/** Natural order of names: epoch_2 before epoch_10. */
export function compareNames(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

/** The checkpoint files of `folder` (full paths) in natural name order; none if it cannot be read. */
export async function checkpointsInFolder(folder: string): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.readdir(folder);
  } catch {
    return [];
  }
  return names.filter(isCheckpointName).sort(compareNames).map((n) => join(folder, n));
}
