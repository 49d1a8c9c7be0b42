// The messages between the page and the worker that owns the wasm core. Every call is a request with an id,
// answered once with either a value or an error message.

export interface AdapterReport {
  available: boolean;
  /** Why WebGPU is not available (when it is not). */
  reason?: string;
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallback?: boolean;
  limits?: Record<string, number>;
  features?: string[];
}

export type Backend = 'webgpu' | 'cpu';

export interface KernelCheck {
  backend: Backend;
  n: number;
  c: number;
  oc: number;
  inp: number[];
  weight: number[];
  bias: number[];
  out: number[];
  /** The CPU reference (Rust, in wasm) for the same inputs. */
  reference: number[];
  maxAbsDiff: number;
  pass: boolean;
  millis: number;
}

/** What the worker offers; each method is called through `CoreClient.call`. */
export interface CoreApi {
  version(): string;
  adapter(): AdapterReport;
  matmulCheck(backend: Backend): KernelCheck;
}

export type Request = { id: number; method: keyof CoreApi; args: unknown[] };
export type Response = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };
