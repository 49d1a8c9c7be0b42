// What WebGPU offers here: the adapter the core would train on, or why there is none.
import { messageOf } from './errors.js';
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
