/**
 * Following a training run's checkpoint folder: which checkpoint files are new, and when each is
 * completely written.
 *
 * torch.save and safetensors' save_file write in place: a watcher sees the file appear, then grow
 * (change events, or none at all on some file systems) until the writer closes it. A checkpoint is
 * taken as complete when its size and modification time have not changed over `stableChecks`
 * looks `intervalMs` apart AND it opens: the zip's central directory (torch) or the safetensors
 * header and data length check out (src/checkpoint/open.ts, which reads no weights and runs no
 * code). A file that stays the same size but will not open is reported once as a problem after
 * `giveUpMs`; if it changes later it is looked at again. A file written again under the same
 * name (best.pt each time validation improves) is reported again, as a new version.
 *
 * File-system events (`notice`) make it quick; a folder scan every `scanMs` makes it robust to
 * missed events. No vscode: the extension feeds it its FileSystemWatcher's events.
 */
import { promises as fs } from 'node:fs';
import { basename, join } from 'node:path';
import { openCheckpoint } from '../checkpoint/open';
import { compareNames, isCheckpointName } from '../checkpoint/files';
import { isInputError } from '../util/errors';

export interface RunWatchOptions {
  /** Time between two looks at a file that is still being written. */
  intervalMs?: number;
  /** Consecutive looks with the same size and mtime before the file is tried. */
  stableChecks?: number;
  /** Time between folder scans (a fallback for missed events); 0: none. */
  scanMs?: number;
  /** A file that is stable but does not open is reported as a problem after this long. */
  giveUpMs?: number;
  /** A complete checkpoint (new, or written again). */
  onCheckpoint(event: CheckpointEvent): void;
  /** A file that stopped changing but cannot be read as a checkpoint. */
  onProblem?(path: string, message: string): void;
}

export interface CheckpointEvent {
  path: string;
  size: number;
  mtimeMs: number;
  /** True when this path was reported (or present at start) before: the file was written again. */
  rewritten: boolean;
}

interface Candidate {
  size: number;
  mtimeMs: number;
  stable: number;
  since: number;
  problemReported: boolean;
  timer?: NodeJS.Timeout;
}


/** The checkpoint files of a folder with their size and mtime, oldest first (ties by name); none if it cannot be read. */
export async function checkpointsOldestFirst(folder: string): Promise<{ path: string; size: number; mtimeMs: number }[]> {
  let names: string[];
  try {
    names = (await fs.readdir(folder)).filter(isCheckpointName);
  } catch {
    return [];
  }
  const found: { path: string; size: number; mtimeMs: number }[] = [];
  for (const name of names) {
    const path = join(folder, name);
    try {
      const st = await fs.stat(path);
      found.push({ path, size: st.size, mtimeMs: st.mtimeMs });
    } catch {
      // removed meanwhile
    }
  }
  return found.sort((a, b) => a.mtimeMs - b.mtimeMs || compareNames(a.path, b.path));
}

export class RunWatcher {
  private readonly known = new Map<string, { size: number; mtimeMs: number }>();
  private readonly candidates = new Map<string, Candidate>();
  private scanTimer: NodeJS.Timeout | undefined;
  private disposed = false;
  private readonly intervalMs: number;
  private readonly stableChecks: number;
  private readonly giveUpMs: number;

  constructor(readonly folder: string, private readonly options: RunWatchOptions) {
    this.intervalMs = options.intervalMs ?? 500;
    this.stableChecks = Math.max(1, options.stableChecks ?? 2);
    this.giveUpMs = options.giveUpMs ?? 10_000;
  }

  /**
   * Records the checkpoints already in the folder (not reported) and starts scanning. Returns
   * them, oldest first by modification time.
   */
  async start(): Promise<string[]> {
    const existing = await checkpointsOldestFirst(this.folder);
    for (const { path, size, mtimeMs } of existing) this.known.set(path, { size, mtimeMs });
    const scanMs = this.options.scanMs ?? 2000;
    if (scanMs > 0 && !this.disposed) {
      this.scanTimer = setInterval(() => void this.scan(), scanMs);
      this.scanTimer.unref?.();
    }
    return existing.map((e) => e.path);
  }

  /** A file-system event for `path` (created or changed). */
  notice(path: string): void {
    if (this.disposed || !isCheckpointName(basename(path))) return;
    if (!this.candidates.has(path)) {
      this.candidates.set(path, { size: -1, mtimeMs: -1, stable: 0, since: Date.now(), problemReported: false });
      this.schedule(path, 0);
    }
  }

  /** Looks for files that are new or changed since last seen (what events may have missed). */
  async scan(): Promise<void> {
    if (this.disposed) return;
    for (const name of await this.checkpointNames()) {
      const path = join(this.folder, name);
      if (this.candidates.has(path)) continue;
      try {
        const st = await fs.stat(path);
        const seen = this.known.get(path);
        if (!seen || seen.size !== st.size || seen.mtimeMs !== st.mtimeMs) this.notice(path);
      } catch {
        // removed meanwhile
      }
    }
  }

  dispose(): void {
    this.disposed = true;
    clearInterval(this.scanTimer);
    for (const c of this.candidates.values()) clearTimeout(c.timer);
    this.candidates.clear();
  }

  private async checkpointNames(): Promise<string[]> {
    try {
      return (await fs.readdir(this.folder)).filter(isCheckpointName);
    } catch {
      return [];
    }
  }

  private schedule(path: string, delay: number): void {
    const c = this.candidates.get(path);
    if (!c || this.disposed) return;
    c.timer = setTimeout(() => void this.look(path), delay);
    c.timer.unref?.();
  }

  private async look(path: string): Promise<void> {
    const c = this.candidates.get(path);
    if (!c || this.disposed) return;
    let st;
    try {
      st = await fs.stat(path);
    } catch {
      this.candidates.delete(path); // removed (a temporary file renamed away, say)
      return;
    }
    if (st.size !== c.size || st.mtimeMs !== c.mtimeMs) {
      c.size = st.size;
      c.mtimeMs = st.mtimeMs;
      c.stable = 0;
      c.since = Date.now();
      c.problemReported = false;
      this.schedule(path, this.intervalMs);
      return;
    }
    c.stable++;
    if (c.stable < this.stableChecks) {
      this.schedule(path, this.intervalMs);
      return;
    }
    const seen = this.known.get(path);
    if (seen && seen.size === st.size && seen.mtimeMs === st.mtimeMs) {
      this.candidates.delete(path); // an event for a file we already have as it is
      return;
    }
    const problem = await readable(path);
    if (this.disposed || this.candidates.get(path) !== c) return;
    if (problem === undefined) {
      this.candidates.delete(path);
      this.known.set(path, { size: st.size, mtimeMs: st.mtimeMs });
      this.options.onCheckpoint({ path, size: st.size, mtimeMs: st.mtimeMs, rewritten: seen !== undefined });
      return;
    }
    if (!c.problemReported && Date.now() - c.since >= this.giveUpMs) {
      c.problemReported = true;
      this.options.onProblem?.(path, problem);
    }
    this.schedule(path, this.intervalMs);
  }
}

/** undefined when the checkpoint opens (header and layout; no weights read), else why not. */
async function readable(path: string): Promise<string | undefined> {
  try {
    const checkpoint = await openCheckpoint(path);
    await checkpoint.close();
    return undefined;
  } catch (e) {
    return isInputError(e) ? e.message : `${path}: ${(e as Error)?.message ?? String(e)}`;
  }
}
