/**
 * "Grassmann Lens: Prune by Explanation…": a guided flow of quick picks and input boxes
 * (checkpoint, evaluation text, reference text, units, criteria, rates, mode, output folder), then the worker's
 * `prune` sweep under a cancellable progress notification, then the report in a webview panel
 * (webview/prune.ts): perplexity and top-1 accuracy against the pruning rate per criterion with
 * their 95% bootstrap bands, the steps with their intervals, which criteria are not separable at
 * a rate, the units each step removed, and buttons to open a pruned checkpoint or reveal its files.
 */
import * as vscode from 'vscode';
import { CHECKPOINT_FILTERS, CHECKPOINT_GLOB, checkpointsInFolder } from '../checkpoint/files';
import { checkpointPickItems, pickOther, textPickItems } from './pickers';
import { DEFAULT_REFERENCE_SPLIT, describeTexts } from '../pruning/heldOut';
import { notificationText } from '../util/safeText';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { isInputError } from '../util/errors';
import type { PruneCriterion, PruneMode, PruneReport, PruneUnitKind } from '../relevance/types';
import type { PruneParams } from '../pruning/sweep';
import { criteriaChoices, DEFAULT_PRUNE, defaultOutputFolder, formatRates, modeChoices, parseRates, UNIT_CHOICES } from '../pruning/choices';
import { asError, isCheckpointUri } from './computeService';
import type { CommandContext } from './commands';
import { CHECKPOINT_VIEW_TYPE } from './checkpointEditor';
import { panelHtml } from './checkpointPanel';
import type { PruneProtocol } from '../protocol/prune';
import type { ViewHost } from '../protocol/rpc';
import { serveWebview } from './webviewHost';

export const PRUNE_COMMAND = 'grassmannLens.pruneByExplanation';
export const PRUNE_REPORT_VIEW_TYPE = 'grassmannLens.pruneReport';
const TITLE = 'Prune by Explanation';
const STEPS = 8;

const step = (k: number): string => `${TITLE} (${k}/${STEPS})`;

async function exists(path: string): Promise<boolean> {
  return fs.access(path).then(() => true, () => false);
}

/**
 * The default output folder (choices.ts defaultOutputFolder: beside the checkpoints folder of a
 * run, i.e. a folder holding two or more checkpoints; else beside the checkpoint), or -2, -3, …
 * when that exists.
 */
export async function uniqueOutputFolder(checkpoint: string): Promise<string> {
  const base = defaultOutputFolder(checkpoint, (await checkpointsInFolder(dirname(checkpoint))).length);
  if (!(await exists(base))) return base;
  for (let i = 2; ; i++) if (!(await exists(`${base}-${i}`))) return `${base}-${i}`;
}

function activeCheckpoint(): vscode.Uri | undefined {
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  const uri = input instanceof vscode.TabInputCustom || input instanceof vscode.TabInputText ? input.uri : undefined;
  return uri && uri.scheme === 'file' && isCheckpointUri(uri) ? uri : undefined;
}

export function label(uri: vscode.Uri): string {
  return vscode.workspace.asRelativePath(uri, false);
}

interface PathItem extends vscode.QuickPickItem {
  path?: string;
  action?: string;
}

/** A single-choice quick pick; resolves to the accepted item or undefined when dismissed. */
export function pickOne<T extends vscode.QuickPickItem>(title: string, placeholder: string, items: T[], active?: T): Promise<T | undefined> {
  return new Promise((resolve) => {
    const qp = vscode.window.createQuickPick<T>();
    qp.title = title;
    qp.placeholder = placeholder;
    qp.items = items;
    qp.ignoreFocusOut = true;
    qp.matchOnDescription = true;
    if (active) qp.activeItems = [active];
    let done = false;
    qp.onDidAccept(() => {
      done = true;
      resolve(qp.selectedItems[0] ?? qp.activeItems[0]);
      qp.hide();
    });
    qp.onDidHide(() => {
      if (!done) resolve(undefined);
      qp.dispose();
    });
    qp.show();
  });
}

