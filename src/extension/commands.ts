/**
 * The command palette commands. Each one gathers its input from VS Code and makes one call
 * into the compute service.
 */
import * as vscode from 'vscode';
import { notificationText } from '../util/safeText';
import { nativeInstallPlan, prepareNativeFolder } from '../core/nativeInstall';
import { isInputError } from '../util/errors';
import { BACKEND_NAMES, type BackendPreference } from '../model/backendReport';
import { asError, isCheckpointUri, type ComputeService } from './computeService';
import { CHECKPOINT_FILTERS } from '../checkpoint/files';
import { inspectReportText } from '../core/reportText';
import { openCheckpointTarget } from './checkpointEditor';
import type { PanelContext } from './checkpointPanel';
import { PRUNE_COMMAND, pruneByExplanation } from './prune';
import { COMPARE_COMMAND, compareCheckpoints } from './compare';
import { DESCRIBE_ARCH_COMMAND, describeArchitecture } from './describeArch';

export const COMMANDS = {
  showBackend: 'grassmannLens.showBackend',
  inspectCheckpoint: 'grassmannLens.inspectCheckpoint',
  installGpuBackend: 'grassmannLens.installGpuBackend',
  selectBackend: 'grassmannLens.selectBackend',
  openCheckpoint: 'grassmannLens.openCheckpoint',
  pruneByExplanation: PRUNE_COMMAND,
  compareCheckpoints: COMPARE_COMMAND,
  describeArchitecture: DESCRIBE_ARCH_COMMAND,
  openExample: 'grassmannLens.openExample',
} as const;

/** The example checkpoint the extension ships (media/example/, a copy of the tiny-grassmann fixture's weights, config and tokenizer). */
export const EXAMPLE_CHECKPOINT = ['media', 'example', 'model.safetensors'] as const;


export interface CommandContext {
  compute: ComputeService;
  output: vscode.OutputChannel;
  panels: PanelContext;
}

export async function showBackend({ compute, output }: CommandContext): Promise<void> {
  output.show(true);
  if (compute.state.kind === 'starting') {
    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Window, title: 'Grassmann Lens: starting the compute backend' },
      () => compute.backendReport().catch(() => undefined),
    );
  }
}

/** The checkpoint in the active editor tab, if there is one (text, binary or custom editor). */
function activeCheckpoint(): vscode.Uri | undefined {
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  const uri = input instanceof vscode.TabInputCustom || input instanceof vscode.TabInputText ? input.uri : undefined;
  return uri && isCheckpointUri(uri) ? uri : undefined;
}

async function pickCheckpoint(): Promise<vscode.Uri | undefined> {
  const picked = await vscode.window.showOpenDialog({
    title: 'Inspect Checkpoint',
    openLabel: 'Inspect',
    canSelectMany: false,
    canSelectFolders: false,
    defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
    filters: CHECKPOINT_FILTERS,
  });
  return picked?.[0];
}

