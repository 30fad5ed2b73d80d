/**
 * Live training runs: "Watch Training Run…" follows a checkpoint folder (src/core/runWatch.ts
 * decides when a file is a complete checkpoint), opens its latest checkpoint beside the editor,
 * and tells every checkpoint view of that folder about each new one (its drift view then takes
 * it in). A status bar item shows the run and the last checkpoint's saved val_loss / val_ppl;
 * clicking it stops watching. "Open Latest Checkpoint" opens the latest checkpoint of a folder.
 * "Latest" (both commands): by saved epoch, then step, when every checkpoint has one, then
 * modification time, then natural name order (src/checkpoint/catalogue.ts trainingOrder, on the
 * worker's header-only `catalogue`); a copy or clone resets mtimes but not the saved epochs.
 */
import * as vscode from 'vscode';
import { CHECKPOINT_EXTENSIONS } from '../checkpoint/files';
import { markdownCode, markdownText, notificationText, terminalSafe } from '../util/safeText';
import { basename, join, resolve } from 'node:path';
import { RunWatcher, checkpointsOldestFirst, type CheckpointEvent } from '../core/runWatch';
import { latestCheckpoint } from '../checkpoint/catalogue';
import { CHECKPOINT_BIN_VIEW_TYPE, CHECKPOINT_VIEW_TYPE } from './checkpointEditor';
import type { PanelContext } from './checkpointPanel';
import { asError } from './computeService';

export const WATCH_RUN_COMMAND = 'grassmannLens.watchTrainingRun';
export const STOP_WATCHING_COMMAND = 'grassmannLens.stopWatchingRun';
export const OPEN_LATEST_COMMAND = 'grassmannLens.openLatestCheckpoint';

export interface RunCheckpoint extends CheckpointEvent {
  folder: string;
  /** Saved scalars (epoch, val_loss, ...) when the file has them. */
  metadata: Record<string, unknown>;
}

interface Watch {
  watcher: RunWatcher;
  fsWatcher: vscode.FileSystemWatcher;
  count: number;
  last?: RunCheckpoint;
  /** Open the first checkpoint when it arrives (the folder was empty). */
  openFirst: boolean;
}

/** The folders being watched, and the event every checkpoint view listens to. */
export class RunWatches implements vscode.Disposable {
  private readonly watches = new Map<string, Watch>();
  private readonly emitter = new vscode.EventEmitter<RunCheckpoint>();
  /** A new (or rewritten) complete checkpoint in a watched folder. */
  readonly onDidAddCheckpoint = this.emitter.event;
  private readonly status = vscode.window.createStatusBarItem('grassmannLens.run', vscode.StatusBarAlignment.Left, 90);

  constructor(private readonly ctx: PanelContext) {
    this.status.name = 'Grassmann Lens: training run';
    this.status.command = STOP_WATCHING_COMMAND;
  }

  isWatched(folder: string): boolean {
    return this.watches.has(resolve(folder));
  }

  folders(): string[] {
    return [...this.watches.keys()];
  }

  /** Starts following `folder` (idempotent); returns its checkpoints so far, oldest first. */
  async watch(folder: string): Promise<string[]> {
    const key = resolve(folder);
    const existing = this.watches.get(key);
    if (existing) return existingCheckpoints(key);
    const watcher = new RunWatcher(key, {
      onCheckpoint: (event) => void this.arrived(key, event),
      onProblem: (path, message) => {
        this.ctx.output.appendLine(`Watching ${key}: ${basename(path)} stopped changing but cannot be read yet: ${message}`);
      },
    });
    const fsWatcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(key), '*'));
    const notice = (uri: vscode.Uri): void => watcher.notice(uri.fsPath);
    fsWatcher.onDidCreate(notice);
    fsWatcher.onDidChange(notice);
    const paths = await watcher.start();
    this.watches.set(key, { watcher, fsWatcher, count: paths.length, openFirst: paths.length === 0 });
    this.ctx.output.appendLine(`Watching ${key} for new checkpoints (${paths.length} there now).`);
    this.updateStatus();
    return paths;
  }

  /** The latest of `paths` by saved epoch / step (the worker's catalogue), else the last of them (oldest first by mtime). */
  async latest(paths: string[]): Promise<string | undefined> {
    if (!paths.length) return undefined;
    try {
      const entries = await this.ctx.compute.request('catalogue', { paths: paths.slice(-500) });
      const latest = latestCheckpoint(entries);
      if (latest) return latest.path;
    } catch (e) {
      this.ctx.output.appendLine(`Ordering ${paths.length} checkpoints by saved epoch failed (${asError(e).message}): the newest file is taken`);
    }
    return paths[paths.length - 1];
  }

  stop(folder: string): void {
    const key = resolve(folder);
    const w = this.watches.get(key);
    if (!w) return;
    w.watcher.dispose();
    w.fsWatcher.dispose();
    this.watches.delete(key);
    this.ctx.output.appendLine(`Stopped watching ${key}.`);
    this.updateStatus();
  }

  private async arrived(folder: string, event: CheckpointEvent): Promise<void> {
    const w = this.watches.get(folder);
    if (!w) return;
    let metadata: Record<string, unknown> = {};
    try {
      metadata = (await this.ctx.compute.request('modelReport', { path: event.path })).metadata;
    } catch (e) {
      // Not a model the worker recognises: still a checkpoint of the run (drift compares tensors by name).
      this.ctx.output.appendLine(`${event.path}: ${asError(e).message}`);
    }
    if (!this.watches.has(folder)) return;
    const checkpoint: RunCheckpoint = { ...event, folder, metadata };
    if (!event.rewritten) w.count++;
    w.last = checkpoint;
    const saved = describeMetadata(metadata);
    this.ctx.output.appendLine(`${event.rewritten ? 'Rewritten' : 'New'} checkpoint ${event.path}${saved ? ` (${saved})` : ''}`);
    this.updateStatus();
    this.emitter.fire(checkpoint);
    if (w.openFirst) {
      w.openFirst = false;
      await openBeside(event.path);
    }
  }

  private updateStatus(): void {
    const all = [...this.watches.entries()];
    void vscode.commands.executeCommand('setContext', 'grassmannLens.watchingRun', all.length > 0);
    if (!all.length) {
      this.status.hide();
      return;
    }
    const [folder, w] = all[all.length - 1];
    const saved = w.last ? describeMetadata(w.last.metadata) : '';
    this.status.text = `$(eye) ${basename(folder)}: ${w.count} checkpoint${w.count === 1 ? '' : 's'}${saved ? `, ${terminalSafe(saved, 80).replace(/\$\(/g, '$\u200b(')}` : ''}`;
    this.status.tooltip = new vscode.MarkdownString(
      // Folder and file names and the checkpoint's metadata are untrusted: escaped (../util/safeText.ts).
      [`**Grassmann Lens is watching** ${all.map(([f]) => markdownCode(f, 1000)).join(', ')}`, w.last ? `Last: ${markdownCode(basename(w.last.path))}${saved ? ` — ${markdownText(saved, 500)}` : ''}` : 'No new checkpoint yet.', 'Click to stop watching.'].join('\n\n'),
    );
    this.status.show();
  }

  dispose(): void {
    for (const folder of [...this.watches.keys()]) this.stop(folder);
    this.emitter.dispose();
    this.status.dispose();
  }
}

