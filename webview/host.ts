/** The webview's side of src/protocol.ts: posting commands, receiving notifications, request ids. */
import type { HostMessage, ViewMessage } from '../src/protocol';

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

const api = acquireVsCodeApi();
let lastRequestId = 0;

export function post(message: ViewMessage): void {
  api.postMessage(message);
}

/** A fresh id for a request; answers carry it back. */
export function nextRequestId(): number {
  return ++lastRequestId;
}

export function onHostMessage(handler: (message: HostMessage) => void): void {
  window.addEventListener('message', (event: MessageEvent<HostMessage>) => handler(event.data));
}

/** What survives the webview being hidden and shown again (VS Code keeps it per editor). */
export interface SavedState {
  text: string;
  view: string;
  layer: number;
  offset: number;
  metric: string;
  relevanceRule: string;
  relevanceGate: string;
}

export function savedState(): Partial<SavedState> {
  return (api.getState() as Partial<SavedState> | undefined) ?? {};
}

export function saveState(state: SavedState): void {
  api.setState(state);
}
