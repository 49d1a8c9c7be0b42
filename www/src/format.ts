export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return '—';
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  if (bytes >= 2 ** 10) return `${(bytes / 2 ** 10).toFixed(1)} KiB`;
  return `${bytes} B`;
}

export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)} k`;
  return n.toLocaleString('en-US');
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** `errorMessage` as a sentence: ends with a full stop, so more text can follow it. */
export function errorSentence(error: unknown): string {
  const message = errorMessage(error).trim();
  return /[.!?]$/.test(message) ? message : `${message}.`;
}

/** The number of characters of `text` as the page counts them everywhere: Unicode code points (what the core's
 *  Rust `chars()` and the character tokenizer count), not UTF-16 units (`text.length` counts an emoji as 2). */
export function countChars(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** The size of `text` in UTF-8 bytes (what a file of it takes, and what the size limits count). */
export function utf8Bytes(text: string): number {
  return new TextEncoder().encode(text).length;
}
