/**
 * "Grassmann Lens: Compare Checkpoints…": two checkpoints side by side. Picks A (the explorer's
 * selection, the checkpoint in the active editor, or any in the workspace), B (A's siblings, or
 * Browse…) and a text (the last text editor's selection, a workspace file, or text typed in), runs
 * the worker's `compareText` (src/core/compareText.ts, the CLI's `compare --text`) under a
 * cancellable notification, then shows the report in a webview panel (webview/compare.ts): per
 * layer subspace angles, and per token plane area, gate openness and relevance in A, in B and B − A.
 */
import * as vscode from 'vscode';
import { notificationText } from '../util/safeText';
import { basename, dirname } from 'node:path';
import { isInputError } from '../util/errors';
import type { CompareTextParams, CompareTextReport } from '../core/compareText';
import type { CompareProtocol } from '../protocol/compare';
import type { ViewHost } from '../protocol/rpc';
import { saveExport, serveWebview } from './webviewHost';
import { asError, isCheckpointUri } from './computeService';
import { CHECKPOINT_FILTERS, CHECKPOINT_GLOB, checkpointsInFolder } from '../checkpoint/files';
import type { CommandContext } from './commands';
import { panelHtml } from './checkpointPanel';
import { browse, label, pickOne } from './prune';
import { checkpointPickItems, pickOther, textPickItems } from './pickers';

export const COMPARE_COMMAND = 'grassmannLens.compareCheckpoints';
export const COMPARE_REPORT_VIEW_TYPE = 'grassmannLens.compareReport';
const TITLE = 'Compare Checkpoints';
const STEPS = 3;
const step = (k: number): string => `${TITLE} (${k}/${STEPS})`;

interface Choice extends vscode.QuickPickItem {
  path?: string;
  action?: 'browse' | 'selection' | 'type' | 'others';
}


/** Checkpoint files on disk among the command's arguments: (clicked, selected[]) from the explorer. */
export function checkpointArguments(target?: unknown, selection?: unknown): string[] {
  const uris = Array.isArray(selection) && selection.length ? selection : target !== undefined ? [target] : [];
  const paths = uris.filter((u): u is vscode.Uri => u instanceof vscode.Uri && u.scheme === 'file' && isCheckpointUri(u)).map((u) => u.fsPath);
  return [...new Set(paths)];
}

/** The checkpoint shown by the active editor tab (the checkpoint editor, or a text/binary editor of one). */
function activeCheckpoint(): string | undefined {
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  const uri = input instanceof vscode.TabInputCustom || input instanceof vscode.TabInputText ? input.uri : undefined;
  return uri && uri.scheme === 'file' && isCheckpointUri(uri) ? uri.fsPath : undefined;
}

async function pickA(ctx: CommandContext): Promise<string | undefined> {
  const current = activeCheckpoint();
  const found = await vscode.workspace.findFiles(`**/${CHECKPOINT_GLOB}`, '**/{node_modules,.git}/**', 500);
  const { items: listed, others } = await checkpointPickItems(ctx.compute, found.map((u) => u.fsPath), current);
  const items: Choice[] = [];
  if (current) items.push({ label: label(vscode.Uri.file(current)), description: 'open in the editor', path: current });
  items.push(...(listed as Choice[]));
  items.push({ label: '$(folder-opened) Browse…', action: 'browse', alwaysShow: true });
  const picked = await pickOne(step(1), 'Checkpoint A (the differences are B − A)', items, items.find((i) => i.path));
  if (!picked) return undefined;
  if (picked.action === 'others') return pickOther(step(1), others);
  return picked.action === 'browse' ? browse('Checkpoint A', CHECKPOINT_FILTERS) : picked.path;
}

/** Checkpoint files beside `path` (not it), in natural name order. */
async function siblings(path: string): Promise<string[]> {
  return (await checkpointsInFolder(dirname(path))).filter((p) => p !== path);
}

async function pickB(a: string): Promise<string | undefined> {
  const items: Choice[] = (await siblings(a)).map((path) => ({ label: basename(path), description: label(vscode.Uri.file(dirname(path))), path }));
  items.push({ label: '$(folder-opened) Browse…', action: 'browse', alwaysShow: true });
  const picked = await pickOne(step(2), `Checkpoint B, compared with ${basename(a)}`, items, items[0]);
  if (!picked) return undefined;
  return picked.action === 'browse' ? browse('Checkpoint B', CHECKPOINT_FILTERS, dirname(a)) : picked.path;
}