export async function inspectCheckpoint({ compute, output }: CommandContext, target?: unknown): Promise<void> {
  // From the explorer's context menu VS Code passes the clicked resource.
  const uri = target instanceof vscode.Uri ? target : activeCheckpoint() ?? (await pickCheckpoint());
  if (!uri) return;
  if (uri.scheme !== 'file') {
    void vscode.window.showErrorMessage(`${uri.toString()}: only checkpoints on disk can be inspected, not ${uri.scheme}: resources`);
    return;
  }
  const name = uri.path.slice(uri.path.lastIndexOf('/') + 1);
  try {
    const report = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Grassmann Lens: inspecting ${name}`, cancellable: true },
      (_progress, token) => {
        const abort = new AbortController();
        token.onCancellationRequested(() => abort.abort());
        return compute.inspect(uri.fsPath, abort.signal);
      },
    );
    output.appendLine('');
    output.appendLine(inspectReportText(report));
    output.show(true);
    if (!report.recognised) {
      const describe = 'Describe Model Architecture…';
      void vscode.window.showWarningMessage(`${name} is not a checkpoint of a known Grassmann implementation (the Output channel says which roles are missing). Describe its architecture?`, describe).then((choice) => {
        if (choice === describe) void vscode.commands.executeCommand(COMMANDS.describeArchitecture, uri);
      });
    }
  } catch (e) {
    const err = asError(e);
    if (err.name === 'CancelledError') return;
    if (isInputError(err)) {
      output.appendLine(`Inspect failed: ${err.message}`);
      void vscode.window.showErrorMessage(err.message);
    } else {
      output.appendLine(`Inspect of ${uri.fsPath} failed: ${err.stack ?? err.message}`);
      void vscode.window.showErrorMessage(`Grassmann Lens: inspecting ${uri.fsPath} failed: ${notificationText(err.message)}`);
    }
  }
}

/** Opens a checkpoint file, or a Hugging Face-style folder, in the checkpoint editor. */
export async function openCheckpoint({ panels }: CommandContext, target?: unknown): Promise<void> {
  let uri = target instanceof vscode.Uri ? target : undefined;
  if (!uri) {
    const picked = await vscode.window.showOpenDialog({
      title: 'Open Checkpoint (a weights file or a model folder)',
      openLabel: 'Open',
      canSelectMany: false,
      canSelectFiles: true,
      canSelectFolders: true,
      defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
    });
    uri = picked?.[0];
  }
  if (!uri) return;
  if (uri.scheme !== 'file') {
    void vscode.window.showErrorMessage(`${uri.toString()}: only checkpoints on disk can be opened, not ${uri.scheme}: resources`);
    return;
  }
  try {
    await openCheckpointTarget(panels, uri);
  } catch (e) {
    void vscode.window.showErrorMessage(`Grassmann Lens: cannot open ${uri.fsPath}: ${notificationText(asError(e).message)}`);
  }
}

/** Opens the bundled example checkpoint in the checkpoint editor (the walkthrough's first step). */
export async function openExample({ panels }: CommandContext): Promise<void> {
  const uri = vscode.Uri.joinPath(panels.extensionUri, ...EXAMPLE_CHECKPOINT);
  try {
    await openCheckpointTarget(panels, uri);
  } catch (e) {
    void vscode.window.showErrorMessage(`Grassmann Lens: cannot open the example checkpoint ${uri.fsPath}: ${notificationText(asError(e).message)}`);
  }
}

export async function selectBackend(): Promise<void> {
  const config = vscode.workspace.getConfiguration('grassmannLens');
  const current = config.get<BackendPreference>('backend', 'auto');
  const descriptions: Record<BackendPreference, string> = {
    auto: 'fastest available: tensorflow-gpu, then webgpu, tensorflow, wasm, cpu (a GPU rung only when its probe proves a GPU)',
    'tensorflow-gpu': 'native TensorFlow with CUDA 11.2 (@tensorflow/tfjs-node-gpu)',
    webgpu: 'WebGPU: Vulkan, Metal or D3D12 (webgpu + @tensorflow/tfjs-backend-webgpu)',
    tensorflow: 'native TensorFlow on the CPU (@tensorflow/tfjs-node)',
    wasm: 'WebAssembly with XNNPACK (bundled)',
    cpu: 'plain JavaScript kernels (bundled, slowest)',
  };
  const items = (['auto', ...BACKEND_NAMES] as BackendPreference[]).map((name) => ({
    label: name,
    description: name === current ? `${descriptions[name]} (current)` : descriptions[name],
    picked: name === current,
  }));
  const picked = await vscode.window.showQuickPick(items, { title: 'Grassmann Lens: Compute Backend' });
  if (!picked || picked.label === current) return;
  const inspected = config.inspect<BackendPreference>('backend');
  const target = inspected?.workspaceFolderValue !== undefined
    ? vscode.ConfigurationTarget.WorkspaceFolder
    : inspected?.workspaceValue !== undefined
      ? vscode.ConfigurationTarget.Workspace
      : vscode.ConfigurationTarget.Global;
  await config.update('backend', picked.label, target);
}

export async function installGpuBackend({ compute, output }: CommandContext): Promise<void> {
  // The CLI's install-gpu follows the same plans (../core/nativeInstall.ts): one folder, one package.json.
  const plans = {
    webgpu: nativeInstallPlan({ kind: 'webgpu', dir: compute.nativeModulesDir }),
    cuda: nativeInstallPlan({ kind: 'cuda', dir: compute.nativeModulesDir }),
  };
  const picked = await vscode.window.showQuickPick(
    [
      { label: 'WebGPU', install: 'webgpu' as const, description: 'Vulkan (Linux), Metal (macOS), D3D12 (Windows): recommended', detail: plans.webgpu.package },
      { label: 'CUDA', install: 'cuda' as const, description: 'Linux x64 with CUDA 11.2 and cuDNN 8.1 only', detail: plans.cuda.package },
    ],
    { title: 'Grassmann Lens: Install GPU Backend' },
  );
  if (!picked) return;
  const plan = plans[picked.install];
  const proceed = 'Install';
  const answer = await vscode.window.showInformationMessage(
    `Install the ${picked.label} compute backend?`,
    {
      modal: true,
      detail:
        `This runs \`npm install ${plan.package}\` in a terminal, in ${plan.dir}.\n\n` +
        `It needs ${plan.requirements}. ` +
        'Node.js and npm must be on the PATH. When it finishes, reload the window to use it; ' +
        `the status bar then shows "GL: ${plan.backend}" only if its probe proves a GPU, else the report (Show Compute Backend) says why it was skipped.`,
    },
    proceed,
  );
  if (answer !== proceed) return;

  prepareNativeFolder(plan.dir);
  output.appendLine(`Installing ${plan.package} into ${plan.dir}`);

  const task = new vscode.Task(
    { type: 'shell', id: 'grassmannLens.installGpuBackend' },
    vscode.TaskScope.Global,
    `Install GPU Backend (${picked.label})`,
    'Grassmann Lens',
    new vscode.ShellExecution(plan.command, plan.args, { cwd: plan.dir }),
  );
  task.presentationOptions = { reveal: vscode.TaskRevealKind.Always, panel: vscode.TaskPanelKind.Dedicated, clear: true };
  const execution = await vscode.tasks.executeTask(task);
  const exitCode = await new Promise<number | undefined>((resolve) => {
    const listener = vscode.tasks.onDidEndTaskProcess((e) => {
      if (e.execution !== execution) return;
      listener.dispose();
      resolve(e.exitCode);
    });
  });
  if (exitCode === 0) {
    output.appendLine(`${plan.package} installed into ${plan.dir}`);
    const reload = 'Reload Window';
    const choice = await vscode.window.showInformationMessage(`${plan.package} is installed. Reload the window to start the compute worker with it.`, reload);
    if (choice === reload) await vscode.commands.executeCommand('workbench.action.reloadWindow');
  } else {
    const message = `npm install ${plan.package} in ${plan.dir} failed (exit code ${exitCode ?? 'unknown'}); the terminal shows why.`;
    output.appendLine(message);
    void vscode.window.showErrorMessage(message);
  }
}

export function registerCommands(ctx: CommandContext): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand(COMMANDS.showBackend, () => showBackend(ctx)),
    vscode.commands.registerCommand(COMMANDS.inspectCheckpoint, (target?: unknown) => inspectCheckpoint(ctx, target)),
    vscode.commands.registerCommand(COMMANDS.installGpuBackend, () => installGpuBackend(ctx)),
    vscode.commands.registerCommand(COMMANDS.selectBackend, () => selectBackend()),
    vscode.commands.registerCommand(COMMANDS.openCheckpoint, (target?: unknown) => openCheckpoint(ctx, target)),
    vscode.commands.registerCommand(COMMANDS.openExample, () => openExample(ctx)),
    vscode.commands.registerCommand(COMMANDS.pruneByExplanation, (target?: unknown) => pruneByExplanation(ctx, target)),
    // from the explorer: the clicked file and the selection (two checkpoints selected: A and B)
    vscode.commands.registerCommand(COMMANDS.compareCheckpoints, (target?: unknown, selection?: unknown) => compareCheckpoints(ctx, target, selection)),
    vscode.commands.registerCommand(COMMANDS.describeArchitecture, (target?: unknown) => describeArchitecture(ctx, target)),
  ];
}
