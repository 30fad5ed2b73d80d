/**
 * "Analyze This Text": a text document (or a selection of it) bound to a checkpoint. The compute
 * worker's `textAnalysis` (src/core/textAnalysis.ts) runs it through the model, window by window;
 * this adapter shows the result in VS Code: a hover per token, token colours (decorations in
 * theme colours) with a legend in the status bar item, and a new run after each pause in typing
 * (the run in progress is cancelled at the first keystroke). The layout of hovers and colours is
 * in ./textTokens.ts.
 */
import * as vscode from 'vscode';
import { UNAMBIGUOUS_CHECKPOINT_GLOB } from '../checkpoint/files';
import { statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { TextAnalysis, TextAnalysisPiece, TextWindowAnalysis } from '../core/textAnalysis';
import type { GrassmannMetric } from '../geometry/angles';
import { markdownText, notificationText } from '../util/safeText';
import { openCheckpointPaths, openCheckpointTarget } from './checkpointEditor';
import { CheckpointPanel, type PanelContext } from './checkpointPanel';
import { asError, type ComputeService } from './computeService';
import {
  colorId, colorOf, colorScale, hoverMarkdown, LEVELS, legendRows, placeTokens, QUANTITY_LABELS, shiftRange, shiftTokens,
  TOKEN_COLOR_QUANTITIES, tokenQuantity, tokensAt, type LayerChoice, type PlacedToken, type Ramp, type TextChange, type TokenColorQuantity,
} from './textTokens';

export const TEXT_ANALYSIS_COMMANDS = {
  analyzeText: 'grassmannLens.analyzeText',
  toggleTokenColors: 'grassmannLens.toggleTokenColors',
  colorTokensBy: 'grassmannLens.colorTokensBy',
  clearTextAnalysis: 'grassmannLens.clearTextAnalysis',
  /** The hover's link (not in the palette): opens the checkpoint view of the token's model. */
  revealToken: 'grassmannLens.revealToken',
} as const;

/** A new analysis starts this long after the last edit. */
export const EDIT_DEBOUNCE_MS = 500;
const STATUS_ITEM_ID = 'grassmannLens.tokenColors';

const QUANTITY_SHORT: Record<TokenColorQuantity, string> = { relevance: 'relevance', planeArea: 'plane area', gate: 'gate', loss: 'loss' };

interface TextSettings {
  quantity: TokenColorQuantity;
  layer: number;
  offset: number;
  metric: GrassmannMetric;
  neighbours: number;
  maxWindows: number;
}

function readTextSettings(): TextSettings {
  const c = vscode.workspace.getConfiguration('grassmannLens');
  const quantity = c.get<string>('tokenColors.quantity', 'relevance');
  return {
    quantity: (TOKEN_COLOR_QUANTITIES as readonly string[]).includes(quantity) ? (quantity as TokenColorQuantity) : 'relevance',
    layer: c.get<number>('textAnalysis.layer', 0),
    offset: c.get<number>('textAnalysis.offset', 1),
    metric: c.get<GrassmannMetric>('textAnalysis.metric', 'geodesic'),
    neighbours: 3,
    maxWindows: Math.max(1, c.get<number>('textAnalysis.maxWindows', 32)),
  };
}

/** One document bound to a checkpoint. */
interface Binding {
  document: vscode.TextDocument;
  checkpoint: string;
  /** The analysed range in document offsets (moved through edits); null: the whole document. */
  range: { start: number; end: number } | null;
  /** The tokens shown (document offsets): the last analysis, moved through edits since. */
  tokens: PlacedToken[];
  /** Windows of the current run received so far (their tokens are up to date). */
  fresh: Set<TextWindowAnalysis>;
  last: TextAnalysis | undefined;
  nearestProblem: string | null;
  state: 'running' | 'ready' | 'failed';
  error?: string;
  running?: AbortController;
  timer?: NodeJS.Timeout;
  /** Completed runs: the first one failing unbinds the document. */
  runs: number;
  /** Holds the checkpoint's document: when training writes the file again, the text is analysed again. */
  checkpointWatcher?: vscode.Disposable;
}

/** Whether `path` is a model folder (a file, or a path that no longer exists, is not). */
function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

export class TextAnalysisController implements vscode.Disposable {
  private readonly bindings = new Map<string, Binding>();
  private readonly disposables: vscode.Disposable[] = [];
  private readonly decorationTypes = new Map<string, vscode.TextEditorDecorationType>();
  private readonly status: vscode.StatusBarItem;
  private colorsOn = true;

  constructor(private readonly ctx: { compute: ComputeService; output: vscode.OutputChannel; panels: PanelContext }) {
    for (const ramp of ['high', 'low'] as Ramp[]) {
      for (let level = 1; level <= LEVELS; level++) {
        const id = colorId({ ramp, level });
        this.decorationTypes.set(id, vscode.window.createTextEditorDecorationType({
          backgroundColor: new vscode.ThemeColor(id),
          borderRadius: '2px',
          rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
        }));
      }
    }
    this.status = vscode.window.createStatusBarItem(STATUS_ITEM_ID, vscode.StatusBarAlignment.Right, 99);
    // A config or tokenizer chosen for a bound checkpoint: its texts run again with them.
    this.disposables.push(ctx.panels.modelFiles.onDidChange((path) => {
      for (const b of this.bindings.values()) if (resolve(b.checkpoint) === resolve(path)) this.schedule(b, 0);
    }));
    this.status.name = 'Grassmann Lens: token colours';
    this.status.command = TEXT_ANALYSIS_COMMANDS.toggleTokenColors;
    this.disposables.push(
      this.status,
      ...this.decorationTypes.values(),
      vscode.languages.registerHoverProvider('*', { provideHover: (document, position) => this.hover(document, position) }),
      vscode.workspace.onDidChangeTextDocument((e) => this.onEdit(e)),
      vscode.workspace.onDidCloseTextDocument((d) => this.unbind(d.uri)),
      vscode.window.onDidChangeVisibleTextEditors(() => {
        for (const b of this.bindings.values()) this.decorate(b);
      }),
      vscode.window.onDidChangeActiveTextEditor(() => this.updateStatus()),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('grassmannLens.textAnalysis')) {
          for (const b of this.bindings.values()) this.schedule(b, 0);
        } else if (e.affectsConfiguration('grassmannLens.tokenColors')) {
          this.redecorateAll();
        }
      }),
      vscode.commands.registerCommand(TEXT_ANALYSIS_COMMANDS.analyzeText, (arg?: unknown) => this.analyzeText(arg)),
      vscode.commands.registerCommand(TEXT_ANALYSIS_COMMANDS.toggleTokenColors, () => this.toggleColors()),
      vscode.commands.registerCommand(TEXT_ANALYSIS_COMMANDS.colorTokensBy, () => this.colorTokensBy()),
      vscode.commands.registerCommand(TEXT_ANALYSIS_COMMANDS.clearTextAnalysis, () => {
        const editor = this.targetEditor();
        if (editor) this.unbind(editor.document.uri);
      }),
      vscode.commands.registerCommand(TEXT_ANALYSIS_COMMANDS.revealToken, (arg?: unknown) => this.revealToken(arg)),
    );
  }

  // -------------------------------------------------------------------------------------------
  // Commands
  // -------------------------------------------------------------------------------------------

  /** The text editor a command acts on: the active one, else the last one (a webview may have focus). */
  private targetEditor(document?: vscode.Uri): vscode.TextEditor | undefined {
    if (document) return vscode.window.visibleTextEditors.find((e) => e.document.uri.toString() === document.toString());
    return vscode.window.activeTextEditor ?? this.ctx.panels.lastTextEditor();
  }

  /**
   * Binds the active editor (its selection when there is one) to a checkpoint and analyses it.
   * `arg`: the document's URI (editor context menu), or `{ checkpoint }` to skip the question.
   */
  async analyzeText(arg?: unknown): Promise<void> {
    const editor = this.targetEditor(arg instanceof vscode.Uri ? arg : undefined);
    if (!editor) {
      void vscode.window.showInformationMessage('Grassmann Lens: open a text editor to analyse its text.');
      return;
    }
    const given = typeof arg === 'object' && arg !== null && typeof (arg as { checkpoint?: unknown }).checkpoint === 'string'
      ? (arg as { checkpoint: string }).checkpoint
      : undefined;
    const checkpoint = given ?? (await chooseCheckpoint());
    if (!checkpoint) return;
    const { document, selection } = editor;
    this.unbind(document.uri);
    const range = selection.isEmpty ? null : { start: document.offsetAt(selection.start), end: document.offsetAt(selection.end) };
    const binding: Binding = { document, checkpoint, range, tokens: [], fresh: new Set(), last: undefined, nearestProblem: null, state: 'running', runs: 0 };
    this.bindings.set(document.uri.toString(), binding);
    binding.checkpointWatcher = this.watchCheckpoint(binding);
    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Window, title: `Grassmann Lens: analysing the text with ${basename(checkpoint)}` },
      () => this.run(binding),
    );
  }

  private toggleColors(): void {
    this.colorsOn = !this.colorsOn;
    this.redecorateAll();
  }

  private async colorTokensBy(): Promise<void> {
    const config = vscode.workspace.getConfiguration('grassmannLens');
    const current = readTextSettings().quantity;
    const items = TOKEN_COLOR_QUANTITIES.map((q) => ({ label: QUANTITY_SHORT[q], description: QUANTITY_LABELS[q] + (q === current ? ' (current)' : ''), quantity: q }));
    const picked = await vscode.window.showQuickPick(items, { title: 'Grassmann Lens: colour tokens by' });
    if (!picked) return;
    this.colorsOn = true;
    const inspected = config.inspect<string>('tokenColors.quantity');
    const target = inspected?.workspaceFolderValue !== undefined
      ? vscode.ConfigurationTarget.WorkspaceFolder
      : inspected?.workspaceValue !== undefined ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
    await config.update('tokenColors.quantity', picked.quantity, target);
    this.redecorateAll();
  }

  /**
   * The hover's link: opens (or reveals) the token's checkpoint in its view, which runs the
   * token's window of text on its Run tab and pins the token there.
   */
  private async revealToken(arg?: unknown): Promise<void> {
    const a = typeof arg === 'object' && arg !== null ? (arg as { checkpoint?: unknown; document?: unknown; window?: unknown; position?: unknown }) : {};
    if (typeof a.checkpoint !== 'string') return;
    const checkpoint = a.checkpoint;
    try {
      await openCheckpointTarget(this.ctx.panels, vscode.Uri.file(checkpoint));
    } catch (e) {
      void vscode.window.showErrorMessage(`Grassmann Lens: cannot open ${checkpoint}: ${notificationText(asError(e).message)}`);
      return;
    }
    const b = typeof a.document === 'string' ? this.bindings.get(a.document) : undefined;
    if (!b || typeof a.window !== 'number' || typeof a.position !== 'number') return;
    // The window's text as the document has it now: from its first token to its last.
    const placed = b.tokens.filter((t) => t.window.index === a.window);
    if (!placed.length) return;
    const text = b.document.getText(new vscode.Range(b.document.positionAt(placed[0].start), b.document.positionAt(placed[placed.length - 1].end)));
    const source = `${basename(b.document.uri.fsPath || b.document.uri.path)}, window ${a.window + 1} of ${placed[0].window.count}`;
    // A freshly opened editor makes its panel a moment after openWith returns.
    for (let waited = 0; waited <= 5000; waited += 100) {
      const panels = CheckpointPanel.showing(checkpoint);
      if (panels.length) {
        for (const p of panels) p.pinToken(text, a.position, source);
        return;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  // -------------------------------------------------------------------------------------------
  // Runs
  // -------------------------------------------------------------------------------------------

  /**
   * When the bound checkpoint is written again (a training run saving best.pt), its document (the
   * one the checkpoint's views share: ./checkpointDocument.ts) has the worker drop its copy once the
   * file has been quiet for a moment, and the text runs again.
   */
  private watchCheckpoint(b: Binding): vscode.Disposable {
    const documents = this.ctx.panels.documents;
    const doc = documents.acquire(b.checkpoint, isDirectory(b.checkpoint));
    const subscription = doc.onDidChange(() => {
      if (this.bindings.get(b.document.uri.toString()) !== b) return;
      this.ctx.output.appendLine(`${b.checkpoint} changed on disk: analysing ${b.document.uri.fsPath || b.document.uri.toString()} again.`);
      this.schedule(b, 0);
    });
    return { dispose: () => { subscription.dispose(); documents.release(doc); } };
  }

  private unbind(uri: vscode.Uri): void {
    const key = uri.toString();
    const b = this.bindings.get(key);
    if (!b) return;
    this.bindings.delete(key);
    b.checkpointWatcher?.dispose();
    clearTimeout(b.timer);
    b.running?.abort();
    b.tokens = [];
    this.decorate(b);
    this.updateStatus();
  }

  private schedule(b: Binding, delay: number): void {
    clearTimeout(b.timer);
    b.timer = setTimeout(() => void this.run(b), delay);
  }

  private onEdit(e: vscode.TextDocumentChangeEvent): void {
    const b = this.bindings.get(e.document.uri.toString());
    if (!b || e.contentChanges.length === 0) return;
    const changes: TextChange[] = e.contentChanges.map((c) => ({ offset: c.rangeOffset, length: c.rangeLength, inserted: c.text.length }));
    // What the model saw no longer matches the text around the edit: cancel now, run again after a pause.
    b.running?.abort();
    b.tokens = shiftTokens(b.tokens, changes);
    b.fresh.clear();
    if (b.range) b.range = shiftRange(b.range, changes);
    b.state = 'running';
    this.updateStatus();
    this.schedule(b, EDIT_DEBOUNCE_MS);
  }

  private async run(b: Binding): Promise<void> {
    clearTimeout(b.timer);
    b.running?.abort();
    if (this.bindings.get(b.document.uri.toString()) !== b) return;
    const abort = new AbortController();
    b.running = abort;
    const { document } = b;
    const base = b.range ? b.range.start : 0;
    const text = b.range ? document.getText(new vscode.Range(document.positionAt(b.range.start), document.positionAt(b.range.end))) : document.getText();
    const settings = readTextSettings();
    const received: TextWindowAnalysis[] = [];
    const previous = b.tokens;
    b.state = 'running';
    b.fresh = new Set();
    this.updateStatus();
    const started = Date.now();
    try {
      const result = await this.ctx.compute.request('textAnalysis', {
        path: b.checkpoint, text, layer: settings.layer, offset: settings.offset, metric: settings.metric, neighbours: settings.neighbours, maxWindows: settings.maxWindows,
      }, {
        signal: abort.signal,
        onPartial: (data) => {
          if (abort.signal.aborted) return;
          const piece = data as TextAnalysisPiece;
          received.push(piece.window);
          b.fresh.add(piece.window);
          b.nearestProblem = piece.nearestProblem;
          // The windows done so far, then the previous analysis's tokens beyond them until theirs arrive.
          const coveredEnd = base + piece.window.end;
          b.tokens = [...placeTokens(received, base), ...previous.filter((t) => t.start >= coveredEnd)];
          this.decorate(b);
        },
      });
      if (abort.signal.aborted) return;
      b.tokens = placeTokens(result.windows, base);
      b.fresh = new Set(result.windows);
      b.last = result;
      b.nearestProblem = result.nearestProblem;
      b.state = 'ready';
      b.runs++;
      const tokenCount = result.windows.reduce((n, w) => n + w.tokenCount, 0);
      this.ctx.output.appendLine(
        `Analysed ${document.uri.fsPath || document.uri.toString()} with ${result.checkpoint}: ${tokenCount} tokens in ${result.windows.length} window${result.windows.length === 1 ? '' : 's'}, ` +
        `${Date.now() - started} ms (${result.windows.filter((w) => !w.cached).length} computed, the others unchanged since the last run; backend ${result.backend})`,
      );
      for (const w of result.warnings) this.ctx.output.appendLine(`  warning: ${w}`);
      if (result.windowCount > result.windows.length) {
        void vscode.window.showWarningMessage(`Grassmann Lens: ${basename(document.uri.fsPath || document.uri.path)} is long: only its first ${result.windows.length} of ${result.windowCount} windows were analysed (setting grassmannLens.textAnalysis.maxWindows). Select a part of the text and run Analyze This Text to analyse another.`);
      }
      this.decorate(b);
      this.updateStatus();
    } catch (e) {
      if (abort.signal.aborted) return;
      const err = asError(e);
      b.state = 'failed';
      b.error = err.message;
      this.ctx.output.appendLine(`Text analysis of ${document.uri.toString()} with ${b.checkpoint} failed: ${err.stack ?? err.message}`);
      if (b.runs === 0) {
        this.unbind(document.uri);
        void vscode.window.showErrorMessage(`Grassmann Lens: cannot analyse the text with ${b.checkpoint}: ${notificationText(err.message)}`);
      } else {
        this.updateStatus();
      }
    } finally {
      if (b.running === abort) b.running = undefined;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Hover, colours, status
  // -------------------------------------------------------------------------------------------

  private hover(document: vscode.TextDocument, position: vscode.Position): vscode.Hover | undefined {
    const b = this.bindings.get(document.uri.toString());
    if (!b) return undefined;
    const found = tokensAt(b.tokens, document.offsetAt(position));
    if (found.length === 0) return undefined;
    const settings = readTextSettings();
    const choice: LayerChoice = { layer: settings.layer, offset: settings.offset };
    const revealLink = (t: PlacedToken) => `command:${TEXT_ANALYSIS_COMMANDS.revealToken}?${encodeURIComponent(JSON.stringify([{ checkpoint: b.checkpoint, document: document.uri.toString(), position: t.position, window: t.window.index }]))}`;
    const markdown = new vscode.MarkdownString(found.map((t) => hoverMarkdown(t, {
      checkpoint: b.checkpoint,
      checkpointName: basename(b.checkpoint),
      choice,
      nearestProblem: b.nearestProblem,
      revealLink,
      stale: !b.fresh.has(t.window),
    })).join('\n\n---\n\n'));
    markdown.isTrusted = { enabledCommands: [TEXT_ANALYSIS_COMMANDS.revealToken] };
    const first = found[0];
    return new vscode.Hover(markdown, new vscode.Range(document.positionAt(first.start), document.positionAt(first.end)));
  }

  private redecorateAll(): void {
    for (const b of this.bindings.values()) this.decorate(b);
    this.updateStatus();
  }

  private decorate(b: Binding): void {
    const editors = vscode.window.visibleTextEditors.filter((e) => e.document === b.document);
    if (editors.length === 0) return;
    const ranges = new Map<string, vscode.Range[]>();
    if (this.colorsOn && this.bindings.get(b.document.uri.toString()) === b) {
      const settings = readTextSettings();
      const choice: LayerChoice = { layer: settings.layer, offset: settings.offset };
      const scale = colorScale(b.tokens, settings.quantity, choice);
      for (const t of b.tokens) {
        const color = colorOf(tokenQuantity(t.window, t.position, settings.quantity, choice), scale);
        if (!color) continue;
        const id = colorId(color);
        let list = ranges.get(id);
        if (!list) ranges.set(id, (list = []));
        list.push(new vscode.Range(b.document.positionAt(t.start), b.document.positionAt(t.end)));
      }
    }
    for (const editor of editors) {
      for (const [id, type] of this.decorationTypes) editor.setDecorations(type, ranges.get(id) ?? []);
    }
  }

  private updateStatus(): void {
    const editor = vscode.window.activeTextEditor;
    const b = editor && this.bindings.get(editor.document.uri.toString());
    // Context keys for the commands' `when` clauses (package.json contributes.menus.commandPalette).
    this.setContext('grassmannLens.textBound', this.bindings.size > 0);
    this.setContext('grassmannLens.activeTextBound', b !== undefined);
    if (!b) {
      this.status.hide();
      return;
    }
    const settings = readTextSettings();
    const label = this.colorsOn ? QUANTITY_SHORT[settings.quantity] : 'colours off';
    this.status.text = b.state === 'failed'
      ? '$(warning) GL: text analysis failed'
      : `${b.state === 'running' ? '$(sync~spin)' : '$(symbol-color)'} GL: ${label}`;
    this.status.tooltip = this.legend(b, settings);
    this.status.show();
  }

  private readonly contextValues = new Map<string, boolean>();

  private setContext(key: string, value: boolean): void {
    if (this.contextValues.get(key) === value) return;
    this.contextValues.set(key, value);
    void vscode.commands.executeCommand('setContext', key, value);
  }

  /** The status bar item's tooltip: the model, the windows, and what each colour means. */
  private legend(b: Binding, settings: TextSettings): vscode.MarkdownString {
    const choice: LayerChoice = { layer: settings.layer, offset: settings.offset };
    // supportHtml: the file name and the error (it quotes the files) are escaped (../util/safeText.ts).
    const lines: string[] = [`**Grassmann Lens** · ${markdownText(basename(b.checkpoint))}`, ''];
    if (b.state === 'failed') lines.push(`The last analysis failed: ${markdownText(b.error ?? 'unknown error', 1000)}`, '');
    if (b.last) {
      const w = b.last.windows.length;
      const tokens = b.last.windows.reduce((n, x) => n + x.tokenCount, 0);
      lines.push(`${tokens} tokens${b.range ? ' of the selection' : ''} in ${w} window${w === 1 ? '' : 's'} of up to ${b.last.capacity} (non-overlapping, each run on its own)`, '');
    }
    const where = settings.quantity === 'planeArea' ? ` at layer ${choice.layer}, d=${choice.offset}` : settings.quantity === 'gate' ? ` at layer ${choice.layer}` : '';
    if (this.colorsOn) {
      const scale = colorScale(b.tokens, settings.quantity, choice);
      lines.push(`Colour: **${QUANTITY_LABELS[settings.quantity]}**${where}`, '');
      if (scale.count === 0) {
        lines.push('_no token has a value for it_');
      } else {
        lines.push('| | range |', '|---|---|');
        for (const row of legendRows(scale)) {
          const variable = `--vscode-${colorId(row.color).replace(/\./g, '-')}`;
          lines.push(`| <span style="background-color:var(${variable});">&nbsp;&nbsp;&nbsp;&nbsp;&nbsp;&nbsp;</span> | ${row.range} |`);
        }
      }
    } else {
      lines.push('Token colours are off.');
    }
    lines.push('', `[Toggle colours](command:${TEXT_ANALYSIS_COMMANDS.toggleTokenColors}) · [Colour by…](command:${TEXT_ANALYSIS_COMMANDS.colorTokensBy}) · [Clear](command:${TEXT_ANALYSIS_COMMANDS.clearTextAnalysis})`);
    const md = new vscode.MarkdownString(lines.join('\n'));
    md.supportHtml = true;
    md.isTrusted = { enabledCommands: [TEXT_ANALYSIS_COMMANDS.toggleTokenColors, TEXT_ANALYSIS_COMMANDS.colorTokensBy, TEXT_ANALYSIS_COMMANDS.clearTextAnalysis] };
    return md;
  }

  dispose(): void {
    for (const b of this.bindings.values()) {
      clearTimeout(b.timer);
      b.running?.abort();
    }
    this.bindings.clear();
    for (const d of this.disposables) d.dispose();
  }
}

/**
 * Which model to analyse with: the checkpoint open in a Grassmann Lens editor or panel (asked when
 * several are), else one of the workspace's checkpoint files or any file or folder.
 */
async function chooseCheckpoint(): Promise<string | undefined> {
  const open = openCheckpointPaths();
  if (open.length === 1) return open[0];
  if (open.length > 1) {
    const picked = await vscode.window.showQuickPick(
      open.map((path) => ({ label: basename(path), description: vscode.workspace.asRelativePath(dirname(path)), path })),
      { title: 'Grassmann Lens: analyse the text with which open checkpoint?' },
    );
    return picked?.path;
  }
  const files = await vscode.workspace.findFiles(`**/${UNAMBIGUOUS_CHECKPOINT_GLOB}`, '**/node_modules/**', 200);
  if (files.length > 0) {
    const browse = { label: '$(folder-opened) Browse…', description: 'another checkpoint file or model folder', path: undefined as string | undefined };
    const items = files
      .map((uri) => ({ label: basename(uri.fsPath), description: vscode.workspace.asRelativePath(dirname(uri.fsPath)), path: uri.fsPath as string | undefined }))
      .sort((a, b) => (a.description + '/' + a.label).localeCompare(b.description + '/' + b.label, undefined, { numeric: true }));
    const picked = await vscode.window.showQuickPick([...items, browse], { title: 'Grassmann Lens: analyse the text with which checkpoint?', matchOnDescription: true });
    if (!picked) return undefined;
    if (picked.path) return picked.path;
  }
  const chosen = await vscode.window.showOpenDialog({
    title: 'Analyse the text with (a checkpoint file or a model folder)',
    openLabel: 'Analyse',
    canSelectMany: false,
    canSelectFiles: true,
    canSelectFolders: true,
    defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
  });
  const uri = chosen?.[0];
  if (uri && uri.scheme !== 'file') {
    void vscode.window.showErrorMessage(`${uri.toString()}: only checkpoints on disk can be used, not ${uri.scheme}: resources`);
    return undefined;
  }
  return uri?.fsPath;
}

