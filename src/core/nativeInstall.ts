/**
 * How an optional backend is installed: the one plan that the CLI's `install-gpu`
 * (./installNative.ts) and the extension's Install GPU Backend… command both follow, so the folder
 * they share gets one package.json and the same packages. No TensorFlow.js import: the extension
 * host reads it (the version is checked against tfjs-core in test/unit/nativeInstall.test.ts).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The TensorFlow.js version the bundle is built with (package.json pins it). */
export const TFJS_VERSION = '4.22.0';
/** The `webgpu` package (Dawn's dawn.node, prebuilt for linux-x64/arm64, darwin-universal, win32-x64/arm64) the WebGPU rung was written against. */
export const WEBGPU_VERSION = '0.6.2';

/** The private folder's own package.json: it keeps npm from installing into a parent folder's project. */
export const NATIVE_FOLDER_MANIFEST = { name: 'grassmann-lens-native-backends', private: true } as const;

/** cuda: @tensorflow/tfjs-node-gpu; cpu: @tensorflow/tfjs-node; webgpu: webgpu + @tensorflow/tfjs-backend-webgpu. */
export type NativeInstallKind = 'cuda' | 'cpu' | 'webgpu';

export interface NativeInstallPlan {
  kind: NativeInstallKind;
  /** What is installed, as one string (`webgpu@0.6.2 @tensorflow/tfjs-backend-webgpu@4.22.0`). */
  package: string;
  packages: string[];
  dir: string;
  /** npm, with these arguments, run in `dir`. */
  command: string;
  args: string[];
  /** What the machine needs besides Node and npm. */
  requirements: string;
  /** The backend name the report shows once it works. */
  backend: 'tensorflow-gpu' | 'tensorflow' | 'webgpu';
}

export function nativeInstallPlan(opts: { gpu?: boolean; webgpu?: boolean; kind?: NativeInstallKind; dir: string; platform?: NodeJS.Platform }): NativeInstallPlan {
  const kind: NativeInstallKind = opts.kind ?? (opts.webgpu ? 'webgpu' : opts.gpu ? 'cuda' : 'cpu');
  const packages = kind === 'webgpu'
    ? [`webgpu@${WEBGPU_VERSION}`, `@tensorflow/tfjs-backend-webgpu@${TFJS_VERSION}`]
    : [`${kind === 'cuda' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node'}@${TFJS_VERSION}`];
  const requirements = {
    cuda: 'Linux x64, an NVIDIA driver, CUDA 11.2 and cuDNN 8.1 (see the tfjs-node-gpu README; CUDA 12 or 13 alone do not load it); the install downloads libtensorflow (several hundred MB) from outside the npm registry',
    cpu: 'the install downloads libtensorflow (about 100 MB)',
    webgpu: 'a GPU driver with Vulkan (Linux), Metal (macOS) or D3D12 (Windows); everything comes from the npm registry (Dawn is prebuilt inside the webgpu package for every platform, about 130 MB unpacked)',
  }[kind];
  return {
    kind,
    package: packages.join(' '),
    packages,
    dir: opts.dir,
    command: (opts.platform ?? process.platform) === 'win32' ? 'npm.cmd' : 'npm',
    args: ['install', '--no-audit', '--no-fund', ...packages],
    requirements,
    backend: kind === 'webgpu' ? 'webgpu' : kind === 'cuda' ? 'tensorflow-gpu' : 'tensorflow',
  };
}

/** Creates the folder and its package.json (left as it is when one exists). */
export function prepareNativeFolder(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const manifest = join(dir, 'package.json');
  if (!existsSync(manifest)) writeFileSync(manifest, JSON.stringify(NATIVE_FOLDER_MANIFEST, null, 2) + '\n');
}
