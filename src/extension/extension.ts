/**
 * Extension entry: wires VS Code events to the compute worker. Activated by its commands
 * (contributed, so implicit), by opening a checkpoint in the Grassmann Lens editor, in
 * workspaces that hold checkpoints (so a checkpoint opened with the window gets its editor), and
 * by a Python file (the CodeLens over `torch.save` calls, for a training repo with no checkpoint
 * yet). Activation stays cheap: it registers providers and commands only. The compute worker
 * (and TensorFlow.js, which only the worker loads) starts on first use, and the backend's status
 * bar item shows from then on.
 */
import * as vscode from 'vscode';
import { isCheckpointName } from '../checkpoint/files';
import { defaultNativeModulesDir, type BackendReport } from '../model/backendReport';
import { BackendStatus } from './backendStatus';
import { CHECKPOINT_QUIET_MS, CheckpointDocuments } from './checkpointDocument';
import { ModelFileStore, registerModelFileCommands } from './modelFiles';
import { CHECKPOINT_BIN_VIEW_TYPE, CHECKPOINT_VIEW_TYPE, CheckpointEditorProvider, openCheckpointPaths } from './checkpointEditor';
import type { PanelContext } from './checkpointPanel';
import { COMMANDS, registerCommands } from './commands';
import { ComputeService, readSettings } from './computeService';
import { OPEN_LATEST_COMMAND, RunWatches, STOP_WATCHING_COMMAND, WATCH_RUN_COMMAND, openLatestCheckpoint, stopWatchingRun, watchTrainingRun } from './runs';
import { SaveCallLensProvider } from './saveLens';
import { TextAnalysisController } from './textAnalysis';

/** What `activate` returns to other extensions and to the extension-host tests. */
export interface GrassmannLensApi {
  backendReport(): Promise<BackendReport>;
  /** The checkpoints open in views or bound texts: one document each, how many hold it, how often it changed on disk. */
  openCheckpoints(): { path: string; holders: number; changes: number }[];
}

export function activate(context: vscode.ExtensionContext): GrassmannLensApi {
  const output = vscode.window.createOutputChannel('Grassmann Lens');
  // The same folder the CLI's install-gpu uses, so one install serves both.
  const defaultNativeDir = defaultNativeModulesDir();
  const workerPath = vscode.Uri.joinPath(context.extensionUri, 'dist', 'worker.js').fsPath;
  const compute = new ComputeService(workerPath, readSettings(defaultNativeDir));
  const status = new BackendStatus(output, COMMANDS.showBackend);
  // The webview takes focus when its "Use selection" button is clicked: remember the text editor before it.
  let lastTextEditor = vscode.window.activeTextEditor;
  // One document per open checkpoint: it watches the files for all the views (and bound texts) of it.
  const documents = new CheckpointDocuments({
    watch: (folder, glob, listener) => {
      const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(folder), glob));
      const subscriptions = [watcher, watcher.onDidChange(listener), watcher.onDidCreate(listener)];
      return { dispose: () => subscriptions.forEach((s) => s.dispose()) };
    },
    forget: async (path) => {
      await compute.request('forget', { path });
    },
    quietMs: CHECKPOINT_QUIET_MS,
  });
  // The config and tokenizer chosen per checkpoint: every request for the checkpoint carries them.
  const modelFiles = new ModelFileStore(context.workspaceState, output);
  compute.modelFiles = (checkpoint) => modelFiles.of(checkpoint).files;
  const panels: PanelContext = { compute, output, extensionUri: context.extensionUri, documents, modelFiles, lastTextEditor: () => lastTextEditor };
  // Watched training runs: the checkpoint views of a watched folder hear of each new checkpoint.
  const runs = new RunWatches(panels);
  panels.runs = runs;
  const saveLenses = new SaveCallLensProvider();
  const editorProvider = new CheckpointEditorProvider(panels);

  context.subscriptions.push(
    output,
    status,
    compute,
    compute.onDidChangeState((state) => status.update(state)),
    ...registerCommands({ compute, output, panels }),
    modelFiles,
    // A choice drops the worker's model opened without it.
    modelFiles.onDidChange((path) => void compute.request('forget', { path }).catch(() => undefined)),
    ...registerModelFileCommands({ compute, files: modelFiles, output }, openCheckpointPaths),
    runs,
    saveLenses,
    vscode.commands.registerCommand(WATCH_RUN_COMMAND, (target?: unknown) => watchTrainingRun(runs, target)),
    vscode.commands.registerCommand(STOP_WATCHING_COMMAND, () => stopWatchingRun(runs)),
    vscode.commands.registerCommand(OPEN_LATEST_COMMAND, (target?: unknown) => openLatestCheckpoint(runs, target)),
    vscode.languages.registerCodeLensProvider({ language: 'python', scheme: 'file' }, saveLenses),
    // Analyze This Text: hovers and token colours in text editors (its commands are registered there).
    new TextAnalysisController({ compute, output, panels }),
    vscode.window.onDidChangeActiveTextEditor((editor) => {
      if (editor) lastTextEditor = editor;
    }),
    ...[CHECKPOINT_VIEW_TYPE, CHECKPOINT_BIN_VIEW_TYPE].map((viewType) =>
      vscode.window.registerCustomEditorProvider(viewType, editorProvider, {
        supportsMultipleEditorsPerDocument: true,
        // Hidden editors keep their views (runs, pins, zoom) instead of rebuilding them.
        webviewOptions: { retainContextWhenHidden: true },
      }),
    ),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('grassmannLens.backend') || e.affectsConfiguration('grassmannLens.nativeModulesDir')) {
        void compute.reconfigure(readSettings(defaultNativeDir));
      }
    }),
  );

  // No compute.start() here: the first request starts the worker (ComputeService), and its state
  // change shows the status bar item.
  void reopenCheckpointsShownAsText();
  return { backendReport: () => compute.backendReport(), openCheckpoints: () => documents.state() };
}

/**
 * Checkpoints opened before this extension was registered (a file opened with the window, e.g.
 * from a link) land in the text editor, which cannot show them: move them to the checkpoint
 * editor, their default. `.bin` is left alone: it is not always a checkpoint.
 */
async function reopenCheckpointsShownAsText(): Promise<void> {
  for (const group of vscode.window.tabGroups.all) {
    for (const tab of group.tabs) {
      if (!(tab.input instanceof vscode.TabInputText) || tab.input.uri.scheme !== 'file') continue;
      if (!isCheckpointName(tab.input.uri.path) || tab.input.uri.path.toLowerCase().endsWith('.bin')) continue;
      const { uri } = tab.input;
      const options = { viewColumn: group.viewColumn, preserveFocus: !tab.isActive };
      await vscode.window.tabGroups.close(tab);
      await vscode.commands.executeCommand('vscode.openWith', uri, CHECKPOINT_VIEW_TYPE, options);
    }
  }
}

export function deactivate(): void {
  // Everything is in context.subscriptions; VS Code disposes it (and so ends the worker).
}
