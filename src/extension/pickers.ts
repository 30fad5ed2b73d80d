/**
 * The flows' file pickers: checkpoints that open as models (the worker's `catalogue`), newest
 * first by saved epoch / step, grouped by folder, with the files not recognised as models behind
 * one "$(eye) N files not recognised as models…" item at the end that lists them; and text files
 * that can serve (no tokenizer files, nothing inside a pruning output), grouped by folder, the
 * checkpoint's folder and its parents first, newest first. Ordering: src/checkpoint/catalogue.ts.
 */
import * as vscode from 'vscode';
import { promises as fs } from 'node:fs';
import { dirname } from 'node:path';
import { checkpointGroups, textGroups, type CatalogueEntry, type TextFile } from '../checkpoint/catalogue';
import type { ComputeService } from './computeService';

export interface FileItem extends vscode.QuickPickItem {
  path?: string;
  action?: string;
}

const folderLabel = (folder: string): string => vscode.workspace.asRelativePath(folder, false);

/** Catalogues `uris` in the worker; undefined when it cannot (the caller then offers them unsorted). */
export async function catalogue(compute: ComputeService, paths: string[]): Promise<CatalogueEntry[] | undefined> {
  try {
    return await compute.request('catalogue', { paths: paths.slice(0, 500) });
  } catch {
    return undefined;
  }
}

function describeEntry(e: CatalogueEntry): string {
  return [e.epoch !== null ? `epoch ${e.epoch}` : '', e.step !== null ? `step ${e.step}` : ''].filter(Boolean).join(', ');
}

/**
 * Quick-pick items for the checkpoints among `paths` (except `skip`): a separator per folder,
 * then the models newest first; last, one item (action 'others') for the rest, when there are any.
 */
export async function checkpointPickItems(compute: ComputeService, paths: string[], skip?: string): Promise<{ items: FileItem[]; others: CatalogueEntry[] }> {
  const wanted = paths.filter((p) => p !== skip);
  const entries = await catalogue(compute, wanted);
  if (!entries) return { items: wanted.map((p) => ({ label: vscode.workspace.asRelativePath(p, false), path: p })), others: [] };
  const { groups, others } = checkpointGroups(entries);
  const items: FileItem[] = [];
  for (const g of groups) {
    items.push({ label: folderLabel(g.folder), kind: vscode.QuickPickItemKind.Separator });
    for (const e of g.entries) items.push({ label: vscode.workspace.asRelativePath(e.path, false), description: describeEntry(e), path: e.path });
  }
  if (others.length) {
    items.push({ label: '', kind: vscode.QuickPickItemKind.Separator });
    items.push({ label: `$(eye) ${others.length} file${others.length === 1 ? '' : 's'} not recognised as models…`, description: 'show them', action: 'others', alwaysShow: true });
  }
  return { items, others };
}

/** The second list behind the "not recognised" item: each file with why it is not a model. */
export async function pickOther(title: string, others: CatalogueEntry[]): Promise<string | undefined> {
  const picked = await vscode.window.showQuickPick(
    others.map((e) => ({
      label: vscode.workspace.asRelativePath(e.path, false),
      detail: e.problem ?? 'opens, but no built-in or described architecture fits its tensors (Describe Model Architecture… writes one)',
      path: e.path,
    })),
    { title, placeHolder: 'Files that are not recognised as models', ignoreFocusOut: true, matchOnDetail: true },
  );
  return picked?.path;
}

/** Text files that can serve as evaluation or reference text, found in the workspace. */
export async function textPickItems(glob: string, near?: string, skip?: string): Promise<FileItem[]> {
  const [found, pruning] = await Promise.all([
    vscode.workspace.findFiles(glob, '**/{node_modules,.git}/**', 500),
    vscode.workspace.findFiles('**/pruning.json', '**/{node_modules,.git}/**', 500),
  ]);
  const files: TextFile[] = [];
  for (const uri of found) {
    if (uri.fsPath === skip) continue;
    const st = await fs.stat(uri.fsPath).catch(() => undefined);
    if (st) files.push({ path: uri.fsPath, mtimeMs: st.mtimeMs });
  }
  const items: FileItem[] = [];
  for (const g of textGroups(files, pruning.map((u) => dirname(u.fsPath)), near)) {
    items.push({ label: folderLabel(g.folder), kind: vscode.QuickPickItemKind.Separator });
    for (const f of g.entries) items.push({ label: vscode.workspace.asRelativePath(f.path, false), path: f.path });
  }
  return items;
}
