/**
 * The checkpoint editor's messages (webview/app.ts <-> src/extension/checkpointPanel.ts), as a
 * typed map for the one request protocol of ./rpc.ts: what the view asks (each request with its
 * answer and what streams meanwhile), what it tells, what the host tells it unasked. Imported by
 * both sides (types only on the webview side, plus the tab names and the relevance rules).
 *
 * Large arrays travel as typed arrays (VS Code serialises them as binary), never as JSON of whole
 * tensors: only what a view shows crosses.
 */
import type { InspectReport } from '../core/inspect';
import type { AnalysisPiece, PlaneDistances, PlaneSet, TensorSummary } from '../core/analysis';
import type { DriftReport } from '../core/drift';
import type { GrassmannMetric } from '../geometry/angles';
import type { Neighbour } from '../geometry/planes';
import type { RelevanceReport } from '../core/relevance';
import type { GatePolicy, LinearRule } from '../relevance/types';
import type { ExportRequest } from '../util/exportMessage';
import type { ModelFileKind, ModelFileOrigin } from '../util/modelFiles';

export const VIEWS = ['overview', 'run', 'plucker', 'distances', 'gates', 'relevance', 'drift'] as const;
export type ViewName = (typeof VIEWS)[number];

/** The rules the Relevance view offers (the CLI's --rule and --gate); the host checks requests against them. */
export const RELEVANCE_RULES: readonly LinearRule[] = ['epsilon', 'zplus', 'gamma'];
export const RELEVANCE_GATES: readonly GatePolicy[] = ['signal-take-all', 'half'];

export function isLinearRule(v: unknown): v is LinearRule {
  return (RELEVANCE_RULES as readonly unknown[]).includes(v);
}

export function isGatePolicy(v: unknown): v is GatePolicy {
  return (RELEVANCE_GATES as readonly unknown[]).includes(v);
}

/** Everything about the model the views need before any text runs. */
export interface ModelInfo {
  /** File (or folder) name shown as the title. */
  name: string;
  report: InspectReport;
  /** The compute backend that will run it. */
  backend: string;
  /** Other checkpoints in the same folder (with this one), in name order: the drift view's run. */
  siblings: string[];
  /** The folder is being watched ("Watch Training Run…"): new checkpoints arrive as `runCheckpoint`. */
  watching: boolean;
  /** The config and tokenizer it runs with, and where each comes from (Choose Config… / Choose Tokenizer…). */
  files: ModelFilesInfo;
}

/** One model file as the Overview shows it. */
export interface ModelFileInfo {
  /** The file used (null: none, e.g. no config found and defaults assumed). */
  path: string | null;
  /** `chosen` in VS Code, from the `setting`, or `found` beside the checkpoint (or the cache). */
  origin: ModelFileOrigin;
  /** Why there is none, or why it does not work. */
  problem: string | null;
  /** One line for the view, e.g. "tokenizer.json next to the checkpoint (…)". */
  description: string | null;
}

export interface ModelFilesInfo {
  config: ModelFileInfo;
  tokenizer: ModelFileInfo;
}

export interface EditorProtocol {
  requests: {
    tensor: { params: { name: string }; answer: TensorSummary };
    /** The text through the model: the run first, then one layer's features at a time; the answer marks the end. */
    analyze: { params: { text: string }; answer: null; partial: AnalysisPiece };
    planes: { params: { text: string; layer: number; offset: number }; answer: PlaneSet };
    distances: { params: { text: string; layer: number; offset: number; metric: GrassmannMetric }; answer: PlaneDistances };
    nearest: { params: { text: string; layer: number; offset: number; position: number; k: number; metric: GrassmannMetric }; answer: Neighbour[] };
    /** The weights across the checkpoints of this one's folder (progress: checkpoints read). */
    drift: { params: Record<string, never>; answer: DriftReport };
    /** LRP of the text from the true next token at every position, with these rules (the CLI's defaults otherwise). */
    relevance: { params: { text: string; rule: LinearRule; gate: GatePolicy }; answer: RelevanceReport };
  };
  commands: {
    ready: Record<string, never>;
    /** Asks for the active text editor's selection (answered with the `selection` notification). */
    useSelection: Record<string, never>;
    /** Save a chart or its data (checked on the host: ../util/exportMessage.ts). */
    export: ExportRequest;
    /** Choose Config… / Choose Tokenizer… for this checkpoint (the host asks the user; the view gets the model again). */
    chooseFile: { kind: ModelFileKind };
  };
  notifications: {
    model: { model: ModelInfo };
    /** The checkpoint could not be opened: the view shows only this. */
    modelError: { message: string };
    selection: { text: string; source: string };
    exported: { path: string };
    /**
     * A watched run's folder got a complete new checkpoint (or one written again): the new list of
     * checkpoints, and the saved scalars of the one that arrived.
     */
    runCheckpoint: { added: string; rewritten: boolean; siblings: string[]; metadata: Record<string, string | number | boolean | null> };
    /**
     * Show a token of some text: run `text` on the Run tab and pin the token at `position` (the
     * hover's "Open in checkpoint view" in a text editor; `source` names where the text is from).
     */
    pinToken: { text: string; position: number; source: string };
    /** Shown at the top of the editor, e.g. when the file changed on disk and was re-read. */
    notice: { message: string };
  };
}
