/**
 * One install plan for the native backends (src/core/nativeInstall.ts), followed by the CLI's
 * install-gpu and the extension's Install GPU Backend… command (both import it: checked here).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { version_core } from '@tensorflow/tfjs-core';
import { NATIVE_FOLDER_MANIFEST, TFJS_VERSION, WEBGPU_VERSION, nativeInstallPlan, prepareNativeFolder } from '../../src/core/nativeInstall';

const root = resolve(__dirname, '..', '..');

test('the plan installs the tfjs-node packages of the bundled tfjs-core version', () => {
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  assert.equal(TFJS_VERSION, version_core);
  assert.equal(manifest.dependencies['@tensorflow/tfjs-core'], TFJS_VERSION);
  const gpu = nativeInstallPlan({ gpu: true, dir: '/x/native', platform: 'linux' });
  assert.deepEqual({ ...gpu, requirements: undefined }, {
    kind: 'cuda', package: '@tensorflow/tfjs-node-gpu@4.22.0', packages: ['@tensorflow/tfjs-node-gpu@4.22.0'], dir: '/x/native', command: 'npm',
    args: ['install', '--no-audit', '--no-fund', '@tensorflow/tfjs-node-gpu@4.22.0'], requirements: undefined, backend: 'tensorflow-gpu',
  });
  assert.match(gpu.requirements, /CUDA 11\.2 and cuDNN 8\.1/);
  const cpu = nativeInstallPlan({ gpu: false, dir: '/x/native', platform: 'win32' });
  assert.equal(cpu.package, '@tensorflow/tfjs-node@4.22.0');
  assert.equal(cpu.command, 'npm.cmd');
  assert.equal(cpu.backend, 'tensorflow');
});

test('install-gpu --webgpu: the webgpu package and tfjs-backend-webgpu of the bundled tfjs-core version, from the npm registry only', () => {
  const webgpu = nativeInstallPlan({ gpu: true, webgpu: true, dir: '/x/native', platform: 'linux' });
  assert.deepEqual(nativeInstallPlan({ kind: 'webgpu', dir: '/x/native', platform: 'linux' }), webgpu);
  assert.equal(webgpu.kind, 'webgpu');
  assert.equal(webgpu.backend, 'webgpu');
  assert.equal(WEBGPU_VERSION, '0.6.2');
  assert.deepEqual(webgpu.packages, ['webgpu@0.6.2', `@tensorflow/tfjs-backend-webgpu@${version_core}`]);
  assert.equal(webgpu.package, 'webgpu@0.6.2 @tensorflow/tfjs-backend-webgpu@4.22.0');
  assert.deepEqual(webgpu.args, ['install', '--no-audit', '--no-fund', 'webgpu@0.6.2', '@tensorflow/tfjs-backend-webgpu@4.22.0']);
  assert.match(webgpu.requirements, /Vulkan \(Linux\), Metal \(macOS\) or D3D12 \(Windows\)/);
  // Neither the WebGPU packages nor the native ones are dependencies: npm ci never fetches them.
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  for (const deps of [manifest.dependencies, manifest.devDependencies]) {
    for (const pkg of ['webgpu', '@tensorflow/tfjs-backend-webgpu', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu']) assert.equal(deps[pkg], undefined, pkg);
  }
});

test('the folder gets one package.json, written once', () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'gl-native-')), 'native');
  prepareNativeFolder(dir);
  const path = join(dir, 'package.json');
  assert.equal(readFileSync(path, 'utf8'), '{\n  "name": "grassmann-lens-native-backends",\n  "private": true\n}\n');
  assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), NATIVE_FOLDER_MANIFEST);
  writeFileSync(path, '{"name":"mine"}\n');
  prepareNativeFolder(dir);
  assert.equal(readFileSync(path, 'utf8'), '{"name":"mine"}\n');
});

test('the CLI and the extension both follow the plan, and nothing else writes the folder manifest', () => {
  const cli = readFileSync(join(root, 'src/core/installNative.ts'), 'utf8');
  const ext = readFileSync(join(root, 'src/extension/commands.ts'), 'utf8');
  for (const source of [cli, ext]) {
    assert.match(source, /nativeInstallPlan\(/);
    assert.match(source, /prepareNativeFolder\(/);
    assert.doesNotMatch(source, /grassmann-lens-native/);
    assert.doesNotMatch(source, /tfjs-node-gpu@/);
  }
});
