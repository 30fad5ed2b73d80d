/**
 * Finding the tokenizer that belongs to a checkpoint: a path the user named, else a tokenizer file
 * beside the checkpoint or in a folder above it, else the Hugging Face hub cache.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { InputError, isInputError } from '../util/errors';
import { parseJsonBounded } from '../util/jsonLimits';
import { isObject } from './json';
import { TOKENIZER_JSON, VOCAB_TXT, loadTokenizer, tokenizerFileIn } from './load';
import type { Tokenizer } from './types';

export interface FindTokenizerOptions {
  /** A tokenizer file or folder the user chose. It wins; if it holds no tokenizer that is an error, not a reason to guess. */
  explicitPath?: string;
  /** The checkpoint file (or checkpoint folder) the tokenizer is for. */
  checkpointPath: string;
  /** Environment holding HF_HUB_CACHE / HUGGINGFACE_HUB_CACHE / HF_HOME / XDG_CACHE_HOME (default: process.env). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Home folder for the default cache ~/.cache/huggingface/hub (default: os.homedir()). */
  homeDir?: string;
  /** How many folders above the checkpoint's own folder to search (default 4). */
  maxParentLevels?: number;
}

/**
 * How the tokenizer was found: `explicit` (the user's path), `near-checkpoint` (the checkpoint's
 * folder or one above it), `config-path` (a local folder named by config.json's `_name_or_path` or
 * `tokenizer_name`), `hf-cache` (the Hugging Face hub cache).
 */
export type TokenizerOrigin = 'explicit' | 'near-checkpoint' | 'config-path' | 'hf-cache';

export interface FoundTokenizer {
  tokenizer: Tokenizer;
  /** Absolute path of the loaded file (tokenizer.json or vocab.txt). */
  path: string;
  origin: TokenizerOrigin;
  /** The hub repository ("org/name") when found in the Hugging Face cache. */
  repo?: string;
  /** One line for the UI, e.g. "tokenizer.json from the Hugging Face cache (bert-base-uncased)". */
  description: string;
}

export const DEFAULT_MAX_PARENT_LEVELS = 4;
/** A config.json larger than this (4 MiB, the config reader's limit) gives no tokenizer hint. */
const MAX_CONFIG_HINT_BYTES = 4 << 20;

/** What a config.json near the checkpoint says about its tokenizer. */
interface ConfigHint {
  configFile: string;
  /** `tokenizer_name`, else `_name_or_path`: a hub repo id or a local path. */
  name: string | null;
  /** `vocab_size`: a tokenizer with more ids than this cannot belong to the model. */
  vocabSize: number | null;
}

/**
 * Finds and loads the tokenizer for a checkpoint. Throws an InputError naming the checkpoint and
 * every place searched when there is none (or when the cache holds several and nothing says which).
 */
export function findTokenizer(options: FindTokenizerOptions): FoundTokenizer {
  if (options.explicitPath !== undefined) {
    const file = explicitTokenizerFile(options.explicitPath);
    const tokenizer = loadTokenizer(file);
    return { tokenizer, path: tokenizer.source, origin: 'explicit', description: `${basename(tokenizer.source)} chosen by you (${tokenizer.source})` };
  }

  const checkpoint = resolve(options.checkpointPath);
  const maxLevels = options.maxParentLevels ?? DEFAULT_MAX_PARENT_LEVELS;
  const searched: string[] = [];
  /** The nearest config.json naming a tokenizer, and the nearest giving the model's vocabulary size. */
  let hint: (ConfigHint & { name: string }) | null = null;
  let modelVocabSize: number | null = null;

  let dir = isDirectory(checkpoint) ? checkpoint : dirname(checkpoint);
  for (let level = 0; level <= maxLevels; level++) {
    searched.push(dir);
    const file = tokenizerFileIn(dir);
    if (file) {
      const where = level === 0 ? 'next to the checkpoint' : `${level} folder${level > 1 ? 's' : ''} above the checkpoint`;
      return { tokenizer: loadTokenizer(file), path: file, origin: 'near-checkpoint', description: `${basename(file)} ${where} (${file})` };
    }
    const config = readConfigHint(join(dir, 'config.json'));
    if (config?.name != null) hint ??= { ...config, name: config.name };
    modelVocabSize ??= config?.vocabSize ?? null;
    const parent = dirname(dir);
    if (parent === dir) break; // filesystem root
    dir = parent;
  }

  if (hint) {
    const local = isAbsolute(hint.name) ? hint.name : resolve(dirname(hint.configFile), hint.name);
    if (isDirectory(local)) {
      searched.push(local);
      const file = tokenizerFileIn(local);
      if (file) {
        return { tokenizer: loadTokenizer(file), path: file, origin: 'config-path', description: `${basename(file)} named by ${hint.configFile} (${file})` };
      }
    }
  }

  const hub = hubCacheDir(options.env ?? process.env, options.homeDir ?? homedir());
  if (hint && isRepoId(hint.name)) {
    // The config names the model it came from: use that repo's tokenizer or none, never another repo's.
    const repoDir = join(hub, repoFolderName(hint.name));
    searched.push(join(repoDir, 'snapshots'));
    const file = snapshotTokenizerFile(repoDir);
    if (file) return fromCache(file, hint.name);
    throw notFound(checkpoint, searched, `; ${hint.configFile} names "${hint.name}", which is not in the Hugging Face cache ${hub}`);
  }

  // Nothing names the tokenizer: take the cache's only usable tokenizer, and refuse to pick among several.
  searched.push(`${hub} (every cached model)`);
  const candidates = cachedTokenizerFiles(hub);
  const usable: FoundTokenizer[] = [];
  for (const { repo, file } of candidates) {
    let found: FoundTokenizer;
    try {
      found = fromCache(file, repo);
    } catch (e) {
      if (isInputError(e)) continue; // e.g. a SentencePiece model cached for something else
      throw e;
    }
    if (modelVocabSize !== null && found.tokenizer.vocabSize > modelVocabSize) continue;
    usable.push(found);
    if (usable.length > 1) break;
  }
  if (usable.length === 1) return usable[0]!;
  if (usable.length > 1) {
    const names = candidates.map((c) => c.repo).join(', ');
    throw notFound(checkpoint, searched, `; the Hugging Face cache holds several tokenizers (${names}) and no config.json names one: choose the tokenizer file explicitly`);
  }
  throw notFound(checkpoint, searched, '');
}

