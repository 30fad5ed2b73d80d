/**
 * Choose Config… / Choose Tokenizer…: the files a checkpoint runs with when they are not beside
 * it. A choice is checked by the worker before it is kept (the config opens the model, the
 * tokenizer loads and fits the vocabulary), remembered per checkpoint in the workspace state, and
 * sent with every request for that checkpoint (./computeService.ts). The setting
 * `grassmannLens.modelFiles` gives the same per checkpoint for those who keep it in settings.json;
 * a choice made here takes precedence (../util/modelFiles.ts).
 */
import * as vscode from 'vscode';
import { basename, dirname } from 'node:path';
import {
  modelFilesOf, readModelFilesSetting, withChoice,
  type ModelFileChoices, type ModelFileKind, type ModelFileOrigin, type ModelFiles,
} from '../util/modelFiles';
import { notificationText } from '../util/safeText';
import { asError, isCheckpointUri, type ComputeService } from './computeService';
import { CHECKPOINT_FILTERS } from '../checkpoint/files';

const STATE_KEY = 'grassmannLens.modelFiles';

export const CHOOSE_CONFIG_COMMAND = 'grassmannLens.chooseConfig';
export const CHOOSE_TOKENIZER_COMMAND = 'grassmannLens.chooseTokenizer';

export class ModelFileStore implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<string>();
  /** Fires with the checkpoint path whose files changed (a choice made or forgotten). */
  readonly onDidChange = this.changed.event;
  private readonly subscriptions: vscode.Disposable[] = [this.changed];
  private reported = '';

  constructor(private readonly state: vscode.Memento, private readonly output: vscode.OutputChannel) {
    this.subscriptions.push(vscode.workspace.onDidChangeConfiguration((e) => {
      if (!e.affectsConfiguration('grassmannLens.modelFiles')) return;
      for (const path of Object.keys(this.setting())) this.changed.fire(path);
    }));
  }

  private chosen(): ModelFileChoices {
    return this.state.get<ModelFileChoices>(STATE_KEY, {});
  }

  private setting(): ModelFileChoices {
    const root = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    const { entries, problems } = readModelFilesSetting(vscode.workspace.getConfiguration('grassmannLens').get('modelFiles'), root);
    const text = problems.join('\n');
    if (text && text !== this.reported) this.output.appendLine(`Settings: ${text}`);
    this.reported = text;
    return entries;
  }

  /** The files `checkpoint` runs with (none: found beside it), and where each comes from. */
  of(checkpoint: string): { files: ModelFiles; origin: Record<ModelFileKind, ModelFileOrigin> } {
    return modelFilesOf(checkpoint, this.chosen(), this.setting());
  }

  async set(checkpoint: string, kind: ModelFileKind, file: string | undefined): Promise<void> {
    await this.state.update(STATE_KEY, withChoice(this.chosen(), checkpoint, kind, file));
    this.changed.fire(checkpoint);
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
  }
}

const KIND_TITLES: Record<ModelFileKind, string> = { config: 'config', tokenizer: 'tokenizer' };

interface Choice extends vscode.QuickPickItem {
  action?: 'file' | 'folder' | 'forget';
  path?: string;
}

/**
 * Lets the user pick the config or tokenizer of `checkpoint` (a file, a folder or a Hugging Face
 * cache entry for the tokenizer), checks it in the worker, and keeps it. Resolves to whether a
 * new choice was kept.
 */
