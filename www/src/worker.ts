// The worker that owns the wasm core and the GPU device. Everything slow happens here, never on the page's thread.
import init, { Gpu, matmulForwardCpu, version } from '../../pkg/transformer_playground.js';
import type { AdapterReport, Backend, CoreApi, KernelCheck, Request, Response } from './protocol';

const ready = init();
let gpu: Promise<Gpu> | null = null;

/** The wgpu device, opened once on first use and kept (its pipelines are cached on it). */
function openGpu(): Promise<Gpu> {
  gpu ??= Gpu.open().catch((error: unknown) => {
    gpu = null;
    throw error;
  });
  return gpu;
}

const LIMIT_NAMES = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
] as const;

async function adapter(): Promise<AdapterReport> {
  if (!('gpu' in navigator) || !navigator.gpu) {
    return { available: false, reason: 'this browser has no WebGPU (navigator.gpu is missing)' };
  }
  const found = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!found) return { available: false, reason: 'the browser offers WebGPU but found no adapter' };
  const info = found.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  const limits: Record<string, number> = {};
  for (const name of LIMIT_NAMES) limits[name] = Number(found.limits[name]);
  return {
    available: true,
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    isFallback: Boolean(info.isFallbackAdapter ?? (found as { isFallbackAdapter?: boolean }).isFallbackAdapter),
    limits,
    features: [...found.features].sort(),
  };
}

/** Deterministic values in [-1, 1) so a test can recompute the reference from what the page shows. */
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

async function matmulCheck(backend: Backend): Promise<KernelCheck> {
  await ready;
  // B=2, T=7 -> N=14 rows, C=12 inputs, OC=37 outputs (a vocabulary-sized projection): no tile divides these.
  const [n, c, oc] = [14, 12, 37];
  const inp = testValues(n * c, 1);
  const weight = testValues(oc * c, 2);
  const bias = testValues(oc, 3);
  const reference = matmulForwardCpu(inp, weight, bias, n, c, oc);
  const start = performance.now();
  const out = backend === 'webgpu' ? await (await openGpu()).matmul_forward(inp, weight, bias, n, c, oc) : reference;
  const millis = performance.now() - start;
  let maxAbsDiff = 0;
  for (let i = 0; i < out.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(out[i] - reference[i]));
  return {
    backend,
    n,
    c,
    oc,
    inp: [...inp],
    weight: [...weight],
    bias: [...bias],
    out: [...out],
    reference: [...reference],
    maxAbsDiff,
    pass: maxAbsDiff <= 1e-4,
    millis,
  };
}

const api: { [K in keyof CoreApi]: (...args: Parameters<CoreApi[K]>) => Promise<ReturnType<CoreApi[K]>> } = {
  version: async () => (await ready, version()),
  adapter,
  matmulCheck,
};

self.onmessage = async (event: MessageEvent<Request>) => {
  const { id, method, args } = event.data;
  let response: Response;
  try {
    const handler = api[method] as (...a: unknown[]) => Promise<unknown>;
    response = { id, ok: true, value: await handler(...args) };
  } catch (error) {
    response = { id, ok: false, error: error instanceof Error ? error.message : String(error) };
  }
  (self as unknown as Worker).postMessage(response);
};