/**
 * The tokenizer file of an explicit choice: the file itself, the tokenizer file in a folder, or
 * the newest snapshot's of a Hugging Face cache entry (`models--org--name`).
 */
function explicitTokenizerFile(path: string): string {
  if (!isDirectory(path)) return path;
  const file = tokenizerFileIn(path) ?? snapshotTokenizerFile(path);
  if (file) return file;
  throw new InputError(path, `no ${TOKENIZER_JSON} or ${VOCAB_TXT} in this folder${listDir(join(path, 'snapshots')).length ? ' nor in its snapshots' : ''}`);
}

/** The Hugging Face cache's tokenizers (`HF_HUB_CACHE`, `HF_HOME`, ~/.cache/huggingface/hub), for a picker. */
export function cachedTokenizers(env: Readonly<Record<string, string | undefined>> = process.env, home: string = homedir()): Array<{ repo: string; file: string }> {
  return cachedTokenizerFiles(hubCacheDir(env, home));
}

function fromCache(file: string, repo: string): FoundTokenizer {
  return { tokenizer: loadTokenizer(file), path: file, origin: 'hf-cache', repo, description: `${basename(file)} from the Hugging Face cache (${repo}, ${file})` };
}

function notFound(checkpoint: string, searched: string[], extra: string): InputError {
  return new InputError(checkpoint, `no tokenizer found: looked for ${TOKENIZER_JSON} or ${VOCAB_TXT} in ${searched.join(', ')}${extra}`);
}

/** The hub cache folder, with the precedence huggingface_hub uses. */
export function hubCacheDir(env: Readonly<Record<string, string | undefined>>, home: string): string {
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  if (env.HUGGINGFACE_HUB_CACHE) return env.HUGGINGFACE_HUB_CACHE;
  if (env.HF_HOME) return join(env.HF_HOME, 'hub');
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, 'huggingface', 'hub');
  return join(home, '.cache', 'huggingface', 'hub');
}

/** "org/name" -> "models--org--name", the cache's folder for a model repo. */
export function repoFolderName(repo: string): string {
  return `models--${repo.split('/').join('--')}`;
}

/** A hub repo id: "name" or "org/name" made of letters, digits, "-", "_" and ".". */
function isRepoId(name: string): boolean {
  return /^[\w.-]+(\/[\w.-]+)?$/.test(name) && !name.includes('..');
}

/**
 * The tokenizer file of a cached repo: the snapshot refs/main points to first (the revision the
 * hub library would load), then the other snapshots, newest first.
 */
function snapshotTokenizerFile(repoDir: string): string | null {
  const snapshots = join(repoDir, 'snapshots');
  const revisions = listDir(snapshots).filter((r) => isDirectory(join(snapshots, r)));
  let main: string | null = null;
  try {
    main = readFileSync(join(repoDir, 'refs', 'main'), 'utf8').trim();
  } catch {
    // No refs/main (e.g. only a pinned revision was downloaded): fall back to modification times.
  }
  const mtime = (r: string): number => statSync(join(snapshots, r)).mtimeMs;
  revisions.sort((a, b) => (a === main ? -1 : b === main ? 1 : mtime(b) - mtime(a)));
  for (const revision of revisions) {
    const file = tokenizerFileIn(join(snapshots, revision));
    if (file) return file;
  }
  return null;
}

/** Every cached model repo that holds a tokenizer file, sorted by repo id. */
function cachedTokenizerFiles(hub: string): Array<{ repo: string; file: string }> {
  const found: Array<{ repo: string; file: string }> = [];
  for (const entry of listDir(hub).sort()) {
    if (!entry.startsWith('models--')) continue;
    const file = snapshotTokenizerFile(join(hub, entry));
    if (file) found.push({ repo: entry.slice('models--'.length).split('--').join('/'), file });
  }
  return found;
}

/**
 * The tokenizer hint of a config.json. The file belongs to the checkpoint, not to us: an unreadable
 * or unexpected one only means there is no hint, so it never stops the search.
 */
function readConfigHint(configFile: string): ConfigHint | null {
  let json: unknown;
  try {
    // Bounded as every config read is (size and nesting, ../util/jsonLimits.ts); any problem: no hint.
    const stat = statSync(configFile);
    if (!stat.isFile() || stat.size > MAX_CONFIG_HINT_BYTES) return null;
    json = parseJsonBounded(readFileSync(configFile, 'utf8'), configFile, 'the config');
  } catch {
    return null;
  }
  if (!isObject(json)) return null;
  const name = [json.tokenizer_name, json._name_or_path].find((v): v is string => typeof v === 'string' && v.trim() !== '');
  const vocabSize = Number.isSafeInteger(json.vocab_size) ? (json.vocab_size as number) : null;
  return { configFile, name: name?.trim() ?? null, vocabSize };
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function listDir(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}