export async function chooseModelFile(
  ctx: { compute: ComputeService; files: ModelFileStore; output: vscode.OutputChannel },
  checkpoint: string,
  kind: ModelFileKind,
): Promise<boolean> {
  const { origin, files } = ctx.files.of(checkpoint);
  const items: Choice[] = [];
  if (kind === 'config') {
    items.push({ label: '$(file) Choose a config file…', description: 'config.json of the implementation that trained it', action: 'file' });
    const near = await vscode.workspace.findFiles('**/config.json', '**/{node_modules,.git}/**', 50);
    near.sort((a, b) => distance(checkpoint, a.fsPath) - distance(checkpoint, b.fsPath) || a.fsPath.localeCompare(b.fsPath));
    for (const uri of near.slice(0, 20)) items.push({ label: vscode.workspace.asRelativePath(uri), path: uri.fsPath });
  } else {
    items.push({ label: '$(file) Choose a tokenizer file…', description: 'tokenizer.json or vocab.txt', action: 'file' });
    items.push({ label: '$(folder) Choose a folder…', description: 'one holding tokenizer.json or vocab.txt', action: 'folder' });
    const cached = await ctx.compute.request('cachedTokenizers', {}).catch(() => []);
    if (cached.length) items.push({ label: 'Hugging Face cache', kind: vscode.QuickPickItemKind.Separator });
    for (const c of cached) items.push({ label: c.repo, description: basename(c.file), detail: c.file, path: c.file });
  }
  if (origin[kind] === 'chosen') {
    items.push({ label: '', kind: vscode.QuickPickItemKind.Separator });
    items.push({ label: '$(discard) Find it automatically', description: `forget ${files[kind] ? basename(files[kind]) : 'the choice'}`, action: 'forget' });
  }
  const picked = await vscode.window.showQuickPick(items, {
    title: `Grassmann Lens: the ${KIND_TITLES[kind]} of ${basename(checkpoint)}`,
    placeHolder: origin[kind] === 'found' ? `Not chosen yet: found beside the checkpoint if there is one` : `Now: ${files[kind]} (${origin[kind] === 'chosen' ? 'chosen' : 'from the setting grassmannLens.modelFiles'})`,
    matchOnDescription: true,
    matchOnDetail: true,
  });
  if (!picked) return false;
  if (picked.action === 'forget') {
    await ctx.files.set(checkpoint, kind, undefined);
    return true;
  }
  let path = picked.path;
  if (picked.action === 'file' || picked.action === 'folder') {
    const chosen = await vscode.window.showOpenDialog({
      title: `The ${KIND_TITLES[kind]} of ${basename(checkpoint)}`,
      canSelectFiles: picked.action === 'file',
      canSelectFolders: picked.action === 'folder',
      canSelectMany: false,
      defaultUri: vscode.Uri.file(dirname(checkpoint)),
      filters: picked.action === 'file' ? (kind === 'config' ? { JSON: ['json'] } : { Tokenizer: ['json', 'txt'] }) : undefined,
    });
    path = chosen?.[0]?.fsPath;
  }
  if (!path) return false;
  // Checked before it is kept: a config that does not open the model, or a tokenizer that does not load or fit, is refused.
  try {
    const ref = { path: checkpoint, ...files, [kind]: path };
    if (kind === 'config') await ctx.compute.request('modelReport', ref);
    else await ctx.compute.request('tokenizerInfo', ref);
  } catch (e) {
    void vscode.window.showErrorMessage(`Grassmann Lens: ${basename(path)} cannot serve as the ${KIND_TITLES[kind]} of ${basename(checkpoint)}: ${notificationText(asError(e).message)}`);
    return false;
  }
  await ctx.files.set(checkpoint, kind, path);
  ctx.output.appendLine(`${checkpoint}: runs with the ${KIND_TITLES[kind]} ${path} (remembered for this workspace).`);
  return true;
}

/** How far `path` is from the checkpoint's folder (same folder 0, then by shared prefix). */
function distance(checkpoint: string, path: string): number {
  const a = dirname(checkpoint).split(/[\\/]/);
  const b = dirname(path).split(/[\\/]/);
  let common = 0;
  while (common < a.length && common < b.length && a[common] === b[common]) common++;
  return a.length - common + (b.length - common);
}

/**
 * The checkpoint a Choose… command is for: its argument (a path from a view, an explorer URI),
 * else the one in the active editor tab, else one of the open ones, else one browsed to.
 */
async function targetCheckpoint(target: unknown, kind: ModelFileKind, open: () => string[]): Promise<string | undefined> {
  if (typeof target === 'string' && target) return target;
  if (target instanceof vscode.Uri && target.scheme === 'file') return target.fsPath;
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  if (input instanceof vscode.TabInputCustom && input.uri.scheme === 'file' && isCheckpointUri(input.uri)) return input.uri.fsPath;
  const paths = open();
  if (paths.length === 1) return paths[0];
  if (paths.length > 1) {
    const picked = await vscode.window.showQuickPick(paths.map((path) => ({ label: basename(path), description: vscode.workspace.asRelativePath(dirname(path)), path })), {
      title: `Grassmann Lens: choose the ${KIND_TITLES[kind]} of which checkpoint?`,
    });
    return picked?.path;
  }
  const browsed = await vscode.window.showOpenDialog({
    title: `Choose the ${KIND_TITLES[kind]} of which checkpoint?`,
    canSelectMany: false,
    canSelectFolders: false,
    defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
    filters: CHECKPOINT_FILTERS,
  });
  return browsed?.[0]?.fsPath;
}

export function registerModelFileCommands(
  ctx: { compute: ComputeService; files: ModelFileStore; output: vscode.OutputChannel },
  open: () => string[],
): vscode.Disposable[] {
  const command = (kind: ModelFileKind) => async (target?: unknown) => {
    const checkpoint = await targetCheckpoint(target, kind, open);
    if (checkpoint) await chooseModelFile(ctx, checkpoint, kind);
  };
  return [
    vscode.commands.registerCommand(CHOOSE_CONFIG_COMMAND, command('config')),
    vscode.commands.registerCommand(CHOOSE_TOKENIZER_COMMAND, command('tokenizer')),
  ];
}
