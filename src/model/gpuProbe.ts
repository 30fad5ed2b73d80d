/**
 * The probes that decide whether a GPU rung really computes on a GPU (issue 17): a backend is
 * reported as GPU only after one of them proves it, otherwise the report says why it fell back.
 *
 * - WebGPU (`webgpu`, Dawn in Node): the adapter Dawn gives for `requestAdapter({powerPreference:
 *   'high-performance'})` (the request tfjs-backend-webgpu makes), its vendor / architecture /
 *   description, and that it is not a software rasteriser (SwiftShader, lavapipe / llvmpipe, WARP);
 *   then, once the backend is up, the adapter the backend itself holds and a probe product.
 * - tfjs-node-gpu: the device list libtensorflow created. The only part of it the package exposes is
 *   `NodeJSKernelBackend.isUsingGpuDevice`, which its binding sets from `TFE_ContextListDevices`
 *   (true when a device of type "GPU" is in the list, else the binding falls back to the CPU
 *   device). The device's name is not exposed to JavaScript: the report says "a GPU device", no model.
 *
 * The loaders are parameters, so that tests drive "package missing", "no adapter" and "adapter
 * found" with fakes; nothing here imports `webgpu` or TensorFlow.js.
 */

/** The part of a WebGPU adapter's info we read (GPUAdapterInfo). */
export interface AdapterInfoLike {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}

export interface AdapterLike {
  info?: AdapterInfoLike;
  requestAdapterInfo?: () => Promise<AdapterInfoLike>;
}

/** navigator.gpu as the `webgpu` package's create([]) returns it. */
export interface GpuLike {
  requestAdapter(options?: { powerPreference?: 'high-performance' | 'low-power' }): Promise<AdapterLike | null>;
}

/** Thrown by a loader when a package is not installed (the message is the report's detail). */
export class NotInstalledError extends Error {
  override name = 'NotInstalledError';
}

/** The graphics API Dawn uses on each platform (for the report's words). */
export function dawnApi(platform: NodeJS.Platform): string {
  return platform === 'darwin' ? 'Metal' : platform === 'win32' ? 'D3D12' : 'Vulkan';
}

/** Why no adapter was found, with what to check on this platform. */
export function noAdapterDetail(platform: NodeJS.Platform): string {
  const hint = platform === 'darwin'
    ? 'Metal needs macOS 11 or later on a Mac with a GPU'
    : platform === 'win32'
      ? 'D3D12 needs Windows 10 or later and a GPU driver with D3D12 support'
      : 'Dawn needs the Vulkan loader (libvulkan.so.1) and the GPU vendor\'s Vulkan driver (NVIDIA: the proprietary driver; AMD/Intel: mesa-vulkan-drivers); `vulkaninfo --summary` lists what Vulkan sees';
  return `navigator.gpu.requestAdapter() returned null: Dawn found no ${dawnApi(platform)} GPU adapter (${hint})`;
}

const SOFTWARE_ADAPTER = /swiftshader|llvmpipe|lavapipe|softpipe|microsoft basic render|\bwarp\b/i;

/** "nvidia ampere (NVIDIA GeForce RTX 3090)", from whatever the adapter tells. */
export function adapterName(info: AdapterInfoLike): string {
  const main = [info.vendor, info.architecture].filter((s) => s && s.trim()).join(' ') || 'unknown vendor';
  const more = info.description?.trim() || info.device?.trim();
  return more ? `${main} (${more})` : main;
}

/** Software adapters are CPU rasterisers exposed through the GPU API: not a GPU. */
export function isSoftwareAdapter(info: AdapterInfoLike): boolean {
  return info.isFallbackAdapter === true || SOFTWARE_ADAPTER.test([info.vendor, info.architecture, info.device, info.description].join(' '));
}

export type WebGpuAdapterProbe =
  | { ok: true; gpu: GpuLike; info: AdapterInfoLike; name: string; steps: { step: string; ms: number }[] }
  | { ok: false; skip: string; detail: string; steps: { step: string; ms: number }[] };

/**
 * Loads the `webgpu` package through `loadGpu` (returns navigator.gpu or throws; a
 * NotInstalledError's message is used as it is) and asks it for the adapter.
 */
export async function probeWebGpuAdapter(loadGpu: () => Promise<GpuLike>, platform: NodeJS.Platform = process.platform): Promise<WebGpuAdapterProbe> {
  const steps: { step: string; ms: number }[] = [];
  let t = performance.now();
  const lap = (step: string) => {
    const now = performance.now();
    steps.push({ step, ms: now - t });
    t = now;
  };
  let gpu: GpuLike;
  try {
    gpu = await loadGpu();
    lap('load webgpu');
  } catch (e) {
    lap('load webgpu');
    if (e instanceof NotInstalledError) return { ok: false, skip: 'not installed', detail: e.message, steps };
    return { ok: false, skip: 'failed to load', detail: `the webgpu package failed to load: ${firstLine(e)}`, steps };
  }
  let adapter: AdapterLike | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    lap('requestAdapter');
  } catch (e) {
    lap('requestAdapter');
    return { ok: false, skip: 'no adapter', detail: `navigator.gpu.requestAdapter() failed: ${firstLine(e)}`, steps };
  }
  if (!adapter) return { ok: false, skip: 'no adapter', detail: noAdapterDetail(platform), steps };
  let info: AdapterInfoLike = {};
  try {
    info = adapter.info ?? (adapter.requestAdapterInfo ? await adapter.requestAdapterInfo() : {});
  } catch {
    info = {};
  }
  lap('adapter info');
  const name = adapterName(info);
  if (isSoftwareAdapter(info)) {
    return { ok: false, skip: 'software adapter', detail: `the only WebGPU adapter is a software rasteriser on the CPU (${name}), not a GPU`, steps };
  }
  return { ok: true, gpu, info, name, steps };
}

/**
 * What a loaded tfjs-node(-gpu) backend says about its device: `isUsingGpuDevice` of
 * NodeJSKernelBackend (from the device list libtensorflow created).
 */
export function nativeDeviceEvidence(backend: unknown): { gpu: boolean; detail: string } {
  const b = backend as { isUsingGpuDevice?: unknown; isGPUPackage?: unknown } | null | undefined;
  if (b && typeof b.isUsingGpuDevice === 'boolean') {
    return b.isUsingGpuDevice
      ? { gpu: true, detail: 'libtensorflow created a GPU device (its device list has a device of type GPU)' }
      : {
        gpu: false,
        detail: 'libtensorflow created no GPU device (its device list has the CPU only), so it would compute on the CPU: '
          + 'tfjs-node-gpu 4.22 needs an NVIDIA GPU with CUDA 11.2 and cuDNN 8.1 libraries on the library path (CUDA 12/13 alone do not load)',
      };
  }
  return { gpu: false, detail: 'the tensorflow backend exposes no isUsingGpuDevice, so its device cannot be proved' };
}

export function firstLine(e: unknown): string {
  return String((e as Error)?.message ?? e).split('\n')[0];
}
