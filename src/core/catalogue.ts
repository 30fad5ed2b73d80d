/**
 * The worker's `catalogue`: each checkpoint path opened header-only (no weights read, no code run:
 * src/checkpoint/open.ts with the readers' own limits), its architecture detected (describeModel)
 * and its saved epoch / step read, then closed. At most MAX_CATALOGUE_PATHS paths per call;
 * results cached by path, size and mtime. Ordering and grouping: src/checkpoint/catalogue.ts.
 */
import { promises as fs } from 'node:fs';
import { openCheckpoint } from '../checkpoint/open';
import { MAX_CATALOGUE_PATHS, savedNumber, type CatalogueEntry } from '../checkpoint/catalogue';
import { describeModel } from '../model/spec';
import { isInputError } from '../util/errors';

const cache = new Map<string, CatalogueEntry>();

/** Opens each path header-only (no weights), detects its architecture, closes it. */
export async function catalogueFiles(paths: readonly string[], opts: { arch?: string } = {}): Promise<CatalogueEntry[]> {
  if (paths.length > MAX_CATALOGUE_PATHS) throw new RangeError(`catalogue takes at most ${MAX_CATALOGUE_PATHS} paths per call, got ${paths.length}`);
  const out: CatalogueEntry[] = [];
  for (const path of paths) {
    let stat;
    try {
      stat = await fs.stat(path);
    } catch (e) {
      out.push({ path, model: false, epoch: null, step: null, mtimeMs: 0, size: 0, problem: `cannot read (${(e as NodeJS.ErrnoException).code})` });
      continue;
    }
    const key = `${path}\0${stat.size}\0${stat.mtimeMs}\0${opts.arch ?? ''}`;
    const known = cache.get(key);
    if (known) {
      out.push(known);
      continue;
    }
    const entry: CatalogueEntry = { path, model: false, epoch: null, step: null, mtimeMs: stat.mtimeMs, size: stat.size };
    try {
      const checkpoint = await openCheckpoint(path);
      try {
        entry.epoch = savedNumber(checkpoint.metadata, 'epoch');
        entry.step = savedNumber(checkpoint.metadata, 'step');
        const described = await describeModel(checkpoint, { archPath: opts.arch });
        entry.model = described.recognized;
        if (described.recognized) entry.architecture = described.spec.architecture;
      } finally {
        await checkpoint.close();
      }
    } catch (e) {
      entry.problem = isInputError(e) ? e.message : `${path}: ${(e as Error)?.message ?? String(e)}`;
    }
    if (cache.size > 4 * MAX_CATALOGUE_PATHS) cache.clear();
    cache.set(key, entry);
    out.push(entry);
  }
  return out;
}

