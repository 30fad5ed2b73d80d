/**
 * Extension entry: wires VS Code events to the compute worker. Activated by its commands
 * (contributed, so implicit) and by opening a checkpoint in the Grassmann Lens editor.
 */
import * as vscode from 'vscode';
import { defaultNativeModulesDir, type BackendReport } from '../model/backendReport';
import { BackendStatus } from './backendStatus';
import { CHECKPOINT_VIEW_TYPE, CheckpointEditorProvider } from './checkpointEditor';
import { COMMANDS, registerCommands } from './commands';
import { ComputeService, readSettings } from './computeService';

/** What `activate` returns to other extensions and to the extension-host tests. */
export interface GrassmannLensApi {
  backendReport(): Promise<BackendReport>;
}

export function activate(context: vscode.ExtensionContext): GrassmannLensApi {
  const output = vscode.window.createOutputChannel('Grassmann Lens');
  // The same folder the CLI's install-gpu uses, so one install serves both.
  const defaultNativeDir = defaultNativeModulesDir();
  const workerPath = vscode.Uri.joinPath(context.extensionUri, 'dist', 'worker.js').fsPath;
  const compute = new ComputeService(workerPath, readSettings(defaultNativeDir));
  const status = new BackendStatus(output, COMMANDS.showBackend);

  context.subscriptions.push(
    output,
    status,
    compute,
    compute.onDidChangeState((state) => status.update(state)),
    ...registerCommands({ compute, output }),
    vscode.window.registerCustomEditorProvider(CHECKPOINT_VIEW_TYPE, new CheckpointEditorProvider(compute, output), {
      supportsMultipleEditorsPerDocument: true,
    }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('grassmannLens.backend') || e.affectsConfiguration('grassmannLens.nativeModulesDir')) {
        void compute.reconfigure(readSettings(defaultNativeDir));
      }
    }),
  );

  status.update(compute.state);
  compute.start();
  return { backendReport: () => compute.backendReport() };
}

export function deactivate(): void {
  // Everything is in context.subscriptions; VS Code disposes it (and so ends the worker).
}
