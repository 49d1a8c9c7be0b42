// The worker's seq2seq calls (an encoder-decoder on a built-in task, through the package's Seq2SeqModel), merged
// into CoreApi (protocol.ts). Kept apart so the decoder's protocol stays as it is.
import type { Seq2SeqEval } from '../../js/src/index';

export interface Seq2SeqTrainRequest {
  task: string;
  config: { nLayer: number; nHead: number; nEmbd: number };
  /** Input lengths of an algorithmic task; null: the task's defaults. */
  lengths: { min: number; max: number } | null;
  steps: number;
  batchSize: number;
  lr: number;
  evalInterval: number;
  seed: number;
  /** Continue the current model (same pairs and optimiser) instead of a new one. */
  resume: boolean;
}

export type Seq2SeqProgressView =
  | { kind: 'step'; step: number; loss: number; lr: number; elapsedMs: number }
  | { kind: 'eval'; eval: Seq2SeqEval };

export interface Seq2SeqInfo {
  task: string;
  paramCount: number;
  steps: number;
  blockSize: number;
  vocab: string;
  /** A few validation pairs, to start from. */
  examples: { source: string; target: string }[];
}

/** The attention maps of one (source, target) pair (the package's Seq2SeqAttention without its methods). */
export interface Seq2SeqAttentionView {
  source: string;
  target: string;
  nLayer: number;
  nHead: number;
  sourceTokens: string[];
  decoderTokens: string[];
  outputTokens: string[];
  sourceColumns: number;
  sourceLength: number;
  targetLength: number;
  /** (L, NH, Ss, Ss'), (L, NH, Tt, Tt), (L, NH, Tt, Ss') as in Seq2SeqAttention */
  encoder: Float32Array;
  decoder: Float32Array;
  cross: Float32Array;
}

export interface Seq2SeqApi {
  s2sTasks(): { name: string; description: string }[];
  /** Trains (a new model, or the current one with `resume`), sending Seq2SeqProgressView messages. */
  s2sTrain(request: Seq2SeqTrainRequest): { steps: number; stopped?: string };
  s2sPause(): void;
  s2sInfo(): Seq2SeqInfo | null;
  s2sTranslate(source: string, beam: number, lengthPenalty: number): string;
  /** The maps of `source` with `target` fed to the decoder (null: the model's greedy output). */
  s2sAttention(source: string, target: string | null): Seq2SeqAttentionView;
}