export async function browse(title: string, filters: Record<string, string[]>, near?: string): Promise<string | undefined> {
  const picked = await vscode.window.showOpenDialog({
    title,
    canSelectMany: false,
    canSelectFiles: true,
    canSelectFolders: false,
    defaultUri: near ? vscode.Uri.file(near) : vscode.workspace.workspaceFolders?.[0]?.uri,
    filters,
  });
  return picked?.[0]?.fsPath;
}

async function pickCheckpoint(compute: CommandContext['compute'], target?: vscode.Uri): Promise<string | undefined> {
  const current = target ?? activeCheckpoint();
  const found = await vscode.workspace.findFiles(`**/${CHECKPOINT_GLOB}`, '**/{node_modules,.git}/**', 500);
  const { items: listed, others } = await checkpointPickItems(compute, found.map((u) => u.fsPath), current?.fsPath);
  const items: PathItem[] = [];
  if (current) items.push({ label: label(current), description: 'open in the editor', path: current.fsPath });
  items.push(...listed);
  items.push({ label: '$(folder-opened) Browse…', action: 'browse', alwaysShow: true });
  const picked = await pickOne(step(1), 'Checkpoint to prune (newest first, by saved epoch)', items, items.find((i) => i.path));
  if (!picked) return undefined;
  if (picked.action === 'browse') return browse('Checkpoint to prune', CHECKPOINT_FILTERS);
  if (picked.action === 'others') return pickOther(step(1), others);
  return picked.path;
}

interface DataChoice {
  path: string;
  /** A temporary file holding the editor's selection, removed after the run. */
  temporary?: boolean;
}

async function pickData(checkpoint: string, ctx: CommandContext): Promise<DataChoice | undefined> {
  const editor = vscode.window.activeTextEditor ?? ctx.panels.lastTextEditor();
  const selected = editor ? editor.selections.map((s) => editor.document.getText(s)).join('\n') : '';
  const items: PathItem[] = await textPickItems('**/*.txt', checkpoint);
  if (editor && selected.trim()) {
    items.unshift({ label: '$(selection) Selection of the active text editor', description: `${basename(editor.document.uri.fsPath)}, ${selected.length} characters`, action: 'selection', alwaysShow: true });
  }
  items.push({ label: '$(folder-opened) Browse…', action: 'browse', alwaysShow: true });
  const picked = await pickOne(step(2), 'Evaluation text (the pruned models are measured on it)', items, items.find((i) => i.path || i.action));
  if (!picked) return undefined;
  if (picked.action === 'browse') {
    const path = await browse('Evaluation text', { Text: ['txt'] }, dirname(checkpoint));
    return path ? { path } : undefined;
  }
  if (picked.action === 'selection') {
    const path = join(tmpdir(), `grassmann-lens-prune-${randomBytes(6).toString('hex')}.txt`);
    await fs.writeFile(path, selected, 'utf8');
    return { path, temporary: true };
  }
  return picked.path ? { path: picked.path } : undefined;
}

/** What scores the units: another file, a held-out part of the evaluation file, or (warned) the evaluation text itself. */
type ReferenceChoice = { reference: string } | { referenceSplit: number } | { same: true };

async function pickReference(checkpoint: string, data: DataChoice): Promise<ReferenceChoice | undefined> {
  const evalName = data.temporary ? 'the selection' : basename(data.path);
  const share = Math.round(DEFAULT_REFERENCE_SPLIT * 100);
  const files: PathItem[] = await textPickItems('**/*.txt', checkpoint, data.path);
  const split: PathItem = {
    label: `$(split-horizontal) Held-out part: the first ${share}% of ${evalName} scores, the rest evaluates`,
    detail: `cut at the first line end after ${share}% of the characters; only the part after it is evaluated`,
    action: 'split',
    alwaysShow: true,
  };
  const same: PathItem = { label: `$(warning) The evaluation text itself (not recommended)`, detail: 'the units are scored on text the steps are then evaluated on: not held out (the report warns)', action: 'same', alwaysShow: true };
  const browseItem: PathItem = { label: '$(folder-opened) Browse…', action: 'browse', alwaysShow: true };
  const items: PathItem[] = [...files, { label: '', kind: vscode.QuickPickItemKind.Separator }, split, same, browseItem];
  const picked = await pickOne(step(3), 'Reference text (scores the units): a different file, or a held-out part of the evaluation file', items, files.find((i) => i.path) ?? split);
  if (!picked) return undefined;
  if (picked.action === 'split') return { referenceSplit: DEFAULT_REFERENCE_SPLIT };
  if (picked.action === 'same') return { same: true };
  if (picked.action === 'browse') {
    const path = await browse('Reference text (scores the units)', { Text: ['txt'] }, dirname(checkpoint));
    return path ? { reference: path } : undefined;
  }
  return picked.path ? { reference: picked.path } : undefined;
}

