import { spawn } from 'node:child_process';
import { nativeInstallPlan, prepareNativeFolder } from './nativeInstall';

/**
 * Installs an optional backend (native TensorFlow, or WebGPU) with npm into `dir` (a private folder with its own
 * package.json), where backend.ts looks for it: the CLI's install-gpu, following the plan the
 * extension's Install GPU Backend… command follows too (./nativeInstall.ts). Needs network access
 * to the npm registry and, for tfjs-node's install script, to the libtensorflow download.
 */
export function installNativeBackend(opts: { gpu: boolean; webgpu?: boolean; dir: string; log?: (s: string) => void }): Promise<number> {
  const plan = nativeInstallPlan(opts);
  const log = opts.log ?? ((s: string) => process.stderr.write(s + '\n'));
  prepareNativeFolder(plan.dir);
  log(`Installing ${plan.package} into ${plan.dir} (TensorFlow.js packages at the bundled tfjs-core's version)…`);
  log(`It needs ${plan.requirements}.`);
  return new Promise((resolve) => {
    const child = spawn(plan.command, plan.args, { cwd: plan.dir, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', (e) => {
      log(`could not run npm: ${e.message}`);
      resolve(1);
    });
    child.on('exit', (code) => {
      log(code === 0
        ? `Installed. Check with: grassmann-lens backend --native-dir ${plan.dir} (it names ${plan.backend} only if its probe proves it; else it says why)`
        : `npm install failed (exit ${code}); the wasm and cpu backends still work.`);
      resolve(code === 0 ? 0 : 1);
    });
  });
}
