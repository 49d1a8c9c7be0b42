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

/** What gpuSelfTest() found: the inputs, the kernel's output and the CPU reference, so they can be shown. */
export interface GpuSelfTest {
  /** Where the kernel ran: 'webgpu', or 'cpu' when asked or when there is no WebGPU (then `reason` says why). */
  backend: 'webgpu' | 'cpu';
  reason?: string;
  /** The kernel whose output `out` is: 'matmul_forward' (the WGSL kernel) on WebGPU; on the CPU
   *  'matmul_forward_fast_cpu', the blocked (WebAssembly SIMD) matmul the model runs there. Either way it is
   *  compared with the readable reference loops ('matmul_forward_cpu'): never a kernel with itself. */
  kernel: 'matmul_forward' | 'matmul_forward_fast_cpu';
  /** out (n, oc) = inp (n, c) @ weight (oc, c)^T + bias (oc): 14 x 12 by 37 x 12, a shape no tile divides. */
  n: number;
  c: number;
  oc: number;
  inp: Float32Array;
  weight: Float32Array;
  bias: Float32Array;
  out: Float32Array;
  /** The core's CPU reference for the same inputs. */
  reference: Float32Array;
  /** The largest |out - reference|: about 1e-6 when the GPU is right. */
  maxAbsDiff: number;
  /** maxAbsDiff is within 1e-4. */
  pass: boolean;
  /** Milliseconds the kernel took, pipeline compilation, upload and readback included. */
  millis: number;
}

/** Deterministic values in [-1, 1) (xorshift32), so a reader can recompute the reference from the inputs. */
function testValues(count: number, seed: number): Float32Array {
  const values = new Float32Array(count);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < count; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    values[i] = ((state >>> 0) / 2 ** 32) * 2 - 1;
  }
  return values;
}

/**
 * Runs the core's matmul kernel on WebGPU and compares it with the CPU reference: a quick check that this
 * device computes correctly. With `backend: 'cpu'`, or without WebGPU, no GPU is checked (`reason` says why):
 * the CPU's fast matmul (the one the model runs there) is compared with the reference instead.
 */
export async function gpuSelfTest(options: { backend?: 'webgpu' | 'cpu' } = {}): Promise<GpuSelfTest> {
  await init();
  // B=2, T=7 -> N=14 rows, C=12 inputs, OC=37 outputs (a vocabulary-sized projection): no tile divides these.
  const [n, c, oc] = [14, 12, 37];
  const inp = testValues(n * c, 1);
  const weight = testValues(oc * c, 2);
  const bias = testValues(oc, 3);
  const reference = guard('the CPU matmul failed', () => core.matmulForwardCpu(inp, weight, bias, n, c, oc));
  const start = performance.now();
  const compare = (out: Float32Array) => {
    let maxAbsDiff = out.length === reference.length ? 0 : Infinity;
    for (let i = 0; i < out.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(out[i]! - reference[i]!));
    return { out, maxAbsDiff, pass: maxAbsDiff <= 1e-4, millis: performance.now() - start };
  };
  // Without a GPU to check, the CPU's own fast kernel is checked against the reference.
  const onCpu = (reason: string): GpuSelfTest => {
    const out = guard('the fast CPU matmul failed', () => core.matmulForwardFastCpu(inp, weight, bias, n, c, oc));
    return { backend: 'cpu', reason, kernel: 'matmul_forward_fast_cpu', n, c, oc, inp, weight, bias, reference, ...compare(out) };
  };
  if (options.backend === 'cpu') return onCpu('asked for the CPU');
  if (!hasWebGpu()) return onCpu('this environment has no WebGPU (navigator.gpu is missing)');
  let gpu: core.Gpu;
  try {
    gpu = await core.Gpu.open();
  } catch (error) {
    return onCpu(messageOf(error));
  }
  track('gpu', 1);
  try {
    const out = await gpu.matmul_forward(inp, weight, bias, n, c, oc).catch((error: unknown) => {
      throw wrapError('the WebGPU matmul failed', error);
    });
    return { backend: 'webgpu', kernel: 'matmul_forward', n, c, oc, inp, weight, bias, reference, ...compare(out) };
  } finally {
    gpu.free();
    track('gpu', -1);
  }
}