async function pickUnits(): Promise<PruneUnitKind | undefined> {
  const items = UNIT_CHOICES.map((u) => ({ label: u.label, description: u.id, detail: u.detail, id: u.id }));
  const picked = await pickOne(step(4), 'Units to remove', items, items[0]);
  return picked?.id;
}

function pickCriteria(units: PruneUnitKind): Promise<PruneCriterion[] | undefined> {
  const { offered, selected } = criteriaChoices(units);
  return new Promise((resolve) => {
    const qp = vscode.window.createQuickPick<vscode.QuickPickItem & { id: PruneCriterion }>();
    qp.title = step(5);
    qp.placeholder = units === 'windows'
      ? 'Criteria to rank the units by (magnitude and wina are left out: a window offset has no weights of its own)'
      : 'Criteria to rank the units by (one sweep per criterion)';
    qp.canSelectMany = true;
    qp.ignoreFocusOut = true;
    qp.items = offered.map((c) => ({ label: c.id, detail: c.detail, id: c.id }));
    qp.selectedItems = qp.items.filter((i) => selected.includes(i.id));
    let done = false;
    qp.onDidAccept(() => {
      if (qp.selectedItems.length === 0) {
        void vscode.window.showWarningMessage('Pick at least one criterion.');
        return;
      }
      done = true;
      resolve(qp.selectedItems.map((i) => i.id));
      qp.hide();
    });
    qp.onDidHide(() => {
      if (!done) resolve(undefined);
      qp.dispose();
    });
    qp.show();
  });
}

async function pickRates(): Promise<number[] | undefined> {
  const text = await vscode.window.showInputBox({
    title: step(6),
    prompt: 'Pruning rates: fractions of the units to remove, separated by commas',
    value: formatRates(DEFAULT_PRUNE.rates),
    ignoreFocusOut: true,
    validateInput: (v) => parseRates(v).error,
  });
  return text === undefined ? undefined : parseRates(text).rates;
}

async function pickMode(units: PruneUnitKind): Promise<PruneMode | undefined> {
  const details: Record<PruneMode, string> = {
    structural: 'smaller matrices and a config.json with the new sizes (faster, loads in Grassmann Lens and HF-style code)',
    mask: 'same shapes, removed units zeroed (loads into the original PyTorch module); adds model.pt',
  };
  const items: (vscode.QuickPickItem & { id: PruneMode })[] = modeChoices(units).map((id) => ({ label: id, detail: details[id], id }));
  const placeholder = units === 'windows'
    ? 'Mode: structural only (window offsets have no weights, so mask mode cannot remove them)'
    : 'How the pruned checkpoints are written';
  return (await pickOne(step(7), placeholder, items, items[0]))?.id;
}

async function pickOutput(checkpoint: string): Promise<string | undefined> {
  const suggested = await uniqueOutputFolder(checkpoint);
  const folder = dirname(suggested);
  const text = await vscode.window.showInputBox({
    title: step(8),
    prompt: `Output folder (relative paths are inside ${folder}); it must not exist or be empty`,
    value: suggested,
    valueSelection: [suggested.length - basename(suggested).length, suggested.length],
    ignoreFocusOut: true,
    validateInput: async (v) => {
      if (!v.trim()) return 'Enter a folder';
      const path = resolveIn(folder, v.trim());
      try {
        const stat = await fs.stat(path);
        if (!stat.isDirectory()) return `${path} is a file`;
        if ((await fs.readdir(path)).length > 0) return `${path} exists and is not empty`;
      } catch {
        /* does not exist: fine */
      }
      return undefined;
    },
  });
  return text === undefined ? undefined : resolveIn(folder, text.trim());
}

