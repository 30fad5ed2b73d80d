/**
 * One checkpoint shown in a webview (the custom editor, or a panel for a Hugging Face-style
 * folder): the page, its Content-Security-Policy, and the translation of the view's requests
 * (../protocol/editor.ts, served through ../protocol/rpc.ts) into compute-worker operations. The
 * state of one view lives here; the checkpoint itself is its document (./checkpointDocument.ts),
 * shared by every view of it.
 *
 * A new request of a kind (analyze, distances, ...) cancels the previous one of that kind;
 * closing the editor cancels everything; a change of the file on disk (seen once by the document
 * for all its views) sends the view the re-read model. Work that takes longer than a moment shows
 * a cancellable progress notification.
 */
import * as vscode from 'vscode';
import { randomBytes } from 'node:crypto';
import { basename, dirname, resolve } from 'node:path';
import { isInputError } from '../util/errors';
import { isGatePolicy, isLinearRule, type EditorProtocol, type ModelFilesInfo, type ModelInfo } from '../protocol/editor';
import { isModelFileKind } from '../util/modelFiles';
import { CHOOSE_CONFIG_COMMAND, CHOOSE_TOKENIZER_COMMAND, type ModelFileStore } from './modelFiles';
import type { ProgressNote, RequestContext, RequestName, ViewHost } from '../protocol/rpc';
import type { AnalysisPiece } from '../core/analysis';
import { asError, type ComputeService } from './computeService';
import { checkpointsInFolder } from '../checkpoint/files';
import type { CheckpointDocument, CheckpointDocuments } from './checkpointDocument';
import { saveExport, serveWebview } from './webviewHost';

/** Requests slower than this show a progress notification with a Cancel button. */
const PROGRESS_DELAY_MS = 700;

/** What each request of the view does, for its notification and its error message. */
const REQUEST_TITLES: Record<RequestName<EditorProtocol>, string> = {
  tensor: 'reading the tensor',
  analyze: 'running the text through the model',
  planes: 'computing Plücker coordinates',
  distances: 'computing Grassmann distances',
  nearest: 'finding the nearest planes',
  drift: 'following the checkpoints of the run',
  relevance: 'explaining the text (relevance)',
};

/** A request the view should not have made (shown to the user as it is). */
class Refused extends Error {}

const isCancellation = (e: unknown): boolean => {
  const name = asError(e).name;
  return name === 'CancelledError' || name === 'OperationCancelled';
};

/** What a panel needs of the watched training runs (src/extension/runs.ts). */
export interface RunEvents {
  onDidAddCheckpoint: vscode.Event<{ folder: string; path: string; rewritten: boolean; metadata: Record<string, unknown> }>;
  isWatched(folder: string): boolean;
}

export interface PanelContext {
  compute: ComputeService;
  /** Watched training runs; absent in contexts without them. */
  runs?: RunEvents;
  output: vscode.OutputChannel;
  extensionUri: vscode.Uri;
  /** The open checkpoints, one document per path, shared by its editors, panels and bound texts. */
  documents: CheckpointDocuments;
  /** The config and tokenizer chosen per checkpoint (Choose Config… / Choose Tokenizer…). */
  modelFiles: ModelFileStore;
  /** The text editor the user last worked in (the webview has focus when its button is clicked). */
  lastTextEditor(): vscode.TextEditor | undefined;
}

function nonce(): string {
  return randomBytes(16).toString('base64');
}

/**
 * A webview page: one bundled app of dist/webview (`main`: the checkpoint editor, `prune`: the
 * pruning report) and its stylesheet, nothing inline, nothing remote.
 */
