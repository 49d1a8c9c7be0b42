// Tokenizers: train (char-level or byte-level BPE), load and save tokenizer.json, encode, decode, inspect.
import { abortError, checkSignal, guard, PlaygroundError, wrapError } from './errors.js';
import { track } from './resources.js';
import { core, init } from './core.js';

export type TokenizerKind = 'char' | 'bpe';

/** How BPE splits text before merging: no split, GPT-2's regex, or GPT-4's (cl100k) regex. */
export type SplitPattern = 'none' | 'gpt2' | 'gpt4';

/** Reported after each BPE merge. */
export interface TokenizerProgress {
  /** New tokens learned so far, of `total` wanted. */
  done: number;
  total: number;
  /** The pair just merged (left id, right id) and the id of the token it became. */
  merge: [number, number];
  token: number;
  /** How often the pair occurred in the text. */
  count: number;
  /** The new token's bytes, and the new token and the pair as tokens are shown (`t` + `he` → `the`). */
  bytes: Uint8Array;
  text: string;
  parts: [string, string];
}

/**
 * Why BPE training ended: 'vocabularyFull' (the vocabulary reached the size asked for) or 'noPairLeft'
 * (every word of the text, or with the pattern 'none' the whole text, became a single token, so no pair of
 * neighbouring tokens was left to merge: the text is too small for the vocabulary asked for).
 */
export type BpeStopReason = 'vocabularyFull' | 'noPairLeft';

/** How BPE training ended (`tokenizer.training`), as the core reports it. */
export interface BpeTraining {
  stop: BpeStopReason;
  /** stop === 'noPairLeft': the vocabulary is smaller than asked for. */
  stoppedEarly: boolean;
  /** The vocabulary asked for and the one trained; both count the 256 bytes and the special tokens. */
  vocabAsked: number;
  vocabSize: number;
  /** Merges learned (a merge that rebuilds an existing token adds none, so this can exceed the new tokens). */
  merges: number;
  /** With 'noPairLeft': the most merges this text allows with this pattern (all were made); else undefined. */
  mergesPossible: number | undefined;
  /** The number (1-based) of the first merge whose pair occurred only once: from then on no pair occurs
   *  twice, and each merge memorises one piece of the text. Undefined when every pair occurred twice or more. */
  firstSingleMerge: number | undefined;
  /** How often each merge's pair occurred when it was merged, in rank order (never growing). */
  mergeCounts: number[];
  /** The core's sentence for people: how training ended, why, and what to change. */
  message: string;
}

/** One learned merge: the tokens `left` and `right` became `token` (ids). `rank` counts from 0. */
export interface Merge {
  rank: number;
  left: number;
  right: number;
  token: number;
}

export interface TrainTokenizerOptions {
  /** 'char' (one token per distinct character, plus an unknown token) or 'bpe' (default 'bpe'). */
  kind?: TokenizerKind;
  /** BPE only: the number of tokens, 256 bytes + merges + special tokens (default 512). */
  vocabSize?: number;
  /** BPE only (default 'gpt4'). */
  pattern?: SplitPattern;
  /** BPE only: tokens that are never split, such as '<|endoftext|>'. */
  specialTokens?: string[];
  /** BPE only: called after each merge. */
  onProgress?: (progress: TokenizerProgress) => void;
  /**
   * Cancels training: the promise rejects with an AbortError. Training runs on the calling thread, so the
   * signal is looked at between merges: abort it from onProgress, or train in a Web Worker and abort from there.
   */
  signal?: AbortSignal;
}

/** Numbers about how a tokenizer cuts a text. */
export interface TokenizerStats {
  vocabSize: number;
  characters: number;
  bytes: number;
  tokens: number;
  /** tokens / characters (lower is better). */
  tokensPerChar: number;
  /** UTF-8 bytes / tokens: the compression ratio (higher is better). */
  bytesPerToken: number;
}

/** One token of an encoded text: its id and a readable string (spaces as ␣, stray bytes as <0xE2>). */
export interface Token {
  id: number;
  text: string;
}

type TokenIds = Uint32Array | readonly number[];

