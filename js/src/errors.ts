// Errors: everything the package throws is an `Error` whose message says what failed and why.

/** The error thrown by every call of the package. `cause` holds the original error where there was one. */
export class PlaygroundError extends Error {
  override name = 'PlaygroundError';
}

/** What the core's panic hook recorded of the last panic (crate/src/wasm/mod.rs `lastPanic`), on one line. */
let panicReport: () => string | undefined = () => undefined;

/** Called once the core is loaded, with its `lastPanic`. */
export function setPanicReport(lastPanic: (() => string | undefined) | undefined): void {
  if (lastPanic) panicReport = () => lastPanic()?.replace(/\s*\n\s*/g, ' ');
}

/** The message of anything thrown: a JsError from the core arrives as an Error, a panic as a RuntimeError. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) {
    // A panic inside the core surfaces as `RuntimeError: unreachable`; the panic hook has already logged it.
    if (error.name === 'RuntimeError') return `the WebAssembly core crashed (${panicReport() ?? error.message}); reload to recover`;
    return error.message;
  }
  return String(error);
}

/** The core stopped on an internal error (a panic: a bug, or out of memory). Its WebAssembly module cannot be
 *  trusted afterwards: load a fresh one (in a page, start a new worker) and bring the state back from a
 *  snapshot. `panic` is what the core's panic hook recorded ("panicked at crate/src/…: message"). */
export class CoreCrashedError extends PlaygroundError {
  override name = 'CoreCrashedError';
  constructor(
    message: string,
    readonly panic: string | undefined,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Wraps `error` in a PlaygroundError saying what was being done: "<what>: <why>". */
export function wrapError(what: string, error: unknown): PlaygroundError {
  if (error instanceof PlaygroundError) return error;
  if (isAbort(error)) return abortError(what);
  if (error instanceof Error && error.name === 'RuntimeError') {
    return new CoreCrashedError(`${what}: ${messageOf(error)}`, panicReport() ?? error.message, { cause: error });
  }
  return new PlaygroundError(`${what}: ${messageOf(error)}`, { cause: error });
}

/** Runs `f`, rethrowing anything as a PlaygroundError that says what was being done. */
export function guard<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (error) {
    throw wrapError(what, error);
  }
}

/** The error an aborted call rejects with: name 'AbortError', like fetch's. */
export function abortError(what: string): PlaygroundError {
  const error = new PlaygroundError(`${what}: cancelled`);
  error.name = 'AbortError';
  return error;
}

export function isAbort(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}

/** Throws an AbortError when `signal` is already aborted. */
export function checkSignal(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw abortError(what);
}