function resolveIn(folder: string, path: string): string {
  return path.startsWith('/') || /^[A-Za-z]:[\\/]/.test(path) ? path : join(folder, path);
}

/** The whole flow: gather the parameters, run the sweep, show the report. */
export async function pruneByExplanation(ctx: CommandContext, target?: unknown): Promise<void> {
  const checkpoint = await pickCheckpoint(ctx.compute, target instanceof vscode.Uri && target.scheme === 'file' ? target : undefined);
  if (!checkpoint) return;
  const data = await pickData(checkpoint, ctx);
  if (!data) return;
  try {
    const reference = await pickReference(checkpoint, data);
    if (!reference) return;
    const units = await pickUnits();
    if (!units) return;
    const criteria = await pickCriteria(units);
    if (!criteria) return;
    const rates = await pickRates();
    if (!rates) return;
    const mode = await pickMode(units);
    if (!mode) return;
    const out = await pickOutput(checkpoint);
    if (!out) return;
    const settings = vscode.workspace.getConfiguration('grassmannLens');
    const referenceSamples = settings.get<number>('prune.referenceSamples', DEFAULT_PRUNE.referenceSamples);
    const bootstrap = settings.get<number>('prune.bootstrapResamples', DEFAULT_PRUNE.bootstrap);
    const params: PruneParams = {
      checkpoint, data: data.path, criteria, units, rates, mode, out, referenceSamples, bootstrap, adviceFor: 'vscode',
      ...('reference' in reference ? { reference: reference.reference } : 'referenceSplit' in reference ? { referenceSplit: reference.referenceSplit } : {}),
    };
    const report = await runPrune(ctx, params);
    if (report) PruneReportPanel.show(ctx, report);
  } finally {
    if (data.temporary) await fs.rm(data.path, { force: true });
  }
}

