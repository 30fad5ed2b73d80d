/**
 * `npm run demo` (after scripts/demo.sh has built, packaged and installed what it needs): starts
 * a real VS Code (code-server) on 127.0.0.1 with the packaged extension installed, the example
 * model's folder as workspace and its best.pt open in the checkpoint editor, prints the URL and
 * runs until Ctrl+C. PORT picks the port (default: 8080 if free, else any free one).
 */
import { createServer } from 'node:net';
import { join } from 'node:path';
import { freePort, repoRoot, startCodeServer, workbenchUrl } from '../test/e2e/harness';

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function main(): Promise<void> {
  const wanted = Number(process.env.PORT ?? 8080);
  const port = (await isFree(wanted)) ? wanted : await freePort();
  const folder = join(repoRoot, 'test', 'fixtures', 'tiny-grassmann');
  const server = await startCodeServer({ name: 'demo', installExtension: true, port, settings: { 'git.openRepositoryInParentFolders': 'never' } });
  const open = `vscode-remote://127.0.0.1:${server.port}${join(folder, 'checkpoints', 'best.pt')}`;
  const url = workbenchUrl(server, folder, [['openFile', open]]);
  console.log(`\nGrassmann Lens is running in VS Code (code-server) with the example checkpoint open:\n\n  ${url}\n\nOpen it in a browser on this machine. Ctrl+C stops it.`);
  const stop = async () => {
    await server.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
