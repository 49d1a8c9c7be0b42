// Running a long job step by step on a thread that must stay responsive: between steps the loop gives the
// event loop a turn (so clicks, `pause()` and `AbortSignal`s get through), and it can be paused and resumed.
import { abortError } from './errors.js';

/** Pause and resume a running loop from outside (a button, another widget, a test). */
export class LoopControl {
  #paused = false;
  #resume: (() => void) | null = null;

  get paused(): boolean {
    return this.#paused;
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    const resume = this.#resume;
    this.#resume = null;
    resume?.();
  }

  /** @internal Resolves now, or at resume() while paused; rejects when `signal` aborts meanwhile. */
  waitWhilePaused(signal: AbortSignal | undefined, what: string): Promise<void> {
    if (!this.#paused) return Promise.resolve();
    return new Promise<void>((done, fail) => {
      const onAbort = (): void => fail(abortError(what));
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#resume = () => {
        signal?.removeEventListener('abort', onAbort);
        done();
      };
    });
  }
}

/** Yields to the event loop (a macrotask, so rendering and input run), in windows and workers alike. */
export function nextTask(): Promise<void> {
  const channel = (globalThis as { MessageChannel?: typeof MessageChannel }).MessageChannel;
  if (!channel) return new Promise((done) => setTimeout(done, 0));
  return new Promise((done) => {
    const { port1, port2 } = new channel();
    port1.onmessage = () => {
      port1.close();
      done();
    };
    port2.postMessage(null);
  });
}

export interface LoopOptions<T> {
  /** How many steps to run. */
  steps: number;
  /** One step; its result goes to onStep. */
  step: (index: number) => T | Promise<T>;
  onStep?: (result: T, index: number) => void;
  signal?: AbortSignal;
  control?: LoopControl;
  /** Give the event loop a turn after this many milliseconds of work (default 16: about one frame). */
  sliceMs?: number;
  /** Names the job in the AbortError message. */
  what: string;
}

/** Runs `steps` steps, yielding to the event loop every `sliceMs`, pausing and stopping when asked. */
export async function runLoop<T>(options: LoopOptions<T>): Promise<T[]> {
  const { steps, step, onStep, signal, control, sliceMs = 16, what } = options;
  const results: T[] = [];
  let sliceStart = performance.now();
  for (let i = 0; i < steps; i++) {
    if (signal?.aborted) throw abortError(what);
    if (control?.paused) {
      await control.waitWhilePaused(signal, what);
      sliceStart = performance.now();
    }
    const result = await step(i);
    results.push(result);
    onStep?.(result, i);
    if (performance.now() - sliceStart >= sliceMs) {
      await nextTask();
      sliceStart = performance.now();
    }
  }
  if (signal?.aborted) throw abortError(what);
  return results;
}
