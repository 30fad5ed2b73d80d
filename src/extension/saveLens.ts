/**
 * CodeLens over the checkpoint saves of Python training scripts: above each `torch.save(...)` and
 * safetensors `save_file(...)` call, "Open latest checkpoint" and "Watch this run" for the folder
 * the call writes to (./pythonSaves.ts reads it off the source; when it cannot, the commands ask).
 * A relative folder is taken relative to the workspace folder of the script (where training is
 * usually started), or to the script's own folder when only that one exists.
 */
import * as vscode from 'vscode';
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { findSaveCalls } from './pythonSaves';
import { OPEN_LATEST_COMMAND, WATCH_RUN_COMMAND } from './runs';

/** The folder on disk for a folder as written in `document` (undefined stays undefined). */
export function resolveRunFolder(document: vscode.TextDocument, folder: string | undefined): string | undefined {
  if (folder === undefined) return undefined;
  if (isAbsolute(folder)) return folder;
  const workspace = vscode.workspace.getWorkspaceFolder(document.uri)?.uri.fsPath;
  const candidates = [workspace, dirname(document.uri.fsPath)].filter((c): c is string => !!c).map((base) => join(base, folder));
  return candidates.find((c) => existsSync(c)) ?? candidates[0];
}

export class SaveCallLensProvider implements vscode.CodeLensProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.changed.event;
  private readonly subscription = vscode.workspace.onDidChangeConfiguration((e) => {
    if (e.affectsConfiguration('grassmannLens.codeLens.checkpointSaves')) this.changed.fire();
  });

  provideCodeLenses(document: vscode.TextDocument): vscode.CodeLens[] {
    if (!vscode.workspace.getConfiguration('grassmannLens').get<boolean>('codeLens.checkpointSaves', true)) return [];
    const lenses: vscode.CodeLens[] = [];
    for (const call of findSaveCalls(document.getText())) {
      const range = new vscode.Range(call.line, call.character, call.line, call.character + call.call.length);
      const folder = resolveRunFolder(document, call.folder);
      const where = folder ?? `(${call.pathText || 'the path'} is computed at run time: you pick the folder)`;
      lenses.push(
        new vscode.CodeLens(range, { title: 'Open latest checkpoint', command: OPEN_LATEST_COMMAND, arguments: folder ? [folder] : [], tooltip: `Grassmann Lens: open the newest checkpoint in ${where}` }),
        new vscode.CodeLens(range, { title: 'Watch this run', command: WATCH_RUN_COMMAND, arguments: folder ? [folder] : [], tooltip: `Grassmann Lens: follow ${where} as training writes checkpoints` }),
      );
    }
    return lenses;
  }

  dispose(): void {
    this.subscription.dispose();
    this.changed.dispose();
  }
}