function toIds(ids: TokenIds): Uint32Array {
  if (ids instanceof Uint32Array) return ids;
  for (const id of ids) {
    if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) {
      throw new PlaygroundError(`token ids must be whole numbers from 0 to 4294967295 (got ${id})`);
    }
  }
  return Uint32Array.from(ids);
}

/** A trained or loaded tokenizer. Call dispose() when done: it frees the core's memory. */
export class Tokenizer {
  #inner: core.Tokenizer | null;

  private constructor(inner: core.Tokenizer) {
    this.#inner = inner;
    track('tokenizer', 1);
  }

  /** Learns a tokenizer from `text`. */
  static async train(text: string, options: TrainTokenizerOptions = {}): Promise<Tokenizer> {
    const what = 'could not train the tokenizer';
    if (typeof text !== 'string') throw new PlaygroundError(`${what}: the text must be a string (got ${typeof text})`);
    await init();
    const { kind = 'bpe', vocabSize = 512, pattern = 'gpt4', specialTokens = [], onProgress, signal } = options;
    checkSignal(signal, what);
    if (kind === 'char') return new Tokenizer(guard(what, () => core.Tokenizer.trainChar(text)));
    if (kind !== 'bpe') throw new PlaygroundError(`${what}: the kind must be 'char' or 'bpe' (got '${String(kind)}')`);
    if (!Number.isInteger(vocabSize) || vocabSize < 1) {
      throw new PlaygroundError(`${what}: vocabSize must be a whole number (got ${vocabSize})`);
    }
    let callbackError: unknown = null;
    let aborted = false;
    // The bytes of every token so far: the 256 bytes, then one more per merge.
    const table: Uint8Array[] = Array.from({ length: 256 }, (_, b) => Uint8Array.of(b));
    const progress = (p: { done: number; total: number; merge: number[]; token: number; count: number | bigint }): boolean => {
      try {
        if (onProgress) {
          const [left, right] = [table[p.merge[0]!] ?? new Uint8Array(), table[p.merge[1]!] ?? new Uint8Array()];
          const bytes = new Uint8Array(left.length + right.length);
          bytes.set(left, 0);
          bytes.set(right, left.length);
          table[p.token] = bytes;
          const [text, a, b] = [bytes, left, right].map((x) => core.displayBytes(x));
          onProgress({ done: p.done, total: p.total, merge: [p.merge[0]!, p.merge[1]!], token: p.token, count: Number(p.count), bytes, text: text!, parts: [a!, b!] });
        }
      } catch (error) {
        callbackError = error;
        return false;
      }
      if (signal?.aborted) {
        aborted = true;
        return false;
      }
      return true;
    };
    try {
      const inner = core.Tokenizer.trainBpe(text, vocabSize, pattern, [...specialTokens], progress);
      return new Tokenizer(inner);
    } catch (error) {
      if (aborted) throw abortError(what);
      if (callbackError !== null) throw wrapError(`${what}: the onProgress callback threw`, callbackError);
      throw wrapError(what, error);
    }
  }

  /** Loads a tokenizer.json (this package's, or a Hugging Face byte-level BPE), as text or bytes. */
  static async load(json: string | ArrayBuffer | ArrayBufferView): Promise<Tokenizer> {
    await init();
    const what = 'could not load the tokenizer';
    let text: string;
    if (typeof json === 'string') text = json;
    else if (json instanceof ArrayBuffer || ArrayBuffer.isView(json)) {
      text = guard(`${what} (the file is not UTF-8 text)`, () => new TextDecoder('utf-8', { fatal: true }).decode(json));
    } else throw new PlaygroundError(`${what}: give the tokenizer.json as a string or bytes`);
    return new Tokenizer(guard(what, () => core.Tokenizer.fromJson(text)));
  }

  #core(): core.Tokenizer {
    if (this.#inner === null) throw new PlaygroundError('this tokenizer was disposed: create or load a new one');
    return this.#inner;
  }

  get kind(): TokenizerKind {
    return this.#core().kind as TokenizerKind;
  }

  /** The number of token ids, special tokens included. */
  get vocabSize(): number {
    return this.#core().vocabSize;
  }

