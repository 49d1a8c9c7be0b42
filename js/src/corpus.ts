// The built-in corpora: small, deterministic texts (stories and algorithmic tasks) to train on.
import { guard, PlaygroundError } from './errors.js';
import { core, init } from './core.js';

export interface CorpusInfo {
  name: string;
  description: string;
}

export interface GenerateCorpusOptions {
  /** The same seed gives the same text, in every browser and in Node (default 1). */
  seed?: number;
  /** About how long the text is, in bytes (default 65536, at most 64 MiB). */
  bytes?: number;
  /** Algorithmic tasks only: the shortest and longest input (give both, or neither). */
  minLen?: number;
  maxLen?: number;
}

/** The built-in corpora, in the order to show them. */
export async function corpora(): Promise<CorpusInfo[]> {
  await init();
  const list = guard('could not list the corpora', () => core.corpora()) as CorpusInfo[];
  return list.map(({ name, description }) => ({ name, description }));
}

/** The text of the built-in corpus `name` (see corpora()). */
export async function generateCorpus(name: string, options: GenerateCorpusOptions = {}): Promise<string> {
  await init();
  const { seed = 1, bytes = 65536, minLen, maxLen } = options;
  const what = `could not generate the corpus '${name}'`;
  if (!Number.isInteger(bytes) || bytes < 0) throw new PlaygroundError(`${what}: bytes must be a whole number >= 0 (got ${bytes})`);
  return guard(what, () => core.generateCorpus(String(name), seed, bytes, minLen, maxLen));
}
