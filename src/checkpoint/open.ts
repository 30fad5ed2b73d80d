/**
 * One entry point for every checkpoint a researcher has: a weights file of any supported format,
 * a shard index, or a Hugging Face-style folder (config.json + weights + tokenizer files).
 * The format is recognised from the file's first bytes, not trusted from its extension.
 */
import { constants as fsConstants, promises as fs } from 'node:fs';
import { basename, join } from 'node:path';
import { InputError } from '../util/errors';
import { fileKind, fileSourceWarnings, requireRegularFile } from './fileSource';
import { openSafetensors, openShardedSafetensors } from './safetensors';
import { openTorchCheckpoint } from './torch';
import type { ByteSource, Checkpoint } from './types';
import { CHECKPOINT_EXTENSIONS, isCheckpointName } from './files';

/** Weight files looked for in a folder, in order of preference (safetensors never runs code). */
const FOLDER_WEIGHTS = [
  'model.safetensors.index.json',
  'model.safetensors',
  'pytorch_model.bin',
  'model.pt',
  'model.pth',
];

type Sniffed = 'zip' | 'pickle' | 'safetensors' | 'json' | 'unknown';

async function sniff(path: string): Promise<Sniffed> {
  // Non-blocking: the path was checked to be a regular file, but a FIFO swapped in since must not hang.
  const handle = await fs.open(path, fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0));
  try {
    const head = new Uint8Array(16);
    const { bytesRead } = await handle.read(head, 0, 16, 0);
    if (bytesRead >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) return 'zip';
    if (bytesRead >= 2 && head[0] === 0x80 && head[1] >= 2 && head[1] <= 5) return 'pickle';
    if (bytesRead >= 1 && head[0] === 0x7b) return 'json';
    // safetensors: a little-endian u64 header length followed by '{'.
    if (bytesRead >= 9 && head[8] === 0x7b) return 'safetensors';
    return 'unknown';
  } finally {
    await handle.close();
  }
}

/**
 * Opens a checkpoint file or folder. Only headers and pickles are read; tensors stay on disk.
 * Only folders and regular files are opened: a FIFO, device or socket (the path itself, or a
 * shard an index names: ./fileSource.ts checks every file a reader opens) is refused at once,
 * and a symbolic link is followed with a warning that gives the real path.
 */
export async function openCheckpoint(path: string): Promise<Checkpoint> {
  let stat;
  try {
    stat = await fs.stat(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(path, code === 'ENOENT' ? 'no such file or folder' : `cannot read (${code})`);
  }
  if (!stat.isDirectory() && !stat.isFile()) {
    throw new InputError(path, `is ${fileKind(stat)}, not a regular file or a folder: only regular files are opened`);
  }
  const checked = stat.isDirectory() ? undefined : await requireRegularFile(path);
  const ck = await openChecked(path, stat);
  // How each file was reached (symbolic links resolved), once each, first.
  const notes = new Set<string>();
  if (checked?.symlinkWarning) notes.add(checked.symlinkWarning);
  const sources = new Set<ByteSource>();
  for (const t of ck.tensors.values()) sources.add(t.storage.source);
  for (const source of sources) for (const w of fileSourceWarnings(source)) notes.add(w);
  if (notes.size > 0) ck.warnings.unshift(...[...notes].filter((w) => !ck.warnings.includes(w)));
  return ck;
}

async function openChecked(path: string, stat: { isDirectory(): boolean; size: number }): Promise<Checkpoint> {
  if (stat.isDirectory()) return openFolder(path);
  if (basename(path).endsWith('.index.json')) return openShardedSafetensors(path);
  if (path.endsWith('.safetensors')) return openSafetensors(path);
  const kind = stat.size === 0 ? 'unknown' : await sniff(path);
  switch (kind) {
    case 'zip':
    case 'pickle':
      return openTorchCheckpoint(path);
    case 'safetensors':
      return openSafetensors(path);
    default:
      throw new InputError(path, stat.size === 0
        ? 'the file is empty'
        : 'not a checkpoint: neither a PyTorch file (zip or pickle) nor safetensors');
  }
}

async function openFolder(dir: string): Promise<Checkpoint> {
  const names = new Set(await fs.readdir(dir));
  const weights = FOLDER_WEIGHTS.find((n) => names.has(n))
    ?? [...names].sort().find((n) => n.endsWith('.safetensors'))
    ?? [...names].sort().find(isCheckpointName);
  if (!weights) {
    throw new InputError(dir, `no weights in this folder (looked for ${FOLDER_WEIGHTS.join(', ')}, ${CHECKPOINT_EXTENSIONS.map((e) => `*.${e}`).join(', ')})`);
  }
  const ck = await openCheckpoint(join(dir, weights));
  return { ...ck, path: dir };
}