async function pickText(ctx: CommandContext, a: string): Promise<{ text: string } | { file: string } | undefined> {
  const found = await textPickItems('**/*.{txt,md}', a);
  const editor = vscode.window.activeTextEditor ?? ctx.panels.lastTextEditor();
  const selected = editor ? editor.selections.map((s) => editor.document.getText(s)).join('\n') : '';
  const items: Choice[] = [];
  if (editor && selected.trim()) {
    items.push({ label: '$(selection) Selection of the last text editor', description: `${basename(editor.document.uri.fsPath)}, ${selected.length} characters`, action: 'selection', alwaysShow: true });
  }
  items.push({ label: '$(edit) Type text…', description: 'an evaluation text typed in', action: 'type', alwaysShow: true });
  for (const item of found) items.push((item.path ? { ...item, description: 'the whole file (up to the model\'s positions)' } : item) as Choice);
  items.push({ label: '$(folder-opened) Browse…', action: 'browse', alwaysShow: true });
  const picked = await pickOne(step(3), 'The text to run through both checkpoints', items, items[0]);
  if (!picked) return undefined;
  switch (picked.action) {
    case 'selection':
      return { text: selected };
    case 'type': {
      const text = await vscode.window.showInputBox({
        title: step(3),
        prompt: 'Text to run through both checkpoints (per-token differences B − A)',
        placeHolder: 'the licensor grants you a worldwide, royalty-free license',
        ignoreFocusOut: true,
        validateInput: (v) => (v.trim() ? undefined : 'Enter some text'),
      });
      return text === undefined ? undefined : { text };
    }
    case 'browse': {
      const file = await browse('Text to compare on', { Text: ['txt', 'md'] }, dirname(a));
      return file ? { file } : undefined;
    }
    default:
      return picked.path ? { file: picked.path } : undefined;
  }
}

/** The whole flow: A, B, the text, the comparison, the report. */
export async function compareCheckpoints(ctx: CommandContext, target?: unknown, selection?: unknown): Promise<void> {
  const given = checkpointArguments(target, selection);
  const a = given[0] ?? (await pickA(ctx));
  if (!a) return;
  const b = given[1] ?? (await pickB(a));
  if (!b) return;
  const text = await pickText(ctx, a);
  if (!text) return;
  const report = await runCompare(ctx, { a, b, ...text });
  if (report) CompareReportPanel.show(ctx, report);
}

/** Runs `compareText` under a cancellable notification; undefined when cancelled or failed (the user is told). */
export async function runCompare(ctx: CommandContext, params: CompareTextParams & { a: string; b: string }): Promise<CompareTextReport | undefined> {
  const [nameA, nameB] = [basename(params.a), basename(params.b)];
  ctx.output.appendLine(`Comparing ${params.a} (A) and ${params.b} (B) on ${params.file ?? `a text of ${params.text?.length ?? 0} characters`}`);
  try {
    const report = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Grassmann Lens: comparing ${nameA} and ${nameB}`, cancellable: true },
      (progress, token) => {
        const abort = new AbortController();
        token.onCancellationRequested(() => abort.abort());
        let last = 0;
        return ctx.compute.request('compareText', params, {
          signal: abort.signal,
          onProgress: (p) => {
            const percent = p.total ? (100 * p.done) / p.total : 0;
            progress.report({ message: p.message, increment: Math.max(0, percent - last) });
            last = Math.max(last, percent);
          },
        });
      },
    );
    ctx.output.appendLine(`Compared in ${report.text.seconds.toFixed(2)} s: ${report.text.tokens.length} tokens, ${report.layers.length} layers`);
    for (const w of [...report.warnings, ...report.text.warnings]) ctx.output.appendLine(`  warning: ${w}`);
    return report;
  } catch (e) {
    const err = asError(e);
    if (err.name === 'CancelledError' || err.name === 'OperationCancelled') {
      ctx.output.appendLine('Comparison cancelled.');
      void vscode.window.showInformationMessage(`Comparing ${nameA} and ${nameB} was cancelled.`);
    } else if (isInputError(err)) {
      ctx.output.appendLine(`Comparison failed: ${err.message}`);
      void vscode.window.showErrorMessage(err.message);
    } else {
      ctx.output.appendLine(`Comparing ${params.a} and ${params.b} failed: ${err.stack ?? err.message}`);
      void vscode.window.showErrorMessage(`Grassmann Lens: comparing ${nameA} and ${nameB} failed: ${notificationText(err.message)}`);
    }
    return undefined;
  }
}

/** One comparison in a webview panel. */
export class CompareReportPanel {
  static show(ctx: CommandContext, report: CompareTextReport): CompareReportPanel {
    const title = `Compare: ${basename(report.a)} ↔ ${basename(report.b)}`;
    const panel = vscode.window.createWebviewPanel(COMPARE_REPORT_VIEW_TYPE, title, vscode.ViewColumn.Active, {
      enableScripts: true,
      retainContextWhenHidden: true,
      localResourceRoots: [vscode.Uri.joinPath(ctx.panels.extensionUri, 'dist')],
    });
    return new CompareReportPanel(panel, ctx, report, title);
  }

  private readonly host: ViewHost<CompareProtocol>;

  private constructor(private readonly panel: vscode.WebviewPanel, private readonly ctx: CommandContext, private readonly report: CompareTextReport, title: string) {
    panel.webview.html = panelHtml(panel.webview, ctx.panels.extensionUri, title, 'compare');
    this.host = serveWebview<CompareProtocol>(panel.webview, {
      requests: {},
      commands: {
        ready: () => this.host.notify('report', { report: this.report }),
        export: (m) => this.export(m),
      },
      onInvalid: (problem) => this.ctx.output.appendLine(`Compare view: dropped a message: ${problem}`),
    });
    panel.onDidDispose(() => this.host.dispose());
  }

  /** Writes the view's export where the user picks, starting beside the checkpoint (./webviewHost.ts). */
  private async export(m: unknown): Promise<void> {
    const path = await saveExport(m, dirname(this.report.a));
    if (path) this.host.notify('exported', { path });
  }

}
