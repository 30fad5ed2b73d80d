/**
 * The read-only checkpoint editor (custom editor for *.safetensors, *.pt, *.pth, *.ckpt by
 * default, *.bin on request) and the "Open Checkpoint…" panel for Hugging Face-style folders.
 * Both host the same webview app (webview/), driven by a CheckpointPanel.
 */
import * as vscode from 'vscode';
import { CheckpointPanel, type PanelContext } from './checkpointPanel';

/** Default editor for the unambiguous checkpoint extensions. */
export const CHECKPOINT_VIEW_TYPE = 'grassmannLens.checkpoint';
/** `.bin` is generic: offered as an option only. */
export const CHECKPOINT_BIN_VIEW_TYPE = 'grassmannLens.checkpointBin';
/** A folder (config.json + weights + tokenizer) opened from the command. */
export const FOLDER_VIEW_TYPE = 'grassmannLens.folder';

/** Model folders open in a panel, with how many panels show each (their tabs carry no URI to find them by). */
const openFolders = new Map<string, number>();

/** Checkpoints open in a Grassmann Lens editor or panel (file paths and model folders), each once. */
export function openCheckpointPaths(): string[] {
  const paths = new Set<string>();
  for (const group of vscode.window.tabGroups.all) {
    for (const tab of group.tabs) {
      const input = tab.input;
      if (!(input instanceof vscode.TabInputCustom) || input.uri.scheme !== 'file') continue;
      if (input.viewType === CHECKPOINT_VIEW_TYPE || input.viewType === CHECKPOINT_BIN_VIEW_TYPE) paths.add(input.uri.fsPath);
    }
  }
  for (const folder of openFolders.keys()) paths.add(folder);
  return [...paths];
}

export class CheckpointEditorProvider implements vscode.CustomReadonlyEditorProvider {
  constructor(private readonly ctx: PanelContext) {}

  openCustomDocument(uri: vscode.Uri): vscode.CustomDocument {
    return { uri, dispose: () => undefined };
  }

  resolveCustomEditor(document: vscode.CustomDocument, panel: vscode.WebviewPanel): void {
    const { uri } = document;
    if (uri.scheme !== 'file') {
      panel.webview.options = { enableScripts: false, localResourceRoots: [] };
      panel.webview.html = `<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="default-src 'none';"></head><body><p id="error">${uri.toString().replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)}: only checkpoints on a local or remote disk can be opened, not ${uri.scheme}: resources</p></body></html>`;
      return;
    }
    const controller = new CheckpointPanel(panel.webview, uri.fsPath, false, this.ctx);
    panel.onDidDispose(() => controller.dispose());
  }
}

/** Opens a checkpoint file in the custom editor, or a folder in a panel of its own. */
export async function openCheckpointTarget(ctx: PanelContext, uri: vscode.Uri): Promise<void> {
  const stat = await vscode.workspace.fs.stat(uri);
  if (stat.type & vscode.FileType.Directory) {
    const name = uri.path.slice(uri.path.lastIndexOf('/') + 1);
    const panel = vscode.window.createWebviewPanel(FOLDER_VIEW_TYPE, name, vscode.ViewColumn.Active, {
      enableScripts: true,
      retainContextWhenHidden: true,
      localResourceRoots: [vscode.Uri.joinPath(ctx.extensionUri, 'dist'), vscode.Uri.joinPath(ctx.extensionUri, 'media')],
    });
    const controller = new CheckpointPanel(panel.webview, uri.fsPath, true, ctx);
    openFolders.set(uri.fsPath, (openFolders.get(uri.fsPath) ?? 0) + 1);
    panel.onDidDispose(() => {
      controller.dispose();
      const left = (openFolders.get(uri.fsPath) ?? 1) - 1;
      if (left > 0) openFolders.set(uri.fsPath, left);
      else openFolders.delete(uri.fsPath);
    });
    return;
  }
  const viewType = uri.path.toLowerCase().endsWith('.bin') ? CHECKPOINT_BIN_VIEW_TYPE : CHECKPOINT_VIEW_TYPE;
  await vscode.commands.executeCommand('vscode.openWith', uri, viewType);
}
