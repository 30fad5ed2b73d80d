/**
 * "Describe Model Architecture…": the CLI's `describe-arch` in VS Code. The compute worker drafts
 * the description from the checkpoint's headers (src/core/describeArch.ts); this writes it beside
 * the checkpoint as grassmann-lens.arch.json (asking before it replaces one) and opens it, where
 * the JSON Schema of contributes.jsonValidation checks and completes it.
 */
import * as vscode from 'vscode';
import { notificationText } from '../util/safeText';
import { stat, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { architectureFileBeside, architectureFileText } from '../model/archFile';
import { ARCHITECTURE_FILE_NAME } from '../model/architecture';
import { formatDescribeArchReport } from '../core/describeArchReport';
import { isInputError } from '../util/errors';
import { asError, isCheckpointUri, type ComputeService } from './computeService';
import { CHECKPOINT_FILTERS } from '../checkpoint/files';

export const DESCRIBE_ARCH_COMMAND = 'grassmannLens.describeArchitecture';

/** The checkpoint in the active editor tab, if there is one. */
function activeCheckpoint(): vscode.Uri | undefined {
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  const uri = input instanceof vscode.TabInputCustom || input instanceof vscode.TabInputText ? input.uri : undefined;
  return uri && isCheckpointUri(uri) ? uri : undefined;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

export async function describeArchitecture(ctx: { compute: ComputeService; output: vscode.OutputChannel }, target?: unknown): Promise<void> {
  let uri = target instanceof vscode.Uri ? target : activeCheckpoint();
  if (!uri) {
    const picked = await vscode.window.showOpenDialog({
      title: 'Describe Model Architecture: pick the checkpoint',
      openLabel: 'Describe',
      canSelectMany: false,
      canSelectFolders: false,
      defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
      filters: CHECKPOINT_FILTERS,
    });
    uri = picked?.[0];
  }
  if (!uri) return;
  if (uri.scheme !== 'file') {
    void vscode.window.showErrorMessage(`${uri.toString()}: only checkpoints on disk can be described, not ${uri.scheme}: resources`);
    return;
  }
  const checkpoint = uri.fsPath;
  try {
    const draft = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Grassmann Lens: reading the tensors of ${basename(checkpoint)}`, cancellable: true },
      (_progress, token) => {
        const abort = new AbortController();
        token.onCancellationRequested(() => abort.abort());
        return ctx.compute.request('draftArchitecture', { checkpoint }, { signal: abort.signal });
      },
    );
    const out = await architectureFileBeside(checkpoint);
    if (await exists(out)) {
      const overwrite = 'Overwrite';
      const answer = await vscode.window.showWarningMessage(
        `${out} already exists. Overwrite it with a new draft?`,
        { modal: true, detail: 'The description there (and any options you filled in) is replaced.' },
        overwrite,
      );
      if (answer !== overwrite) return;
    }
    await writeFile(out, architectureFileText(draft.file));
    ctx.output.appendLine('');
    ctx.output.appendLine(formatDescribeArchReport({ ...draft, out }));
    await vscode.window.showTextDocument(vscode.Uri.file(out), { preview: false });
    const message = draft.builtIn
      ? `${basename(checkpoint)} fits the built-in description ${draft.builtIn.label}: ${ARCHITECTURE_FILE_NAME} is a copy of it to change.`
      : draft.undecided.length > 0
        ? `${ARCHITECTURE_FILE_NAME}: ${draft.undecided.length} thing${draft.undecided.length === 1 ? '' : 's'} the shapes cannot tell, listed in "undecided" (the values there are guesses). Check them, then open the checkpoint.`
        : `${ARCHITECTURE_FILE_NAME} describes ${basename(checkpoint)}.`;
    const show = 'Show Details';
    void vscode.window.showInformationMessage(message, show).then((choice) => {
      if (choice === show) ctx.output.show(true);
    });
  } catch (e) {
    const err = asError(e);
    if (err.name === 'CancelledError') return;
    if (isInputError(err)) {
      ctx.output.appendLine(`Describe Model Architecture failed: ${err.message}`);
      void vscode.window.showErrorMessage(err.message);
    } else {
      ctx.output.appendLine(`Describe Model Architecture of ${checkpoint} failed: ${err.stack ?? err.message}`);
      void vscode.window.showErrorMessage(`Grassmann Lens: describing ${checkpoint} failed: ${notificationText(err.message)}`);
    }
  }
}
