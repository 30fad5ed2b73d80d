/**
 * The webview's end of the one protocol (src/protocol/rpc.ts): the page's VS Code API handle
 * (VS Code hands it out once per page, so it is acquired here and nowhere else), the page's one
 * typed client, and the state VS Code keeps for the page.
 */
import { ViewClient, type Protocol } from '../src/protocol/rpc';

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

const api = acquireVsCodeApi();
let client: ViewClient<Protocol> | undefined;

/** The page's client, typed by the page's protocol (src/protocol/editor.ts, compare.ts, prune.ts). */
export function connect<P extends Protocol>(): ViewClient<P> {
  client ??= new ViewClient<Protocol>((m) => api.postMessage(m), (handler) => {
    const listener = (event: MessageEvent<unknown>): void => handler(event.data);
    window.addEventListener('message', listener);
    return { dispose: () => window.removeEventListener('message', listener) };
  });
  return client as unknown as ViewClient<P>;
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
