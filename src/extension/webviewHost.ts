/** The host's end of the one webview protocol (../protocol/rpc.ts) over a VS Code webview. */
import type * as vscode from 'vscode';
import { ViewHost, type Protocol, type ViewHostOptions } from '../protocol/rpc';

export function serveWebview<P extends Protocol>(webview: vscode.Webview, options: ViewHostOptions<P>): ViewHost<P> {
  return new ViewHost<P>((m) => void webview.postMessage(m), (handler) => webview.onDidReceiveMessage(handler), options);
}