  /** BPE's split pattern; undefined for the char tokenizer. */
  get pattern(): SplitPattern | undefined {
    return (this.#core().pattern as SplitPattern | undefined) ?? undefined;
  }

  /** How BPE training ended (why it stopped, how many merges the text allowed); undefined for a tokenizer that
   *  was loaded from tokenizer.json or is a char tokenizer. */
  get training(): BpeTraining | undefined {
    const raw = this.#core().training as
      | { stop: BpeStopReason; vocabAsked: number; vocabSize: number; merges: number; mergesPossible: number | null; firstSingleMerge: number | null; mergeCounts: number[]; message: string }
      | undefined;
    if (!raw) return undefined;
    return {
      stop: raw.stop,
      stoppedEarly: raw.stop === 'noPairLeft',
      vocabAsked: raw.vocabAsked,
      vocabSize: raw.vocabSize,
      merges: raw.merges,
      mergesPossible: raw.mergesPossible ?? undefined,
      firstSingleMerge: raw.firstSingleMerge ?? undefined,
      mergeCounts: raw.mergeCounts.map(Number),
      message: raw.message,
    };
  }

  /** The learned merges in rank order (the last `limit` of them when given); empty for the char tokenizer. */
  merges(limit?: number): Merge[] {
    const flat = this.#core().merges();
    const n = flat.length / 3;
    const from = limit === undefined ? 0 : Math.max(0, n - Math.max(0, Math.floor(limit)));
    return Array.from({ length: n - from }, (_, i) => {
      const rank = from + i;
      return { rank, left: flat[3 * rank]!, right: flat[3 * rank + 1]!, token: flat[3 * rank + 2]! };
    });
  }

  get disposed(): boolean {
    return this.#inner === null;
  }

  encode(text: string): Uint32Array {
    const inner = this.#core();
    return guard('could not encode the text', () => inner.encode(String(text)));
  }

  decode(ids: TokenIds): string {
    const inner = this.#core();
    return guard('could not decode the tokens', () => inner.decode(toIds(ids)));
  }

  /** A readable string for each id. */
  tokenStrings(ids: TokenIds): string[] {
    const inner = this.#core();
    return guard('could not show the tokens', () => inner.tokenStrings(toIds(ids)));
  }

  /** encode() and tokenStrings() together: what a view of the tokens needs. */
  tokenize(text: string): Token[] {
    const ids = this.encode(text);
    const strings = this.tokenStrings(ids);
    return Array.from(ids, (id, i) => ({ id, text: strings[i] ?? '' }));
  }

  /** The bytes of token `id` (a character's UTF-8, or a BPE token's bytes); undefined for the unknown token
   *  and ids beyond the vocabulary. */
  tokenBytes(id: number): Uint8Array | undefined {
    return this.#core().tokenBytes(id) ?? undefined;
  }

  /** The id of a special token, or undefined. */
  specialId(content: string): number | undefined {
    return this.#core().specialId(content);
  }

  stats(text: string): TokenizerStats {
    const inner = this.#core();
    const s = guard('could not measure the text', () => inner.stats(String(text))) as {
      vocab_size: number;
      characters: number;
      bytes: number;
      tokens: number;
      tokens_per_char: number;
      bytes_per_token: number;
    };
    return {
      vocabSize: s.vocab_size,
      characters: s.characters,
      bytes: s.bytes,
      tokens: s.tokens,
      tokensPerChar: s.tokens_per_char,
      bytesPerToken: s.bytes_per_token,
    };
  }

  /** The tokenizer.json text; Tokenizer.load() reads it back. */
  save(): string {
    return this.#core().toJson();
  }

  /** Frees the core's memory. Safe to call twice; any later use throws. */
  dispose(): void {
    if (this.#inner === null) return;
    this.#inner.free();
    this.#inner = null;
    track('tokenizer', -1);
  }
}

/** Trains a tokenizer on `text` (see Tokenizer.train). */
export function trainTokenizer(text: string, options?: TrainTokenizerOptions): Promise<Tokenizer> {
  return Tokenizer.train(text, options);
}

/** Same as trainTokenizer. */
export const createTokenizer = trainTokenizer;

/** Loads a tokenizer.json (see Tokenizer.load). */
export function loadTokenizer(json: string | ArrayBuffer | ArrayBufferView): Promise<Tokenizer> {
  return Tokenizer.load(json);
}
