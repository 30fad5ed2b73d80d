/** The host's end of the one webview protocol (../protocol/rpc.ts) over a VS Code webview, and what every view's host does alike. */
import * as vscode from 'vscode';
import { join } from 'node:path';
import { ViewHost, type Protocol, type ViewHostOptions } from '../protocol/rpc';
import { checkExportMessage } from '../util/exportMessage';
import { notificationText } from '../util/safeText';

export function serveWebview<P extends Protocol>(webview: vscode.Webview, options: ViewHostOptions<P>): ViewHost<P> {
  return new ViewHost<P>((m) => void webview.postMessage(m), (handler) => webview.onDidReceiveMessage(handler), options);
}

/**
 * A view's export (a chart as SVG/PNG, a table as CSV): the message is checked, not trusted
 * (types, size, format, and a bare file name: ../util/exportMessage.ts); the user picks where it
 * goes, starting in `folder`. Resolves to the path written, or undefined when refused, cancelled or
 * not writable (each told to the user).
 */
export async function saveExport(m: unknown, folder: string): Promise<string | undefined> {
  const checked = checkExportMessage(m);
  if ('problem' in checked) {
    void vscode.window.showErrorMessage(`Grassmann Lens: export refused: ${notificationText(checked.problem)}`);
    return undefined;
  }
  const { filename, format, bytes } = checked;
  const target = await vscode.window.showSaveDialog({
    defaultUri: vscode.Uri.file(join(folder, filename)),
    filters: { [format.toUpperCase()]: [format] },
    title: `Export ${filename}`,
  });
  if (!target) return undefined;
  try {
    await vscode.workspace.fs.writeFile(target, bytes);
    return target.fsPath;
  } catch (e) {
    void vscode.window.showErrorMessage(`Grassmann Lens: cannot write ${target.fsPath}: ${notificationText(e instanceof Error ? e.message : String(e))}`);
    return undefined;
  }
}
