/**
 * Owns the one compute worker of the extension host. The worker starts on first use (the first
 * request, inspection or backend report), not on activation, and is restarted from the settings;
 * everything else asks this object for the backend report or an inspection.
 */
import * as vscode from 'vscode';
import { isAbsolute, join } from 'node:path';
import { ComputeClient, type RequestOptions } from '../worker/client';
import type { MethodName, ParamsOf, ResultOf } from '../worker/protocol';
import type { BackendPreference, BackendReport } from '../model/backendReport';
import type { InspectReport } from '../core/inspect';
import { isCheckpointName } from '../checkpoint/files';
import type { ModelFiles } from '../util/modelFiles';

export { CHECKPOINT_EXTENSIONS } from '../checkpoint/files';

export function isCheckpointUri(uri: vscode.Uri): boolean {
  return isCheckpointName(uri.path);
}

export type BackendState =
  | { kind: 'starting'; preference: BackendPreference }
  | { kind: 'ready'; preference: BackendPreference; report: BackendReport }
  | { kind: 'failed'; preference: BackendPreference; error: Error };

export interface ComputeSettings {
  backend: BackendPreference;
  nativeModulesDir: string;
}

export function readSettings(defaultNativeModulesDir: string): ComputeSettings {
  const config = vscode.workspace.getConfiguration('grassmannLens');
  const configuredDir = config.get<string>('nativeModulesDir', '').trim();
  return {
    backend: config.get<BackendPreference>('backend', 'auto'),
    nativeModulesDir: configuredDir || defaultNativeModulesDir,
  };
}

/**
 * The setting grassmannLens.architectureFile for a checkpoint: an absolute path, or one relative
 * to the checkpoint's workspace folder (else the first one); undefined when empty (then a
 * grassmann-lens.arch.json beside the checkpoint, or the built-in descriptions).
 */
export function architectureFileSetting(checkpoint?: string): string | undefined {
  const uri = checkpoint ? vscode.Uri.file(checkpoint) : undefined;
  const value = vscode.workspace.getConfiguration('grassmannLens', uri).get<string>('architectureFile', '').trim();
  if (!value) return undefined;
  if (isAbsolute(value)) return value;
  const folder = (uri && vscode.workspace.getWorkspaceFolder(uri)) ?? vscode.workspace.workspaceFolders?.[0];
  return folder ? join(folder.uri.fsPath, value) : value;
}

/** The checkpoint a request is about (its params name it path, checkpoint, a or paths). */
function requestCheckpoint(params: unknown): string | undefined {
  if (typeof params !== 'object' || params === null) return undefined;
  const p = params as { path?: unknown; checkpoint?: unknown; a?: unknown; paths?: unknown };
  const first = [p.checkpoint, p.path, p.a, Array.isArray(p.paths) ? p.paths[0] : undefined].find((v) => typeof v === 'string');
  return first as string | undefined;
}

/** Methods that open a checkpoint's model: they get the architecture file setting as `arch`. */
const NO_ARCH: readonly MethodName[] = ['backend', 'forget', 'draftArchitecture', 'cachedTokenizers'];

export class ComputeService implements vscode.Disposable {
  private client: ComputeClient | undefined;
  private probe: Promise<BackendReport> | undefined;
  private generation = 0;
  private current: BackendState;
  private readonly changed = new vscode.EventEmitter<BackendState>();
  /** Fires when the worker starts, finishes probing its backend, or fails. */
  readonly onDidChangeState = this.changed.event;

  constructor(
    private readonly workerPath: string,
    private settings: ComputeSettings,
  ) {
    this.current = { kind: 'starting', preference: settings.backend };
  }

  get state(): BackendState {
    return this.current;
  }

  get nativeModulesDir(): string {
    return this.settings.nativeModulesDir;
  }

  /** True once the worker has been started (by its first use); until then nothing runs. */
  get started(): boolean {
    return this.client !== undefined;
  }

  /** Starts the worker and probes its backend; the probe runs in the worker, not on this thread. */
  start(): void {
    const generation = ++this.generation;
    const preference = this.settings.backend;
    const client = new ComputeClient({
      workerPath: this.workerPath,
      backend: preference,
      nativeModulesDir: this.settings.nativeModulesDir,
    });
    this.client = client;
    this.setState({ kind: 'starting', preference });
    this.probe = client.backend();
    this.probe.then(
      (report) => {
        if (generation === this.generation) this.setState({ kind: 'ready', preference, report });
      },
      (error: unknown) => {
        if (generation === this.generation) this.setState({ kind: 'failed', preference, error: asError(error) });
      },
    );
  }

  /** Restarts the worker when a setting that shapes it changed (a worker not started yet stays so). */
  async reconfigure(settings: ComputeSettings): Promise<void> {
    if (settings.backend === this.settings.backend && settings.nativeModulesDir === this.settings.nativeModulesDir) return;
    this.settings = settings;
    const old = this.client;
    if (!old) {
      this.current = { kind: 'starting', preference: settings.backend };
      return;
    }
    this.start();
    await old?.dispose();
  }

  backendReport(): Promise<BackendReport> {
    if (!this.probe) this.start();
    return this.probe as Promise<BackendReport>;
  }

  inspect(path: string, signal?: AbortSignal): Promise<InspectReport> {
    // A worker that died (out of memory on a hostile file) is replaced for the next request.
    if (!this.client || !this.client.alive) this.start();
    return (this.client as ComputeClient).inspect(path, { arch: architectureFileSetting(path), config: this.modelFiles?.(path).config }, { signal });
  }

  /**
   * Any operation of the worker (src/worker/operations.ts), with progress, partial results and
   * cancellation (with the checkpoint's architecture file, config and tokenizer: withModelFiles).
   */
  request<M extends MethodName>(method: M, params: ParamsOf<M>, opts: RequestOptions = {}): Promise<ResultOf<M>> {
    if (!this.client || !this.client.alive) this.start();
    return (this.client as ComputeClient).request(method, this.withModelFiles(method, params), opts);
  }

  /** The config and tokenizer chosen for a checkpoint (Choose Config… / Choose Tokenizer…: ./modelFiles.ts). */
  modelFiles: ((checkpoint: string) => ModelFiles) | undefined;

  /**
   * A request that opens a model carries the setting grassmannLens.architectureFile as `arch`, and
   * the checkpoint's chosen config and tokenizer, unless it names its own.
   */
  private withModelFiles<M extends MethodName>(method: M, params: ParamsOf<M>): ParamsOf<M> {
    if (NO_ARCH.includes(method) || typeof params !== 'object' || params === null) return params;
    const given = params as { arch?: string; config?: string; tokenizer?: string };
    const checkpoint = requestCheckpoint(params);
    const added: { arch?: string; config?: string; tokenizer?: string } = {};
    if (given.arch === undefined) {
      const arch = architectureFileSetting(checkpoint);
      if (arch !== undefined) added.arch = arch;
    }
    const files = checkpoint !== undefined ? this.modelFiles?.(checkpoint) : undefined;
    if (given.config === undefined && files?.config !== undefined) added.config = files.config;
    if (given.tokenizer === undefined && files?.tokenizer !== undefined) added.tokenizer = files.tokenizer;
    return Object.keys(added).length ? ({ ...params, ...added } as ParamsOf<M>) : params;
  }

  private setState(state: BackendState): void {
    this.current = state;
    this.changed.fire(state);
  }

  dispose(): void {
    this.generation++;
    this.changed.dispose();
    void this.client?.dispose();
    this.client = undefined;
  }
}

export function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}
