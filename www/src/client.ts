// The page's side of the worker: typed, promise-based calls. Training and kernels run in the worker so the
// page stays responsive; if the worker dies, every pending call fails with a message instead of hanging.
import type { CoreApi, Request, Response } from './protocol';

type Pending = { resolve: (value: unknown) => void; reject: (error: Error) => void };

export class CoreClient {
  private worker: Worker;
  private nextId = 1;
  private pending = new Map<number, Pending>();

  constructor() {
    this.worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
    this.worker.onmessage = (event: MessageEvent<Response>) => {
      const message = event.data;
      const pending = this.pending.get(message.id);
      if (!pending) return;
      this.pending.delete(message.id);
      if (message.ok) pending.resolve(message.value);
      else pending.reject(new Error(message.error));
    };
    this.worker.onerror = (event) => {
      const reason = event.message || 'the worker stopped unexpectedly';
      for (const pending of this.pending.values()) pending.reject(new Error(reason));
      this.pending.clear();
    };
  }

  call<K extends keyof CoreApi>(method: K, ...args: Parameters<CoreApi[K]>): Promise<ReturnType<CoreApi[K]>> {
    const id = this.nextId++;
    const request: Request = { id, method, args };
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.worker.postMessage(request);
    });
  }

  terminate(): void {
    this.worker.terminate();
  }
}
