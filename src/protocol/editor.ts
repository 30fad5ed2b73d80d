/**
 * The messages between the extension host and the checkpoint editor's webview: one file, imported
 * by both sides (types only on the webview side, plus the tab names and the relevance rules).
 * Commands go view -> host, notifications host -> view; a request carries a `requestId` its
 * answers repeat, so a view can drop answers to requests it has since replaced.
 *
 * Large arrays travel as typed arrays (VS Code serialises them as binary), never as JSON of whole
 * tensors: only what a view shows crosses.
 */
import type { LayerFeatures } from './core/features';
import type { InspectReport } from './core/inspect';
import type { PlaneDistances, PlaneSet, TensorSummary, TextRun } from './core/analysis';
import type { DriftReport } from './core/drift';
import type { GrassmannMetric } from './geometry/angles';
import type { Neighbour } from './geometry/planes';
import type { RelevanceReport } from './core/relevance';
import type { GatePolicy, LinearRule } from './relevance/types';

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
}

export type ExportFormat = 'svg' | 'png' | 'csv' | 'json';

// ---------------------------------------------------------------------------------------------
// view -> host
// ---------------------------------------------------------------------------------------------

export type ViewMessage =
  | { type: 'ready' }
  | { type: 'tensor'; requestId: number; name: string }
  | { type: 'analyze'; requestId: number; text: string }
  /** Asks for the active text editor's selection (answered with `selection`). */
  | { type: 'useSelection' }
  | { type: 'planes'; requestId: number; text: string; layer: number; offset: number }
  | { type: 'distances'; requestId: number; text: string; layer: number; offset: number; metric: GrassmannMetric }
  | { type: 'nearest'; requestId: number; text: string; layer: number; offset: number; position: number; k: number; metric: GrassmannMetric }
  | { type: 'drift'; requestId: number }
  /** LRP of the text from the true next token at every position, with these rules (the CLI's defaults otherwise). */
  | { type: 'relevance'; requestId: number; text: string; rule: LinearRule; gate: GatePolicy }
  | { type: 'cancel'; requestId: number }
  /** Save a chart or its data: text content, or base64 for PNG. */
  | { type: 'export'; filename: string; format: ExportFormat; content: string };

// ---------------------------------------------------------------------------------------------
// host -> view
// ---------------------------------------------------------------------------------------------

export type HostMessage =
  | { type: 'model'; model: ModelInfo }
  /** The checkpoint could not be opened: the view shows only this. */
  | { type: 'modelError'; message: string }
  | { type: 'tensor'; requestId: number; summary: TensorSummary }
  | { type: 'run'; requestId: number; run: TextRun }
  /** One layer's features, streamed as it is computed. */
  | { type: 'layer'; requestId: number; layer: LayerFeatures }
  | { type: 'analysisDone'; requestId: number }
  | { type: 'selection'; text: string; source: string }
  | { type: 'planes'; requestId: number; planes: PlaneSet }
  | { type: 'distances'; requestId: number; distances: PlaneDistances }
  | { type: 'nearest'; requestId: number; layer: number; offset: number; position: number; neighbours: Neighbour[] }
  | { type: 'drift'; requestId: number; report: DriftReport }
  /** Per-layer arrays of unit relevance (f + r + P + d numbers per layer) and per-token values: small, sent as is. */
  | { type: 'relevance'; requestId: number; report: RelevanceReport }
  | { type: 'progress'; requestId: number; done: number; total: number; message?: string }
  /** A request failed (or was cancelled: `cancelled`). */
  | { type: 'error'; requestId: number; message: string; cancelled?: boolean }
  | { type: 'exported'; path: string }
  /**
   * A watched run's folder got a complete new checkpoint (or one written again): the new list of
   * checkpoints, and the saved scalars of the one that arrived.
   */
  | { type: 'runCheckpoint'; added: string; rewritten: boolean; siblings: string[]; metadata: Record<string, string | number | boolean | null> }
  /**
   * Show a token of some text: run `text` on the Run tab and pin the token at `position` (the
   * hover's "Open in checkpoint view" in a text editor; `source` names where the text is from).
   */
  | { type: 'pinToken'; text: string; position: number; source: string }
  /** Shown at the top of the editor, e.g. when the file changed on disk and was re-read. */
  | { type: 'notice'; message: string };
