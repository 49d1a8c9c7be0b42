// Loading the WebAssembly core, once, in a browser (window or worker) or in Node >= 20.
//
// This is the only file that imports the wasm-bindgen glue. In the repository it lives in pkg/ (built by
// scripts/build.sh); the package build (js/build.mjs) copies it to lib/wasm/ and rewrites the two paths below.
import initAsync, * as glue from '../../pkg/transformer_playground.js';
import { initSync } from '../../pkg/transformer_playground.js';
import { setPanicReport, wrapError } from './errors.js';


/** Where the core's .wasm comes from. */
export type WasmSource = string | URL | Response | BufferSource | WebAssembly.Module;

export interface InitOptions {
  /**
   * The wasm module: a URL, a fetch Response, the bytes, or a compiled WebAssembly.Module. By default the
   * file shipped next to this module (`transformer-playground/wasm`): fetched in a browser, read from disk in Node.
   */
  wasm?: WasmSource;
}

let ready: Promise<void> | null = null;
let loaded = false;

/**
 * Loads the WebAssembly core. Every other call does this itself, so calling it is optional; call it early to
 * start the download sooner, or to pass your own `wasm` source. Later calls return the first call's promise.
 */
export function init(options: InitOptions = {}): Promise<void> {
  ready ??= load(options).then(
    () => {
      loaded = true;
      setPanicReport((glue as { lastPanic?: () => string | undefined }).lastPanic);
    },
    (error: unknown) => {
      ready = null; // a failed load (say, offline) may be retried
      throw wrapError('could not load the transformer-playground WebAssembly core', error);
    },
  );
  return ready;
}

/** True once init() has finished. */
export function isReady(): boolean {
  return loaded;
}

function wasmUrl(): URL {
  // Written this way so bundlers (Vite, webpack, Parcel) see the asset and ship it.
  return new URL('../../pkg/transformer_playground_bg.wasm', import.meta.url);
}

/** Node, Deno and Bun: no fetch() for file: URLs, so the bytes come from disk. */
function isNode(): boolean {
  const process = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof process?.versions?.node === 'string' && !('document' in globalThis) && !('importScripts' in globalThis);
}

async function load(options: InitOptions): Promise<void> {
  if (options.wasm !== undefined) {
    await initAsync({ module_or_path: options.wasm });
    return;
  }
  const url = wasmUrl();
  if (isNode() && url.protocol === 'file:') {
    // The module name sits in a variable so that browser bundlers do not try to resolve it.
    const fsName = 'node:fs/promises';
    const fs = (await import(/* @vite-ignore */ fsName)) as { readFile(path: URL): Promise<Uint8Array> };
    const bytes = await fs.readFile(url);
    initSync({ module: bytes });
    return;
  }
  await initAsync({ module_or_path: url });
}