export function panelHtml(webview: vscode.Webview, extensionUri: vscode.Uri, title: string, bundle: 'main' | 'prune' | 'compare' = 'main'): string {
  const n = nonce();
  const dist = vscode.Uri.joinPath(extensionUri, 'dist', 'webview');
  const script = webview.asWebviewUri(vscode.Uri.joinPath(dist, `${bundle}.js`));
  const style = webview.asWebviewUri(vscode.Uri.joinPath(dist, `${bundle}.css`));
  const csp = [
    "default-src 'none'",
    `script-src 'nonce-${n}'`,
    `style-src ${webview.cspSource}`,
    `img-src ${webview.cspSource} data: blob:`,
    `font-src ${webview.cspSource}`,
  ].join('; ');
  const escaped = title.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${escaped}</title>
<link rel="stylesheet" href="${style}">
</head>
<body>
<div id="app" data-title="${escaped}"><p class="status">Loading ${escaped}…</p></div>
<script nonce="${n}" src="${script}"></script>
</body>
</html>`;
}

/** Checkpoint files beside `path` (including it), in name order. */
async function siblingCheckpoints(path: string, isFolder: boolean): Promise<string[]> {
  const found = await checkpointsInFolder(isFolder ? path : dirname(path));
  return found.length >= 2 ? found : [];
}

export class CheckpointPanel implements vscode.Disposable {
  /** Every panel alive, to find the ones showing a checkpoint. */
  private static readonly alive = new Set<CheckpointPanel>();

  /** The panels showing `path` (a checkpoint file or model folder). */
  static showing(path: string): CheckpointPanel[] {
    return [...CheckpointPanel.alive].filter((p) => resolve(p.path) === resolve(path));
  }

  private readonly disposables: vscode.Disposable[] = [];
  /** A token to pin once the view has its model (asked for before the view was ready). */
  private pendingPin: { text: string; position: number; source: string } | undefined;
  /** The view's end of the protocol: a new request of a kind supersedes the running one of that kind. */
  private readonly host: ViewHost<EditorProtocol>;
  private disposed = false;
  private viewReady = false;
  private model: ModelInfo | undefined;

  private readonly path: string;
  private readonly isFolder: boolean;

  constructor(
    private readonly webview: vscode.Webview,
    /** The checkpoint (file or folder) this view shows, shared with the other views of it. */
    private readonly document: CheckpointDocument,
    private readonly ctx: PanelContext,
  ) {
    this.path = document.path;
    this.isFolder = document.isFolder;
    CheckpointPanel.alive.add(this);
    const name = basename(this.path);
    webview.options = {
      enableScripts: true,
      localResourceRoots: [vscode.Uri.joinPath(ctx.extensionUri, 'dist'), vscode.Uri.joinPath(ctx.extensionUri, 'media')],
    };
    webview.html = panelHtml(webview, ctx.extensionUri, name);
    this.host = this.serve(webview);
    this.disposables.push({ dispose: () => this.host.dispose() });
    // The document watches the files and has the worker forget the old model; each view reads it again.
    this.disposables.push(document.onDidChange(() => void this.reload()));
    // A config or tokenizer chosen for it: read it again with them.
    this.disposables.push(ctx.modelFiles.onDidChange((path) => {
      if (resolve(path) === resolve(this.path)) void this.reload(`${basename(this.path)} now runs with the chosen files.`);
    }));
    if (ctx.runs) this.disposables.push(ctx.runs.onDidAddCheckpoint((e) => void this.runGrew(e)));
  }

  /** The folder whose checkpoints are this one's run. */
  private get runFolder(): string {
    return this.document.runFolder;
  }

  /** A watched run (this checkpoint's folder) has a new complete checkpoint: tell the view. */
  private async runGrew(e: { folder: string; path: string; rewritten: boolean; metadata: Record<string, unknown> }): Promise<void> {
    if (this.disposed || resolve(e.folder) !== resolve(this.runFolder)) return;
    const siblings = await siblingCheckpoints(this.path, this.isFolder);
    if (this.model) this.model = { ...this.model, siblings, watching: true };
    const metadata: Record<string, string | number | boolean | null> = {};
    for (const [k, v] of Object.entries(e.metadata)) if (v === null || ['string', 'number', 'boolean'].includes(typeof v)) metadata[k] = v as string | number | boolean | null;
    this.host.notify('runCheckpoint', { added: e.path, rewritten: e.rewritten, siblings, metadata });
  }

  private errorText(e: unknown, what: string): string {
    const err = asError(e);
    if (isInputError(err)) return err.message;
    this.ctx.output.appendLine(`${what} failed: ${err.stack ?? err.message}`);
    return `${what} failed: ${err.message}`;
  }

  /** Reads the checkpoint (header and layout) and sends the model to the view. */
  private async loadModel(): Promise<void> {
    try {
      const [report, backend, siblings, tokenizer] = await Promise.all([
        this.ctx.compute.request('modelReport', { path: this.path }),
        this.ctx.compute.backendReport().then((b) => `${b.active}${b.threads > 1 ? ` (${b.threads} threads)` : ''}`, () => 'unavailable'),
        siblingCheckpoints(this.path, this.isFolder),
        this.ctx.compute.request('tokenizerInfo', { path: this.path }).then(
          (t) => ({ path: t.path, description: t.description, problem: null }),
          (e: unknown) => ({ path: null, description: null, problem: this.errorText(e, 'Finding the tokenizer') }),
        ),
      ]);
      const { origin } = this.ctx.modelFiles.of(this.path);
      const files: ModelFilesInfo = {
        config: {
          path: report.configPath ?? null,
          origin: origin.config,
          problem: null,
          description: report.configPath ? `${basename(report.configPath)} (${report.configPath})` : null,
        },
        tokenizer: { ...tokenizer, origin: origin.tokenizer },
      };
      this.model = { name: basename(this.path), report, backend, siblings, watching: this.ctx.runs?.isWatched(this.runFolder) ?? false, files };
      this.host.notify('model', { model: this.model });
      if (this.pendingPin) {
        this.host.notify('pinToken', this.pendingPin);
        this.pendingPin = undefined;
      }
    } catch (e) {
      this.host.notify('modelError', { message: this.errorText(e, `Opening ${this.path}`) });
    }
  }

  /** The checkpoint changed on disk (the document has had the worker forget the old model), or its files were chosen. */
  private async reload(notice = `${basename(this.path)} changed on disk and was read again.`): Promise<void> {
    if (this.disposed) return;
    this.host.cancelAll();
    if (!this.viewReady) return;
    this.host.notify('notice', { message: notice });
    await this.loadModel();
  }

  /**
   * Runs one request's work: forwards progress, and shows a cancellable notification when it takes
   * a while (its Cancel stops the work as the view's cancel does).
   */
  private async withNotification<T, D>(
    method: RequestName<EditorProtocol>,
    ctx: RequestContext<D>,
    work: (signal: AbortSignal, onProgress: (p: ProgressNote) => void) => Promise<T>,
  ): Promise<T> {
    const abort = new AbortController();
    if (ctx.signal.aborted) abort.abort();
    ctx.signal.addEventListener('abort', () => abort.abort(), { once: true });
    let finished = false;
    let markFinished = (): void => undefined;
    const whenFinished = new Promise<void>((resolve) => (markFinished = resolve));
    let report: ((p: ProgressNote) => void) | undefined;
    const timer = setTimeout(() => {
      if (finished) return;
      void vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Grassmann Lens: ${REQUEST_TITLES[method]}`, cancellable: true }, (progress, token) => {
        token.onCancellationRequested(() => abort.abort());
        let last = 0;
        report = (p) => {
          const percent = p.total ? (100 * p.done) / p.total : 0;
          progress.report({ message: p.message, increment: percent - last });
          last = percent;
        };
        return whenFinished;
      });
    }, PROGRESS_DELAY_MS);
    try {
      return await work(abort.signal, (p) => {
        report?.(p);
        ctx.progress(p);
      });
    } finally {
      finished = true;
      markFinished();
      clearTimeout(timer);
    }
  }

  /** The view's requests and commands (checked, not trusted: they come from a page that renders file contents). */
  private serve(webview: vscode.Webview): ViewHost<EditorProtocol> {
    const compute = this.ctx.compute;
    const ref = { path: this.path };
    return serveWebview<EditorProtocol>(webview, {
      requests: {
        tensor: ({ name }, ctx) => this.withNotification('tensor', ctx, (signal) => compute.request('tensor', { ...ref, name }, { signal })),
        analyze: async ({ text }, ctx) => {
          await this.withNotification('analyze', ctx, (signal, onProgress) =>
            compute.request('analyze', { ...ref, text }, { signal, onProgress, onPartial: (data) => ctx.partial(data as AnalysisPiece) }));
          return null;
        },
        planes: ({ text, layer, offset }, ctx) => this.withNotification('planes', ctx, (signal) => compute.request('planes', { ...ref, text, layer, offset }, { signal })),
        distances: ({ text, layer, offset, metric }, ctx) => this.withNotification('distances', ctx, (signal) =>
          compute.request('planeDistances', { ...ref, text, layer, offset, metric }, { signal })),
        nearest: ({ text, layer, offset, position, k, metric }, ctx) => this.withNotification('nearest', ctx, (signal) =>
          compute.request('nearest', { ...ref, text, layer, offset, position, k, metric }, { signal })),
        drift: async (_params, ctx) => {
          const paths = this.model?.siblings ?? [];
          if (paths.length < 2) throw new Refused(`No run to follow: ${dirname(this.path)} holds fewer than two checkpoints.`);
          return this.withNotification('drift', ctx, (signal, onProgress) => compute.request('drift', { paths }, { signal, onProgress }));
        },
        relevance: async ({ text, rule, gate }, ctx) => {
          // checked, not trusted: they become the worker's options
          if (!isLinearRule(rule) || !isGatePolicy(gate)) throw new Refused(`Unknown relevance rule '${String(rule)}' or gate policy '${String(gate)}'.`);
          return this.withNotification('relevance', ctx, (signal) => compute.request('relevance', { checkpoint: this.path, text, rule, gate }, { signal }));
        },
      },
      commands: {
        ready: async () => {
          this.viewReady = true;
          await this.loadModel();
        },
        useSelection: () => this.sendSelection(),
        export: (m) => this.export(m),
        chooseFile: async ({ kind }) => {
          if (!isModelFileKind(kind)) return;
          await vscode.commands.executeCommand(kind === 'config' ? CHOOSE_CONFIG_COMMAND : CHOOSE_TOKENIZER_COMMAND, this.path);
        },
      },
      describeError: (method, e, signal) => {
        const cancelled = signal.aborted || isCancellation(e);
        return { cancelled, message: cancelled ? 'cancelled' : e instanceof Refused ? e.message : this.errorText(e, REQUEST_TITLES[method]) };
      },
      onInvalid: (problem) => this.ctx.output.appendLine(`Checkpoint view of ${this.path}: dropped a message: ${problem}`),
    });
  }

  private sendSelection(): void {
    const editor = this.ctx.lastTextEditor();
    if (!editor) {
      this.host.notify('notice', { message: 'No text editor to take a selection from: open a file, select some text, then try again.' });
      return;
    }
    const selected = editor.selections.map((s) => editor.document.getText(s)).join('\n');
    const text = selected.trim() ? selected : editor.document.lineAt(editor.selection.active.line).text;
    this.host.notify('selection', { text, source: `${basename(editor.document.uri.fsPath)}${selected.trim() ? '' : `, line ${editor.selection.active.line + 1}`}` });
  }

  /** Writes the view's export where the user picks, starting beside the checkpoint (./webviewHost.ts). */
  private async export(m: unknown): Promise<void> {
    const path = await saveExport(m, this.document.runFolder);
    if (path) this.host.notify('exported', { path });
  }


  /** Runs `text` on the Run tab and pins the token at `position` (now, or once the view has its model). */
  pinToken(text: string, position: number, source: string): void {
    if (this.viewReady && this.model) this.host.notify('pinToken', { text, position, source });
    else this.pendingPin = { text, position, source };
  }

  dispose(): void {
    CheckpointPanel.alive.delete(this);
    this.disposed = true;
    for (const d of this.disposables) d.dispose();
  }
}
