// The page's side of the worker: typed, promise-based calls. Training and kernels run in the worker so the
// page stays responsive; if the worker dies, every pending call fails with a message instead of hanging.
import type { CoreApi, Request, Response } from './protocol';

type Pending = {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  progress?: (value: unknown) => void;
};

export class CoreClient {
  private worker: Worker;
  private nextId = 1;
  private pending = new Map<number, Pending>();
  /** Called when the worker dies (an uncaught error or out of memory); pending calls are rejected first and a
   *  fresh worker is started, which has lost the old one's state (the page reloads what it needs). */
  onCrash: ((reason: string) => void) | null = null;
  /** Called after every restart (a crash or `restart`), to load the state back into the fresh worker. */
  onRestart: (() => Promise<void> | void) | null = null;
  /** Settles when the latest restart's `onRestart` has loaded the state back (at once if there was none):
   *  wait for it before asking a restarted worker what it holds. */
  restored: Promise<void> = Promise.resolve();

  constructor() {
    this.worker = this.spawn();
  }

  private spawn(): Worker {
    const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
    this.attach(worker);
    return worker;
  }

  /** Stops the worker at once (the only way to interrupt a long synchronous call such as BPE training), fails
   *  the pending calls with `reason`, and starts a fresh worker. */
  restart(reason: string): void {
    this.worker.terminate();
    for (const pending of this.pending.values()) pending.reject(new Error(reason));
    this.pending.clear();
    this.worker = this.spawn();
    this.restored = Promise.resolve(this.onRestart?.()).catch(() => undefined);
  }

  private attach(worker: Worker): void {
    worker.onmessage = (event: MessageEvent<Response>) => {
      const message = event.data;
      const pending = this.pending.get(message.id);
      if (!pending) return;
      if ('progress' in message) {
        pending.progress?.(message.progress);
        return;
      }
      this.pending.delete(message.id);
      if (message.ok) pending.resolve(message.value);
      else pending.reject(new Error(message.error));
      if (!message.ok && message.fatal) {
        // The core trapped (a panic): its module is not to be trusted, so start over in a fresh worker.
        this.onCrash?.(message.error);
        this.restart(`the core's worker was restarted after an internal error (${message.error})`);
      }
    };
    worker.onerror = (event) => {
      event.preventDefault();
      const reason = event.message || 'the worker stopped unexpectedly';
      this.onCrash?.(reason);
      this.restart(`the core's worker stopped (${reason}) and was restarted`);
    };
  }

  call<K extends keyof CoreApi>(method: K, ...args: Parameters<CoreApi[K]>): Promise<ReturnType<CoreApi[K]>> {
    return this.callWithProgress(method, undefined, ...args);
  }

  /** Like `call`, with a callback for the progress messages the worker sends before answering. */
  callWithProgress<K extends keyof CoreApi>(
    method: K,
    progress: ((value: unknown) => void) | undefined,
    ...args: Parameters<CoreApi[K]>
  ): Promise<ReturnType<CoreApi[K]>> {
    const id = this.nextId++;
    const request: Request = { id, method, args };
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject, progress });
      this.worker.postMessage(request);
    });
  }

  terminate(): void {
    this.worker.terminate();
  }
}
