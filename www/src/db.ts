// The session in IndexedDB: one object store of named values (corpus, tokenizer, model settings), so a reload
// brings the work back. Every call fails soft: without storage (private mode) the page still works.
const DB_NAME = 'transformer-playground';
const STORE = 'session';

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error('IndexedDB did not open'));
  });
}

let db: Promise<IDBDatabase> | null = null;

async function withStore<T>(mode: IDBTransactionMode, work: (store: IDBObjectStore) => IDBRequest): Promise<T> {
  db ??= open();
  const database = await db;
  return new Promise((resolve, reject) => {
    const transaction = database.transaction(STORE, mode);
    const request = work(transaction.objectStore(STORE));
    transaction.oncomplete = () => resolve(request.result as T);
    transaction.onerror = () => reject(transaction.error ?? new Error('IndexedDB transaction failed'));
  });
}

export async function load<T>(key: string): Promise<T | undefined> {
  try {
    return await withStore<T | undefined>('readonly', (store) => store.get(key));
  } catch {
    return undefined;
  }
}

/** Loads several values in one transaction, so they belong together (written by one `saveAll`). */
export async function loadAll(keys: string[]): Promise<unknown[]> {
  try {
    const requests: IDBRequest[] = [];
    await withStore('readonly', (store) => {
      for (const key of keys) requests.push(store.get(key));
      return requests[requests.length - 1];
    });
    return requests.map((request) => request.result as unknown);
  } catch {
    return keys.map(() => undefined);
  }
}

export async function save(key: string, value: unknown): Promise<boolean> {
  try {
    await withStore('readwrite', (store) => store.put(value, key));
    return true;
  } catch {
    return false;
  }
}

/** Saves several values in one transaction: all of them land, or none (a snapshot's weights, history and mark). */
export async function saveAll(entries: [string, unknown][]): Promise<boolean> {
  try {
    await withStore('readwrite', (store) => {
      let last: IDBRequest | null = null;
      for (const [key, value] of entries) last = store.put(value, key);
      return last!;
    });
    return true;
  } catch {
    return false;
  }
}

export async function clear(): Promise<void> {
  try {
    await withStore('readwrite', (store) => store.clear());
  } catch {
    // nothing stored, nothing to clear
  }
}