/** "epoch 3, val_loss 3.688, val_ppl 39.98" from the saved scalars that are there. */
export function describeMetadata(metadata: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const key of ['epoch', 'step', 'val_loss', 'val_ppl']) {
    const v = metadata[key];
    const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
    if (Number.isFinite(n)) parts.push(`${key} ${Number.isInteger(n) ? n : n.toPrecision(4)}`);
  }
  return parts.join(', ');
}

/** Checkpoint files of a folder, oldest first by modification time. */
export async function existingCheckpoints(folder: string): Promise<string[]> {
  return (await checkpointsOldestFirst(folder)).map((c) => c.path);
}

async function openBeside(path: string): Promise<void> {
  try {
    // Beside the training script, which keeps the focus.
    const viewType = path.toLowerCase().endsWith('.bin') ? CHECKPOINT_BIN_VIEW_TYPE : CHECKPOINT_VIEW_TYPE;
    await vscode.commands.executeCommand('vscode.openWith', vscode.Uri.file(path), viewType, { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true });
  } catch (e) {
    void vscode.window.showErrorMessage(`Grassmann Lens: cannot open ${path}: ${notificationText(asError(e).message)}`);
  }
}

/** The folder a command was given (explorer Uri, a path string from a CodeLens), else asked for. */
async function folderArgument(target: unknown, title: string): Promise<string | undefined> {
  if (target instanceof vscode.Uri) {
    const stat = await vscode.workspace.fs.stat(target).then((s) => s, () => undefined);
    return stat && stat.type & vscode.FileType.Directory ? target.fsPath : join(target.fsPath, '..');
  }
  if (typeof target === 'string' && target) return target;
  const picked = await vscode.window.showOpenDialog({
    title,
    openLabel: 'Watch',
    canSelectFiles: false,
    canSelectFolders: true,
    canSelectMany: false,
    defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
  });
  return picked?.[0]?.fsPath;
}

export async function watchTrainingRun(runs: RunWatches, target?: unknown): Promise<void> {
  const folder = await folderArgument(target, 'Watch Training Run: the folder the training script saves checkpoints into');
  if (!folder) return;
  const paths = await runs.watch(folder);
  const latest = await runs.latest(paths);
  if (latest) await openBeside(latest);
  else void vscode.window.showInformationMessage(`Grassmann Lens is watching ${folder}: its first checkpoint opens here once it is completely written.`);
}

export async function stopWatchingRun(runs: RunWatches): Promise<void> {
  const folders = runs.folders();
  if (!folders.length) return;
  const folder = folders.length === 1 ? folders[0] : (await vscode.window.showQuickPick(folders, { title: 'Stop watching which run?' }));
  if (folder) runs.stop(folder);
}

export async function openLatestCheckpoint(runs: RunWatches, target?: unknown): Promise<void> {
  const folder = await folderArgument(target, 'Open Latest Checkpoint of a folder');
  if (!folder) return;
  const paths = await existingCheckpoints(folder);
  if (!paths.length) {
    void vscode.window.showInformationMessage(`${folder} holds no checkpoint yet (${CHECKPOINT_EXTENSIONS.map((e) => `.${e}`).join(', ')}).`);
    return;
  }
  await openBeside((await runs.latest(paths))!);
}