/** Runs the sweep under a cancellable notification; undefined when cancelled or failed (the user is told). */
export async function runPrune(ctx: CommandContext, params: PruneParams): Promise<PruneReport | undefined> {
  const name = basename(params.checkpoint);
  const scoredOn = params.referenceSplit !== undefined
    ? `the first ${Math.round(params.referenceSplit * 100)}% of ${params.data} (to the next line end) scores, the rest evaluates`
    : params.reference ? `reference ${params.reference}` : 'reference: the evaluation text itself (not held out)';
  ctx.output.appendLine(`Pruning ${params.checkpoint}: criteria ${params.criteria?.join(', ')}, units ${params.units}, rates ${params.rates?.join(', ')}, mode ${params.mode}, ${params.referenceSamples} reference samples, data ${params.data}, ${scoredOn}, ${params.bootstrap ?? DEFAULT_PRUNE.bootstrap} bootstrap resamples, into ${params.out}`);
  try {
    const report = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Grassmann Lens: pruning ${name}`, cancellable: true },
      (progress, token) => {
        const abort = new AbortController();
        token.onCancellationRequested(() => abort.abort());
        let last = 0;
        return ctx.compute.request('prune', params, {
          signal: abort.signal,
          untilStopped: true, // "nothing was written" holds once the worker has removed its staging folder
          onProgress: (p) => {
            const percent = p.total ? (100 * p.done) / p.total : 0;
            progress.report({ message: p.message, increment: Math.max(0, percent - last) });
            last = Math.max(last, percent);
          },
        });
      },
    );
    ctx.output.appendLine(`Pruning done in ${report.seconds.toFixed(1)} s: ${report.steps.length} steps written to ${report.output}`);
    const texts = describeTexts(report);
    ctx.output.appendLine(`  scored on: ${texts.reference}`);
    ctx.output.appendLine(`  evaluated on: ${texts.evaluation}`);
    for (const w of report.warnings) ctx.output.appendLine(`  warning: ${w}`);
    return report;
  } catch (e) {
    const err = asError(e);
    if (err.name === 'CancelledError' || err.name === 'OperationCancelled') {
      const left = params.out && (await exists(params.out));
      ctx.output.appendLine(`Pruning cancelled${left ? `; ${params.out} exists` : '; nothing was written'}.`);
      void vscode.window.showInformationMessage(`Pruning ${name} was cancelled; nothing was written.`);
      return undefined;
    }
    if (isInputError(err) || err instanceof RangeError || err.name === 'RangeError') {
      ctx.output.appendLine(`Pruning failed: ${err.message}`);
      void vscode.window.showErrorMessage(err.message);
    } else {
      ctx.output.appendLine(`Pruning ${params.checkpoint} failed: ${err.stack ?? err.message}`);
      void vscode.window.showErrorMessage(`Grassmann Lens: pruning ${name} failed: ${notificationText(err.message)}`);
    }
    return undefined;
  }
}

/** One pruning report in a webview panel. */
export class PruneReportPanel {
  static show(ctx: CommandContext, report: PruneReport): PruneReportPanel {
    const title = `Pruning: ${basename(report.checkpoint)}`;
    const panel = vscode.window.createWebviewPanel(PRUNE_REPORT_VIEW_TYPE, title, vscode.ViewColumn.Active, {
      enableScripts: true,
      retainContextWhenHidden: true,
      localResourceRoots: [vscode.Uri.joinPath(ctx.panels.extensionUri, 'dist')],
    });
    return new PruneReportPanel(panel, ctx, report, title);
  }

  private readonly host: ViewHost<PruneProtocol>;

  private constructor(private readonly panel: vscode.WebviewPanel, private readonly ctx: CommandContext, private readonly report: PruneReport, title: string) {
    panel.webview.html = panelHtml(panel.webview, ctx.panels.extensionUri, title, 'prune');
    this.host = serveWebview<PruneProtocol>(panel.webview, {
      requests: {},
      commands: {
        ready: () => this.host.notify('report', { report: this.report }),
        open: ({ output }) => this.open(output),
        reveal: ({ output }) => this.reveal(output),
      },
      onInvalid: (problem) => this.ctx.output.appendLine(`Pruning report: dropped a message: ${problem}`),
    });
    panel.onDidDispose(() => this.host.dispose());
  }

  /** Only folders of this report are opened or revealed (the view's messages are not trusted further). */
  private ownFolder(output: string): string | undefined {
    if (output === this.report.output) return output;
    return this.report.steps.find((s) => s.output === output)?.output;
  }

  private async open(output: unknown): Promise<void> {
    const folder = typeof output === 'string' ? this.ownFolder(output) : undefined;
    if (!folder) return;
    const file = vscode.Uri.file(join(folder, 'model.safetensors'));
    try {
      await vscode.commands.executeCommand('vscode.openWith', file, CHECKPOINT_VIEW_TYPE, { viewColumn: vscode.ViewColumn.Beside });
    } catch (e) {
      void vscode.window.showErrorMessage(`Grassmann Lens: cannot open ${file.fsPath}: ${notificationText(asError(e).message)}`);
    }
  }

  private async reveal(output: unknown): Promise<void> {
    const folder = typeof output === 'string' ? this.ownFolder(output) : undefined;
    if (!folder) return;
    const uri = vscode.Uri.file(folder);
    const inWorkspace = vscode.workspace.getWorkspaceFolder(uri) !== undefined;
    const target = inWorkspace ? vscode.Uri.file(join(folder, 'pruning.json')) : uri;
    if (inWorkspace && (await exists(target.fsPath))) await vscode.commands.executeCommand('revealInExplorer', target);
    else if (inWorkspace) await vscode.commands.executeCommand('revealInExplorer', uri);
    else await vscode.commands.executeCommand('revealFileInOS', uri);
    this.ctx.output.appendLine(`Pruned files: ${folder} (${relative(dirname(this.report.output), folder) || basename(folder)})`);
  }
}
