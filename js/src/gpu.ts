// What WebGPU offers here: the adapter the core would train on, or why there is none.
import { guard, messageOf, wrapError } from './errors.js';
import { track } from './resources.js';
import { core, init } from './core.js';

/** The adapter the core opens, with the limits that decide which models fit. */
export interface GpuAdapterInfo {
  available: true;
  name: string;
  vendor: string;
  driver: string;
  backend: string;
  deviceType: string;
  /** True for software adapters (SwiftShader, lavapipe): correct but slow; the CPU path may be faster. */
  isFallback: boolean;
  limits: {
    maxStorageBufferBindingSize: number;
    maxBufferSize: number;
    maxStorageBuffersPerShaderStage: number;
    maxComputeWorkgroupStorageSize: number;
    maxComputeInvocationsPerWorkgroup: number;
    maxComputeWorkgroupsPerDimension: number;
  };
  features: string[];
}

export interface GpuUnavailable {
  available: false;
  /** A sentence saying why, for example "navigator.gpu is missing". */
  reason: string;
}

export type GpuInfo = GpuAdapterInfo | GpuUnavailable;

/** Whether this environment has a WebGPU implementation at all (navigator.gpu). */
export function hasWebGpu(): boolean {
  const nav = (globalThis as { navigator?: { gpu?: unknown } }).navigator;
  return nav?.gpu != null;
}

/**
 * Opens the WebGPU adapter the way the core does and describes it; never throws: without WebGPU it resolves
 * to `{ available: false, reason }`. The device is closed again afterwards.
 */
export async function gpuInfo(): Promise<GpuInfo> {
  if (!hasWebGpu()) {
    return { available: false, reason: 'this environment has no WebGPU (navigator.gpu is missing)' };
  }
  await init();
  let gpu: core.Gpu;
  try {
    gpu = await core.Gpu.open();
  } catch (error) {
    return { available: false, reason: messageOf(error) };
  }
  track('gpu', 1);
  try {
    const s = gpu.summary() as Record<string, unknown>;
    return {
      available: true,
      name: String(s.name),
      vendor: String(s.vendor),
      driver: String(s.driver),
      backend: String(s.backend),
      deviceType: String(s.device_type),
      isFallback: Boolean(s.is_fallback),
      limits: {
        maxStorageBufferBindingSize: Number(s.max_storage_buffer_binding_size),
        maxBufferSize: Number(s.max_buffer_size),
        maxStorageBuffersPerShaderStage: Number(s.max_storage_buffers_per_shader_stage),
        maxComputeWorkgroupStorageSize: Number(s.max_compute_workgroup_storage_size),
        maxComputeInvocationsPerWorkgroup: Number(s.max_compute_invocations_per_workgroup),
        maxComputeWorkgroupsPerDimension: Number(s.max_compute_workgroups_per_dimension),
      },
      features: Array.isArray(s.features) ? s.features.map(String) : [],
    };
  } catch (error) {
    return { available: false, reason: messageOf(error) };
  } finally {
    gpu.free();
    track('gpu', -1);
  }
}

/** What gpuSelfTest() found. */
export interface GpuSelfTest {
  /** Where the kernel ran: 'webgpu', or 'cpu' when there is no WebGPU (then `reason` says why). */
  backend: 'webgpu' | 'cpu';
  reason?: string;
  /** The largest |GPU - CPU| over a (14 x 12) @ (37 x 12)^T + bias matmul: about 1e-6 when the GPU is right. */
  maxAbsDiff: number;
  /** Milliseconds the kernel took, pipeline compilation included. */
  millis: number;
}

/**
 * Runs the core's matmul kernel on WebGPU and compares it with the CPU reference: a quick check that this
 * device computes correctly. Without WebGPU it runs the CPU path only and says why.
 */
export async function gpuSelfTest(): Promise<GpuSelfTest> {
  await init();
  // B=2, T=7 -> N=14 rows, C=12 inputs, OC=37 outputs: no tile size divides these.
  const [n, c, oc] = [14, 12, 37];
  const values = (count: number, seed: number): Float32Array => {
    const out = new Float32Array(count);
    let state = seed;
    for (let i = 0; i < count; i++) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      out[i] = (state / 2 ** 32) * 2 - 1;
    }
    return out;
  };
  const inp = values(n * c, 1);
  const weight = values(oc * c, 2);
  const bias = values(oc, 3);
  const reference = guard('the CPU matmul failed', () => core.matmulForwardCpu(inp, weight, bias, n, c, oc));
  const start = performance.now();
  if (!hasWebGpu()) {
    return { backend: 'cpu', reason: 'this environment has no WebGPU (navigator.gpu is missing)', maxAbsDiff: 0, millis: performance.now() - start };
  }
  let gpu: core.Gpu;
  try {
    gpu = await core.Gpu.open();
  } catch (error) {
    return { backend: 'cpu', reason: messageOf(error), maxAbsDiff: 0, millis: performance.now() - start };
  }
  track('gpu', 1);
  try {
    const out = await gpu.matmul_forward(inp, weight, bias, n, c, oc).catch((error: unknown) => {
      throw wrapError('the WebGPU matmul failed', error);
    });
    let maxAbsDiff = 0;
    for (let i = 0; i < out.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(out[i]! - reference[i]!));
    if (out.length !== reference.length) maxAbsDiff = Infinity;
    return { backend: 'webgpu', maxAbsDiff, millis: performance.now() - start };
  } finally {
    gpu.free();
    track('gpu', -1);
  }
}
