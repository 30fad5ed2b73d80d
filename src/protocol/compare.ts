/**
 * The Compare report's messages (webview/compare.ts <-> src/extension/compare.ts), for ./rpc.ts:
 * the view asks for nothing; it says it is ready and asks to save charts, and gets the report.
 */
import type { CompareTextReport } from '../core/compareText';
import type { ExportRequest } from '../util/exportMessage';

export interface CompareProtocol {
  requests: Record<never, never>;
  commands: {
    ready: Record<string, never>;
    /** Save a chart or its data beside checkpoint A (checked on the host: ../util/exportMessage.ts). */
    export: ExportRequest;
  };
  notifications: {
    report: { report: CompareTextReport };
    exported: { path: string };
  };
}
