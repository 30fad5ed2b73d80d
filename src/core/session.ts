/**
 * One opened model: checkpoint handles, the recognised architecture, and — on first use — the
 * tokenizer and the runnable model. The CLI makes one per command; the worker caches them.
 */
import { openCheckpoint } from '../checkpoint/open';
import type { Checkpoint } from '../checkpoint/types';
import { describeModel, type GrassmannSpec, type SpecResult } from '../model/spec';
import { GrassmannModel, loadGrassmannModel } from '../model/grassmann';
import { findTokenizer, type FoundTokenizer } from '../tokenizer';
import { InputError } from '../util/errors';
import type { Token } from '../tokenizer';

export interface SessionOptions {
  config?: string;
  /**
   * An architecture description file (--arch, grassmannLens.architectureFile); otherwise a
   * grassmann-lens.arch.json beside or above the checkpoint, or the built-in descriptions.
   */
  arch?: string;
  tokenizer?: string;
}

/**
 * How an operation gets an opened model: `fn` runs with it, and it is released after. freshSession
 * opens and closes one (the CLI); the worker's AnalysisCache lends one it keeps for the next request.
 */
export type SessionProvider = <T>(path: string, options: SessionOptions, fn: (session: ModelSession) => Promise<T>) => Promise<T>;

export const freshSession: SessionProvider = (path, options, fn) => ModelSession.with(path, options, fn);

export class ModelSession {
  /** The loaded model, once asked for: one load however many requests ask at once. */
  private model: Promise<GrassmannModel> | undefined;
  private found: FoundTokenizer | undefined;

  private constructor(
    readonly checkpoint: Checkpoint,
    readonly description: SpecResult,
    private readonly options: SessionOptions,
  ) {}

  static async open(path: string, options: SessionOptions = {}): Promise<ModelSession> {
    const checkpoint = await openCheckpoint(path);
    try {
      const description = await describeModel(checkpoint, { configPath: options.config, archPath: options.arch });
      return new ModelSession(checkpoint, description, options);
    } catch (e) {
      await checkpoint.close();
      throw e;
    }
  }

  /** Opens `path`, runs `fn` with the session, and closes it whatever happens. */
  static async with<T>(path: string, options: SessionOptions, fn: (session: ModelSession) => Promise<T>): Promise<T> {
    const session = await ModelSession.open(path, options);
    try {
      return await fn(session);
    } finally {
      await session.close();
    }
  }

  /** The spec, or an InputError that says what is missing for the model to run. */
  get spec(): GrassmannSpec {
    if (!this.description.recognized) {
      throw new InputError(this.checkpoint.path, `not a runnable GrassmannGPT checkpoint (it still opens for tensor inspection): ${this.description.problems.join('; ')}`);
    }
    return this.description.spec;
  }

  /**
   * What every report of this model says besides its numbers: the checkpoint's and the spec's
   * warnings, and each value taken from a default rather than a config ('assumed: ...').
   */
  get notices(): string[] {
    const { warnings, assumed } = this.spec;
    // An assumption a warning already explains (the windows of a depth without a default) is said once.
    const reason = (a: string): string => a.slice(a.indexOf(': ') + 2).replace(/ \(no [^)]*\)$/, '');
    const unsaid = assumed.filter((a) => !warnings.some((w) => w.includes(reason(a))));
    return [...this.checkpoint.warnings, ...warnings, ...unsaid.map((a) => `assumed: ${a}`)];
  }

  async loadModel(): Promise<GrassmannModel> {
    if (!this.model) {
      const loading = loadGrassmannModel(this.checkpoint, this.spec);
      this.model = loading;
      loading.catch(() => {
        if (this.model === loading) this.model = undefined; // a failed load is tried again next time
      });
    }
    return this.model;
  }

  /** Whether the weights are loaded (or loading): the next loadModel() reads none. */
  get modelLoaded(): boolean {
    return this.model !== undefined;
  }

  get tokenizer(): FoundTokenizer {
    this.found ??= findTokenizer({ explicitPath: this.options.tokenizer, checkpointPath: this.checkpoint.path });
    return this.found;
  }

  /** Encodes text and checks the ids fit the model's vocabulary. */
  encode(text: string): Token[] {
    const { tokenizer } = this.tokenizer;
    const tokens = tokenizer.encode(text);
    const V = this.spec.dims.vocabSize;
    const outside = tokens.find((t) => t.id >= V);
    if (outside) {
      throw new InputError(tokenizer.source, `token '${outside.text}' has id ${outside.id}, outside the model's vocabulary of ${V}: this tokenizer does not belong to ${this.checkpoint.path}`);
    }
    return tokens;
  }

  async close(): Promise<void> {
    const model = this.model;
    this.model = undefined;
    if (model) await model.then((m) => m.dispose(), () => undefined);
    await this.checkpoint.close();
  }
}
