/** The view state: one object, replaced part by part; views subscribe and redraw what changed. */
import type { LayerFeatures } from '../src/core/features';
import type { PlaneDistances, PlaneSet, TensorSummary, TextRun } from '../src/core/analysis';
import type { DriftReport } from '../src/core/drift';
import type { GrassmannMetric } from '../src/geometry/angles';
import type { Neighbour } from '../src/geometry/planes';
import type { ModelInfo, ViewName } from '../src/protocol/editor';
import type { RelevanceReport } from '../src/core/relevance';
import type { GatePolicy, LinearRule } from '../src/relevance/types';

/** A request and what came back for it. */
export interface Pending<T> {
  requestId: number;
  data: T | null;
  error: string | null;
}

export interface Analysis {
  requestId: number;
  text: string;
  run: TextRun | null;
  /** By layer index, filled as they stream in. */
  layers: (LayerFeatures | undefined)[];
  done: boolean;
  error: string | null;
}

export interface AppState {
  model: ModelInfo | null;
  modelError: string | null;
  notice: string | null;
  view: ViewName;
  text: string;
  analysis: Analysis | null;
  /** Token position whose features the tooltip and the views follow (click to pin). */
  pinned: number | null;
  hovered: number | null;
  /** Positions selected by brushing a chart. */
  highlighted: ReadonlySet<number>;
  layer: number;
  offset: number;
  metric: GrassmannMetric;
  /** Planes of (layer, offset) of the analysed text. */
  planes: (Pending<PlaneSet> & { key: string }) | null;
  distances: (Pending<PlaneDistances> & { key: string }) | null;
  nearest: (Pending<Neighbour[]> & { key: string }) | null;
  tensor: (Pending<TensorSummary> & { name: string }) | null;
  drift: (Pending<DriftReport> & { progress: string | null }) | null;
  /** Rules the Relevance view explains with (the CLI's --rule and --gate). */
  relevanceRule: LinearRule;
  relevanceGate: GatePolicy;
  /** LRP of `text` under `rule`/`gate` (the text of the Run tab when it was asked for). */
  relevance: (Pending<RelevanceReport> & { text: string; rule: LinearRule; gate: GatePolicy }) | null;
}

type Listener = (state: AppState, previous: AppState) => void;

export class Store {
  private listeners: Listener[] = [];
  constructor(private current: AppState) {}

  get state(): AppState {
    return this.current;
  }

  update(patch: Partial<AppState>): void {
    const previous = this.current;
    this.current = { ...previous, ...patch };
    for (const l of this.listeners) l(this.current, previous);
  }

  subscribe(listener: Listener): void {
    this.listeners.push(listener);
  }
}

/** Key of a (text, layer, offset[, metric]) selection, to match answers to the current state. */
export function selectionKey(text: string, layer: number, offset: number, metric?: string): string {
  return JSON.stringify([text, layer, offset, metric ?? '']);
}
