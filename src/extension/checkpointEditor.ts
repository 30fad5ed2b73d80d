/**
 * The read-only checkpoint editor (custom editor for *.safetensors, *.pt, *.pth, *.ckpt by
 * default, *.bin on request) and the "Open Checkpoint…" panel for Hugging Face-style folders.
 * Both host the same webview app (webview/), driven by a CheckpointPanel; every view of one
 * checkpoint shares its CheckpointDocument (the watcher, the worker's opened model).
 */
import * as vscode from 'vscode';
import type { CheckpointDocument } from './checkpointDocument';
import { CheckpointPanel, type PanelContext } from './checkpointPanel';

/** Default editor for the unambiguous checkpoint extensions. */
export const CHECKPOINT_VIEW_TYPE = 'grassmannLens.checkpoint';
/** `.bin` is generic: offered as an option only. */
export const CHECKPOINT_BIN_VIEW_TYPE = 'grassmannLens.checkpointBin';
/** A folder (config.json + weights + tokenizer) opened from the command. */
export const FOLDER_VIEW_TYPE = 'grassmannLens.folder';

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

/** Model folders open in a panel, with how many panels show each (their tabs carry no URI to find them by). */
const openFolders = new Map<string, number>();

/** VS Code's document of a checkpoint file: one per URI for all its editors, holding our document. */
class CheckpointFileDocument implements vscode.CustomDocument {
  constructor(
    readonly uri: vscode.Uri,
    /** Absent for URIs that are not files (nothing is read from them). */
    readonly checkpoint: CheckpointDocument | undefined,
    private readonly release: () => void,
  ) {}

  dispose(): void {
    this.release();
  }
}

export class CheckpointEditorProvider implements vscode.CustomReadonlyEditorProvider {
  constructor(private readonly ctx: PanelContext) {}

  openCustomDocument(uri: vscode.Uri): CheckpointFileDocument {
    if (uri.scheme !== 'file') return new CheckpointFileDocument(uri, undefined, () => undefined);
    const { documents } = this.ctx;
    const checkpoint = documents.acquire(uri.fsPath, false);
    return new CheckpointFileDocument(uri, checkpoint, () => documents.release(checkpoint));
  }

  resolveCustomEditor(document: CheckpointFileDocument, panel: vscode.WebviewPanel): void {
    const { uri, checkpoint } = document;
    if (!checkpoint) {
      panel.webview.options = { enableScripts: false, localResourceRoots: [] };
      panel.webview.html = `<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="default-src 'none';"></head><body><p id="error">${uri.toString().replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)}: only checkpoints on a local or remote disk can be opened, not ${uri.scheme}: resources</p></body></html>`;
      return;
    }
    const controller = new CheckpointPanel(panel.webview, checkpoint, this.ctx);
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
    const checkpoint = ctx.documents.acquire(uri.fsPath, true);
    const controller = new CheckpointPanel(panel.webview, checkpoint, ctx);
    openFolders.set(uri.fsPath, (openFolders.get(uri.fsPath) ?? 0) + 1);
    panel.onDidDispose(() => {
      controller.dispose();
      ctx.documents.release(checkpoint);
      const left = (openFolders.get(uri.fsPath) ?? 1) - 1;
      if (left > 0) openFolders.set(uri.fsPath, left);
      else openFolders.delete(uri.fsPath);
    });
    return;
  }
  const viewType = uri.path.toLowerCase().endsWith('.bin') ? CHECKPOINT_BIN_VIEW_TYPE : CHECKPOINT_VIEW_TYPE;
  await vscode.commands.executeCommand('vscode.openWith', uri, viewType);
}
