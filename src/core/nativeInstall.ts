/**
 * How a native TensorFlow backend is installed: the one plan that the CLI's `install-gpu`
 * (./installNative.ts) and the extension's Install GPU Backend… command both follow, so the folder
 * they share gets one package.json and the same package. No TensorFlow.js import: the extension
 * host reads it (the version is checked against tfjs-core in test/unit/nativeInstall.test.ts).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The TensorFlow.js version the bundle is built with (package.json pins it). */
export const TFJS_VERSION = '4.22.0';

/** The private folder's own package.json: it keeps npm from installing into a parent folder's project. */
export const NATIVE_FOLDER_MANIFEST = { name: 'grassmann-lens-native-backends', private: true } as const;

export interface NativeInstallPlan {
  /** `@tensorflow/tfjs-node-gpu@4.22.0` or `@tensorflow/tfjs-node@4.22.0`. */
  package: string;
  dir: string;
  /** npm, with these arguments, run in `dir`. */
  command: string;
  args: string[];
  /** What the machine needs besides Node and npm. */
  requirements: string;
}

export function nativeInstallPlan(opts: { gpu: boolean; dir: string; platform?: NodeJS.Platform }): NativeInstallPlan {
  const pkg = `${opts.gpu ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node'}@${TFJS_VERSION}`;
  return {
    package: pkg,
    dir: opts.dir,
    command: (opts.platform ?? process.platform) === 'win32' ? 'npm.cmd' : 'npm',
    args: ['install', '--no-audit', '--no-fund', pkg],
    requirements: opts.gpu
      ? 'Linux x64, an NVIDIA driver, CUDA 11.2 and cuDNN 8.1 (see the tfjs-node-gpu README); the install downloads libtensorflow (several hundred MB)'
      : 'the install downloads libtensorflow (about 100 MB)',
  };
}

/** Creates the folder and its package.json (left as it is when one exists). */
export function prepareNativeFolder(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const manifest = join(dir, 'package.json');
  if (!existsSync(manifest)) writeFileSync(manifest, JSON.stringify(NATIVE_FOLDER_MANIFEST, null, 2) + '\n');
}
