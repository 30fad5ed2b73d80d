/**
 * Description files (`grassmann-lens.arch.json`): a researcher's own implementation as data
 * (format: ./architecture.ts parseArchitectureFile; JSON Schema: media/grassmann-lens.arch.schema.json).
 *
 * Which description a checkpoint follows, in order:
 *   1. an explicit file (the CLI's --arch, the setting grassmannLens.architectureFile): any
 *      problem is an InputError naming the file (and the field);
 *   2. a `grassmann-lens.arch.json` in the checkpoint's folder or up to MAX_PARENT_LEVELS folders
 *      above it (as config.json is found, ./config.ts): the nearest one is tried first, then the
 *      built-ins (a folder of runs may hold models of several implementations); a problem in it
 *      is a warning and it is ignored;
 *   3. the built-in descriptions (BUILT_IN_ARCHITECTURES).
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { InputError } from '../util/errors';
import { parseJsonBounded } from '../util/jsonLimits';
import {
  ARCHITECTURE_FILE_NAME,
  MAX_ARCHITECTURE_FILE_BYTES,
  parseArchitectureFile,
  type ArchitectureDescription,
} from './architecture';
import { candidatesBesideOrAbove, firstExistingFile } from './config';

/** Candidate description files: the checkpoint's folder, then up to MAX_PARENT_LEVELS parents. */
export const architectureFileCandidates = (checkpointPath: string): Promise<string[]> => candidatesBesideOrAbove(checkpointPath, ARCHITECTURE_FILE_NAME);

/** The nearest existing grassmann-lens.arch.json beside or above the checkpoint, or null. */
export async function findArchitectureFile(checkpointPath: string): Promise<string | null> {
  return firstExistingFile(await architectureFileCandidates(checkpointPath));
}

/** Where a description file goes for a checkpoint: beside it (inside it, for a model folder). */
export async function architectureFileBeside(checkpointPath: string): Promise<string> {
  return (await architectureFileCandidates(checkpointPath))[0];
}

/** Reads, parses and validates a description file; every problem is an InputError naming it. */
export async function readArchitectureFile(file: string): Promise<ArchitectureDescription> {
  let text: string;
  try {
    const stat = await fs.stat(file);
    if (!stat.isFile()) throw new InputError(file, 'not a regular file (expected an architecture description, grassmann-lens.arch.json)');
    const tooBig = (size: number): InputError =>
      new InputError(file, `is ${size} bytes, more than the ${MAX_ARCHITECTURE_FILE_BYTES} an architecture description may have`);
    if (stat.size > MAX_ARCHITECTURE_FILE_BYTES) throw tooBig(stat.size);
    // Read at most one byte past the bound, whatever the file has grown to since.
    const handle = await fs.open(file, 'r');
    try {
      const buffer = Buffer.alloc(MAX_ARCHITECTURE_FILE_BYTES + 1);
      let length = 0;
      for (;;) {
        const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
        if (bytesRead === 0) break;
        length += bytesRead;
        if (length > MAX_ARCHITECTURE_FILE_BYTES) throw tooBig((await handle.stat()).size);
      }
      text = buffer.subarray(0, length).toString('utf8');
    } finally {
      await handle.close();
    }
  } catch (e) {
    if (e instanceof InputError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(file, code === 'ENOENT' ? 'no such architecture description file' : `cannot read (${code ?? String(e)})`);
  }
  // Untrusted JSON: nesting past MAX_JSON_DEPTH (64) is refused, objects have a null prototype.
  return parseArchitectureFile(file, parseJsonBounded(text, file, 'the architecture description'));
}

export interface ResolvedArchitecture {
  /** The description to try first, or null: the built-ins. */
  description: ArchitectureDescription | null;
  /** Explicit (--arch, the setting): only it is tried. Found beside the checkpoint: tried first. */
  explicit: boolean;
  /** A found file that was ignored, and why. */
  warnings: string[];
}

/**
 * The description a checkpoint follows (see the top of this file).
 * @param explicitFile --arch / grassmannLens.architectureFile; its problems throw InputError.
 */
export async function resolveArchitecture(checkpointPath: string, explicitFile?: string): Promise<ResolvedArchitecture> {
  if (explicitFile !== undefined && explicitFile !== '') {
    return { description: await readArchitectureFile(path.resolve(explicitFile)), explicit: true, warnings: [] };
  }
  const found = await findArchitectureFile(checkpointPath);
  if (!found) return { description: null, explicit: false, warnings: [] };
  try {
    return { description: await readArchitectureFile(found), explicit: false, warnings: [] };
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    return { description: null, explicit: false, warnings: [`ignored ${e.message}`] };
  }
}

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

/** A description file's JSON (the format parseArchitectureFile reads). */
export interface ArchitectureFileJson {
  $schema?: string;
  name: string;
  label: string;
  tensors: Record<string, string | null>;
  options: Record<string, unknown>;
  windows: { form: string; default?: number[] | Record<string, number[] | string> };
  config: Record<string, unknown>;
  /** What describe-arch could not decide (ignored on read). */
  undecided?: string[];
}

/** A description as a file: parsing it gives the same description (but for where it comes from). */
export function architectureFileJson(description: ArchitectureDescription): ArchitectureFileJson {
  const rule = description.defaultWindows;
  let windowsDefault: ArchitectureFileJson['windows']['default'];
  if (rule.fixed) windowsDefault = [...rule.fixed];
  else windowsDefault = { ...Object.fromEntries(Object.entries(rule.byDepth).map(([k, v]) => [k, [...v]])), otherwise: rule.otherwise };
  return {
    name: description.id,
    label: description.label,
    tensors: { ...description.tensors },
    options: { ...description.options },
    windows: { form: description.windowForm, default: windowsDefault },
    config: JSON.parse(JSON.stringify(description.config)) as Record<string, unknown>,
  };
}

/** The file's text: two-space JSON, one role per line, lists of numbers and key names on one line. */
export function architectureFileText(json: ArchitectureFileJson): string {
  const format = (value: unknown, indent: string): string => {
    if (Array.isArray(value) && value.every((v) => typeof v === 'number' || (typeof v === 'string' && v.length <= 40))) {
      return `[${value.map((v) => JSON.stringify(v)).join(', ')}]`;
    }
    if (typeof value !== 'object' || value === null) return JSON.stringify(value);
    const inner = indent + '  ';
    const entries = Array.isArray(value)
      ? value.map((v) => inner + format(v, inner))
      : Object.entries(value).filter(([, v]) => v !== undefined).map(([k, v]) => `${inner}${JSON.stringify(k)}: ${format(v, inner)}`);
    if (entries.length === 0) return Array.isArray(value) ? '[]' : '{}';
    const [open, close] = Array.isArray(value) ? ['[', ']'] : ['{', '}'];
    return `${open}\n${entries.join(',\n')}\n${indent}${close}`;
  };
  return format(json, '') + '\n';
}
