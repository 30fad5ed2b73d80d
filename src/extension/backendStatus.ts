/**
 * The status bar item naming the active compute backend, and the Output channel report behind it.
 */
import * as vscode from 'vscode';
import { describeBackend } from '../model/backendReport';
import type { BackendState } from './computeService';

export const STATUS_ITEM_ID = 'grassmannLens.backend';

export function statusText(state: BackendState): string {
  switch (state.kind) {
    case 'starting':
      return '$(sync~spin) GL: starting…';
    case 'ready':
      return `$(pulse) GL: ${state.report.active}`;
    case 'failed':
      return '$(error) GL: no backend';
  }
}

export function statusTooltip(state: BackendState): vscode.MarkdownString {
  const md = new vscode.MarkdownString(undefined, true);
  md.appendMarkdown('**Grassmann Lens compute backend**\n\n');
  switch (state.kind) {
    case 'starting':
      md.appendText(`Starting the compute worker (requested: ${state.preference})…`);
      break;
    case 'ready': {
      md.appendText(`Active: ${state.report.active}, ${state.report.threads} thread${state.report.threads === 1 ? '' : 's'}, on ${state.report.device ?? 'CPU'}.`);
      const unavailable = state.report.attempts.filter((a) => !a.available);
      if (unavailable.length) {
        // The reason is these details joined; listed one per line they read better.
        md.appendMarkdown('\n\nFaster backends unavailable:\n');
        for (const a of unavailable) {
          md.appendMarkdown('\n- ');
          md.appendText(`${a.name}: ${a.skip ? `${a.skip} — ` : ''}${a.detail}`);
        }
      } else {
        md.appendMarkdown('\n\n');
        md.appendText(state.report.reason);
      }
      break;
    }
    case 'failed':
      md.appendText(`The compute worker failed to start: ${state.error.message}`);
      break;
  }
  md.appendMarkdown('\n\nClick for the full report.');
  return md;
}

export function describeState(state: BackendState): string {
  switch (state.kind) {
    case 'starting':
      return `Compute backend: starting (requested: ${state.preference})…`;
    case 'ready':
      return describeBackend(state.report);
    case 'failed':
      return `Compute backend: the worker failed to start (requested: ${state.preference}): ${state.error.message}`;
  }
}

export class BackendStatus implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;

  constructor(
    private readonly output: vscode.OutputChannel,
    showCommand: string,
  ) {
    this.item = vscode.window.createStatusBarItem(STATUS_ITEM_ID, vscode.StatusBarAlignment.Right, 100);
    this.item.name = 'Grassmann Lens Compute Backend';
    this.item.command = showCommand;
  }

  /** Reflects a worker state change; a settled probe also writes its report to the Output channel. */
  update(state: BackendState): void {
    this.item.text = statusText(state);
    this.item.tooltip = statusTooltip(state);
    this.item.backgroundColor = state.kind === 'failed' ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
    this.item.show();
    if (state.kind !== 'starting') this.output.appendLine(`[${new Date().toLocaleTimeString()}] ${describeState(state)}`);
  }

  dispose(): void {
    this.item.dispose();
  }
}
