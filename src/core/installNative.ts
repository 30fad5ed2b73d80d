import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { version_core } from '@tensorflow/tfjs-core';

/**
 * Installs a native TensorFlow backend with npm into `dir` (a private folder with its own
 * package.json), where backend.ts looks for it. Needs network access to the npm registry and,
 * for the package's install script, to the libtensorflow download.
 */
export function installNativeBackend(opts: { gpu: boolean; dir: string; log?: (s: string) => void }): Promise<number> {
  const pkg = `${opts.gpu ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node'}@${version_core}`;
  const log = opts.log ?? ((s: string) => process.stderr.write(s + '\n'));
  mkdirSync(opts.dir, { recursive: true });
  const manifest = join(opts.dir, 'package.json');
  if (!existsSync(manifest)) writeFileSync(manifest, JSON.stringify({ name: 'grassmann-lens-native', private: true }, null, 2) + '\n');
  log(`Installing ${pkg} into ${opts.dir} (the same version as the bundled tfjs-core)…`);
  if (opts.gpu) log('It needs CUDA 11.2 and cuDNN 8.1 on this machine (see the tfjs-node-gpu README).');
  return new Promise((resolve) => {
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const child = spawn(npm, ['install', '--no-audit', '--no-fund', pkg], { cwd: opts.dir, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', (e) => {
      log(`could not run npm: ${e.message}`);
      resolve(1);
    });
    child.on('exit', (code) => {
      log(code === 0 ? `Installed. Check with: grassmann-lens backend --native-dir ${opts.dir}` : `npm install failed (exit ${code}); the wasm and cpu backends still work.`);
      resolve(code === 0 ? 0 : 1);
    });
  });
}
