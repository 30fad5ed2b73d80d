/**
 * The read-only checkpoint editor: a static, theme-aware page with the InspectReport as tables.
 * No scripts run in the webview; the CSP allows only the page's own nonce'd stylesheet.
 */
import * as vscode from 'vscode';
import { randomBytes } from 'node:crypto';
import { isInputError } from '../util/errors';
import type { InspectReport } from '../core/inspect';
import { asError, type ComputeService } from './computeService';
import { formatCount, formatShape, formatValue, summaryRows } from './reportText';

export const CHECKPOINT_VIEW_TYPE = 'grassmannLens.checkpoint';

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `
  body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground);
         background: var(--vscode-editor-background); padding: 0 20px 20px; }
  h1 { font-size: 1.4em; font-weight: 600; margin: 16px 0 4px; }
  h2 { font-size: 1.1em; font-weight: 600; margin: 20px 0 6px; }
  .path { color: var(--vscode-descriptionForeground); word-break: break-all; }
  table { border-collapse: collapse; }
  th, td { text-align: left; padding: 2px 12px 2px 0; vertical-align: top; }
  thead th { border-bottom: 1px solid var(--vscode-panel-border, var(--vscode-widget-border, transparent)); }
  th[scope=row] { color: var(--vscode-descriptionForeground); font-weight: normal; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  code, .mono { font-family: var(--vscode-editor-font-family); font-size: var(--vscode-editor-font-size); }
  .warning { color: var(--vscode-editorWarning-foreground); }
  .error { color: var(--vscode-errorForeground); white-space: pre-wrap; }
`;

function page(nonce: string, title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'nonce-${nonce}';">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${escapeHtml(title)}</title>
<style nonce="${nonce}">${STYLE}</style>
</head>
<body>
${body}
</body>
</html>`;
}

export function reportHtml(nonce: string, name: string, report: InspectReport): string {
  const rowHtml = ([k, v]: [string, string]) => `<tr><th scope="row">${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`;
  const parts = [
    `<h1>${escapeHtml(name)}</h1>`,
    `<div class="path">${escapeHtml(report.path)}</div>`,
    `<h2>Summary</h2>`,
    `<table id="summary">${summaryRows(report).map(rowHtml).join('')}</table>`,
  ];
  if (report.missing.length) {
    parts.push('<h2>Not recognised because</h2>', `<ul>${report.missing.map((m) => `<li>${escapeHtml(m)}</li>`).join('')}</ul>`);
  }
  if (report.warnings.length) {
    parts.push('<h2>Warnings</h2>', `<ul>${report.warnings.map((w) => `<li class="warning">${escapeHtml(w)}</li>`).join('')}</ul>`);
  }
  const metadata = Object.entries(report.metadata);
  if (metadata.length) {
    parts.push('<h2>Metadata</h2>', `<table id="metadata">${metadata.map(([k, v]) => rowHtml([k, formatValue(v)])).join('')}</table>`);
  }
  parts.push(
    `<h2>Tensors (${report.tensors.length})</h2>`,
    '<table id="tensors"><thead><tr><th>name</th><th>dtype</th><th>shape</th><th>elements</th></tr></thead><tbody>',
    ...report.tensors.map((t) => {
      const elements = t.shape.reduce((a, b) => a * b, 1);
      return `<tr><td class="mono">${escapeHtml(t.name)}</td><td class="mono">${escapeHtml(t.dtype)}</td><td class="mono">${escapeHtml(formatShape(t.shape))}</td><td class="num">${formatCount(elements)}</td></tr>`;
    }),
    '</tbody></table>',
  );
  return page(nonce, name, parts.join('\n'));
}

export function messageHtml(nonce: string, name: string, message: string, isError: boolean): string {
  return page(nonce, name, `<h1>${escapeHtml(name)}</h1><p id="${isError ? 'error' : 'status'}" class="${isError ? 'error' : ''}">${escapeHtml(message)}</p>`);
}

function basename(uri: vscode.Uri): string {
  return uri.path.slice(uri.path.lastIndexOf('/') + 1);
}

export class CheckpointEditorProvider implements vscode.CustomReadonlyEditorProvider {
  constructor(
    private readonly compute: ComputeService,
    private readonly output: vscode.OutputChannel,
  ) {}

  openCustomDocument(uri: vscode.Uri): vscode.CustomDocument {
    return { uri, dispose: () => undefined };
  }

  resolveCustomEditor(document: vscode.CustomDocument, panel: vscode.WebviewPanel): void {
    const { uri } = document;
    const name = basename(uri);
    panel.webview.options = { enableScripts: false, localResourceRoots: [] };
    const disposables: vscode.Disposable[] = [];
    let abort: AbortController | undefined;
    let disposed = false;

    const render = async (): Promise<void> => {
      abort?.abort();
      const controller = new AbortController();
      abort = controller;
      panel.webview.html = messageHtml(nonce(), name, 'Reading the checkpoint…', false);
      if (uri.scheme !== 'file') {
        panel.webview.html = messageHtml(nonce(), name, `${uri.toString()}: only checkpoints on a local or remote disk can be inspected, not ${uri.scheme}: resources`, true);
        return;
      }
      try {
        const report = await this.compute.inspect(uri.fsPath, controller.signal);
        if (!disposed && abort === controller) panel.webview.html = reportHtml(nonce(), name, report);
      } catch (e) {
        if (disposed || abort !== controller) return;
        const err = asError(e);
        if (!isInputError(err)) this.output.appendLine(`Opening ${uri.fsPath} failed: ${err.stack ?? err.message}`);
        panel.webview.html = messageHtml(nonce(), name, isInputError(err) ? err.message : `Could not read ${uri.fsPath}: ${err.message}`, true);
      }
    };

    if (uri.scheme === 'file') {
      const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.joinPath(uri, '..'), name));
      disposables.push(watcher, watcher.onDidChange(() => void render()), watcher.onDidCreate(() => void render()));
    }
    panel.onDidDispose(() => {
      disposed = true;
      abort?.abort();
      for (const d of disposables) d.dispose();
    });
    void render();
  }
}

function nonce(): string {
  return randomBytes(16).toString('base64');
}
