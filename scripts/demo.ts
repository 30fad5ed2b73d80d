/**
 * `npm run demo` (after scripts/demo.sh has built, packaged and installed what it needs): starts
 * a real VS Code (code-server) on 127.0.0.1 with the packaged extension installed, the example
 * model's folder as workspace and its best.pt open in the checkpoint editor, prints the URL and
 * runs until Ctrl+C. PORT picks the port (default: 8080 if free, else any free one).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { freePort, repoRoot, startCodeServer, workbenchUrl } from '../test/e2e/harness';

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** The theme settings a user's VS Code (desktop or code-server) has, read from its settings.json. */
const THEME_KEYS = ['workbench.colorTheme', 'workbench.preferredDarkColorTheme', 'workbench.preferredLightColorTheme', 'window.autoDetectColorScheme'];

function userThemeSettings(): { settings: Record<string, unknown>; from: string | null } {
  const home = homedir();
  const config = process.env.XDG_CONFIG_HOME ?? join(home, '.config');
  const candidates = [
    join(config, 'Code', 'User', 'settings.json'),
    join(home, 'Library', 'Application Support', 'Code', 'User', 'settings.json'),
    join(process.env.APPDATA ?? join(home, 'AppData', 'Roaming'), 'Code', 'User', 'settings.json'),
    join(process.env.XDG_DATA_HOME ?? join(home, '.local', 'share'), 'code-server', 'User', 'settings.json'),
  ];
  for (const file of candidates) {
    if (!existsSync(file)) continue;
    // settings.json is JSON with comments: take the theme keys by pattern rather than parse it.
    const text = readFileSync(file, 'utf8');
    const settings: Record<string, unknown> = {};
    for (const key of THEME_KEYS) {
      const m = new RegExp(`"${key.replace(/\./g, '\\.')}"\\s*:\\s*("(?:[^"\\\\]|\\\\.)*"|true|false)`).exec(text);
      if (m) settings[key] = JSON.parse(m[1]);
    }
    if (Object.keys(settings).length) return { settings, from: file };
  }
  return { settings: {}, from: null };
}

async function main(): Promise<void> {
  const wanted = Number(process.env.PORT ?? 8080);
  const port = (await isFree(wanted)) ? wanted : await freePort();
  const folder = join(repoRoot, 'test', 'fixtures', 'tiny-grassmann');
  // The user's theme, else the browser's light or dark preference (not a fixed dark theme).
  const theme = userThemeSettings();
  const themeSettings = theme.from ? theme.settings : { 'window.autoDetectColorScheme': true };
  const server = await startCodeServer({ name: 'demo', installExtension: true, port, settings: { 'git.openRepositoryInParentFolders': 'never', ...themeSettings } });
  const open = `vscode-remote://127.0.0.1:${server.port}${join(folder, 'checkpoints', 'best.pt')}`;
  const url = workbenchUrl(server, folder, [['openFile', open]]);
  console.log(`\nGrassmann Lens is running in VS Code (code-server) with the example checkpoint open:\n\n  ${url}\n\nOpen it in a browser on this machine. Ctrl+C stops it.`);
  console.log(theme.from ? `Theme: yours, from ${theme.from}.` : 'Theme: follows your browser\'s light or dark preference (no VS Code settings.json with a theme found).');
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
