/**
 * The pruning report's messages (webview/prune.ts <-> src/extension/prune.ts), for ./rpc.ts.
 * `open` and `reveal` name a folder of the report; the host acts only on its own report's folders.
 */
import type { PruneReport } from '../relevance/types';

export interface PruneProtocol {
  requests: Record<never, never>;
  commands: {
    ready: Record<string, never>;
    /** Open the pruned checkpoint of this step's folder in the checkpoint editor. */
    open: { output: string };
    /** Show this folder (its pruning.json) in the Explorer, or the OS file manager outside the workspace. */
    reveal: { output: string };
  };
  notifications: {
    report: { report: PruneReport };
  };
}
