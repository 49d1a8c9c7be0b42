// The messages between the page and the worker that owns the wasm core. Every call is a request with an id,
// answered once with either a value or an error message; a long call (tokenizer training) may also send
// progress messages with the same id before its answer.

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

/** Which parts of the core this build of the wasm module offers (the page shows "coming soon" for the rest). */
export interface Capabilities {
  version: string;
  corpus: boolean;
  tokenizer: boolean;
  cpuModel: boolean;
  gpuModel: boolean;
}

export interface CorpusInfo {
  name: string;
  description: string;
}

export type TokenizerKind = 'char' | 'bpe';
export type SplitPattern = 'none' | 'gpt2' | 'gpt4';

export interface TokenizerOptions {
  kind: TokenizerKind;
  /** BPE only: the whole vocabulary (256 bytes + merges + special tokens). */
  vocabSize: number;
  pattern: SplitPattern;
}

/** One BPE merge as the page shows it: two tokens became one. */
export interface MergeView {
  rank: number;
  left: string;
  right: string;
  token: number;
  text: string;
  count: number;
}

export interface BpeProgressView {
  done: number;
  total: number;
  /** The merges learned since the last progress message. */
  merges: MergeView[];
}

export interface TokenizerStats {
  vocab_size: number;
  characters: number;
  bytes: number;
  tokens: number;
  tokens_per_char: number;
  bytes_per_token: number;
}

export interface TokenizerSummary {
  kind: TokenizerKind;
  vocabSize: number;
  /** Stats over the corpus it was trained on (or the text given to `tokenizerSummary`). */
  stats: TokenizerStats;
  millis: number;
}

/** A text cut into tokens: ids and their readable forms (`␣` for a space, `<0xE2>` for a partial byte). */
export interface Tokenized {
  ids: number[];
  strings: string[];
  /** The raw bytes of each token, as hex ("e2 80"), for the hover card. */
  bytes: string[];
  /** The text was longer than the limit and was cut. */
  truncated: boolean;
}

/** What the worker offers; each method is called through `CoreClient.call`. */
export interface CoreApi {
  version(): string;
  capabilities(): Capabilities;
  adapter(): AdapterReport;
  matmulCheck(backend: Backend): KernelCheck;
  corpora(): CorpusInfo[];
  generateCorpus(name: string, seed: number, approxBytes: number): string;
  /** Trains a tokenizer on `text`; BPE training sends `BpeProgressView` progress messages. */
  trainTokenizer(text: string, options: TokenizerOptions): TokenizerSummary;
  /** Cuts `text` (at most `maxChars` of it) into tokens with the current tokenizer. */
  tokenize(text: string, maxChars: number): Tokenized;
  /** The current tokenizer as tokenizer.json. */
  tokenizerJson(): string;
  /** Replaces the current tokenizer with one loaded from tokenizer.json (the old one stays on failure). */
  loadTokenizer(json: string, text: string): TokenizerSummary;
}

export type Request = { id: number; method: keyof CoreApi; args: unknown[] };
export type Response =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: string }
  | { id: number; progress: unknown };
