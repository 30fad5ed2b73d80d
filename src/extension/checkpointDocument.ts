/**
 * One open checkpoint, however many editors and panels show it (VS Code's custom-editor
 * document / webview-collection pattern). The document owns the file watchers of the checkpoint
 * and of its architecture description, waits until a write has been quiet, drops the worker's
 * cached model once, and then tells every view showing it. Views subscribe with `onDidChange`.
 *
 * Nothing here imports `vscode`: the watchers and the worker's `forget` come in through a
 * `DocumentEnvironment`, so the fan-out and the debounce are unit-tested
 * (test/unit/checkpointDocument.test.ts) and the extension passes VS Code's watchers.
 */
import { basename, dirname, resolve } from 'node:path';
import { CHECKPOINT_PATTERNS } from '../checkpoint/files';

/** A changed checkpoint is read again after this long without further changes (torch.save streams it). */
export const CHECKPOINT_QUIET_MS = 600;

export interface Disposable {
  dispose(): void;
}

/** A file watcher: `listener` runs on every change or creation of a matching file. */
export type WatchFiles = (folder: string, glob: string, listener: () => void) => Disposable;

export interface DocumentEnvironment {
  watch: WatchFiles;
  /** Drops the worker's opened model of `path` (and everything cached from it). */
  forget(path: string): Promise<void>;
  /** A changed checkpoint is read again after this long without further changes. */
  quietMs: number;
}

/** The files that make up a checkpoint: what the document watches. */
export function watchedFiles(path: string, isFolder: boolean): { folder: string; glob: string }[] {
  const folder = isFolder ? path : dirname(path);
  return [
    // A folder model is its weights and config (not, say, the charts exported into it).
    { folder, glob: isFolder ? `{${CHECKPOINT_PATTERNS.join(',')},config.json,model.safetensors.index.json}` : basename(path) },
    // Its architecture description beside it (Describe Model Architecture…, edited by hand).
    { folder, glob: 'grassmann-lens.arch.json' },
  ];
}

export class CheckpointDocument implements Disposable {
  private readonly watchers: Disposable[];
  private readonly listeners = new Set<() => void>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private disposed = false;
  /** How many times the files changed and the views were told (once per quiet period). */
  changes = 0;

  constructor(
    /** The checkpoint file or model folder. */
    readonly path: string,
    readonly isFolder: boolean,
    private readonly env: DocumentEnvironment,
    private readonly onDispose: () => void = () => undefined,
  ) {
    this.watchers = watchedFiles(path, isFolder).map(({ folder, glob }) => env.watch(folder, glob, () => this.touched()));
  }

  /** The folder whose checkpoints are this one's run. */
  get runFolder(): string {
    return this.isFolder ? this.path : dirname(this.path);
  }

  /** Runs `listener` after each change on disk, once the worker has let go of the old model. */
  onDidChange(listener: () => void): Disposable {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  /**
   * A checkpoint being written fires several change events and is incomplete until the writer is
   * done (torch.save streams it): act once it has been quiet for a moment.
   */
  private touched(): void {
    if (this.disposed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.changed(), this.env.quietMs);
  }

  private async changed(): Promise<void> {
    if (this.disposed) return;
    await this.env.forget(this.path).catch(() => undefined);
    if (this.disposed) return;
    this.changes++;
    for (const listener of [...this.listeners]) listener();
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    clearTimeout(this.timer);
    for (const w of this.watchers) w.dispose();
    this.listeners.clear();
    this.onDispose();
  }
}

/**
 * The open documents, one per checkpoint path, each held by the views that show it: the last
 * `release` disposes it (its watchers go, the worker forgets the model).
 */
export class CheckpointDocuments {
  private readonly open = new Map<string, { doc: CheckpointDocument; holders: number }>();

  constructor(private readonly env: DocumentEnvironment) {}

  /** The document of `path`, opened if no view holds it yet; each call must be paired with `release`. */
  acquire(path: string, isFolder: boolean): CheckpointDocument {
    const key = resolve(path);
    const found = this.open.get(key);
    if (found) {
      found.holders++;
      return found.doc;
    }
    const doc = new CheckpointDocument(path, isFolder, this.env, () => {
      this.open.delete(key);
      void this.env.forget(path).catch(() => undefined);
    });
    this.open.set(key, { doc, holders: 1 });
    return doc;
  }

  release(doc: CheckpointDocument): void {
    const key = resolve(doc.path);
    const found = this.open.get(key);
    if (!found || found.doc !== doc) return;
    if (--found.holders <= 0) doc.dispose();
  }

  /** How many views hold `path` (0 when it is not open). */
  holders(path: string): number {
    return this.open.get(resolve(path))?.holders ?? 0;
  }

  /** The paths open, each once. */
  paths(): string[] {
    return [...this.open.values()].map((o) => o.doc.path);
  }

  /** Each open document: its path, how many hold it, how many changes on disk it has passed on. */
  state(): { path: string; holders: number; changes: number }[] {
    return [...this.open.values()].map((o) => ({ path: o.doc.path, holders: o.holders, changes: o.doc.changes }));
  }
}
