// The Fine-tune panel's messages to the worker: a classification head on the current masked-language model,
// trained on a built-in labelled task beside the same model from new weights, and the class probabilities of a
// text. The worker's CoreApi includes these; the handlers are in finetune-worker.ts, the panel in panels/finetune.ts.
import type { ClassifyTaskInfo, FinetuneRunName } from '../../js/src/index';

export type { ClassifyTaskInfo, FinetuneRunName };

export interface FinetuneRequest {
  task: string;
  /** Steps of each run. */
  steps: number;
  evalInterval: number;
  /** Labelled training passages. */
  trainExamples: number;
  seed: number;
}

/** A step of one run, or an evaluation of one run. */
export type FinetuneProgressView =
  | { kind: 'step'; run: FinetuneRunName; done: number; total: number }
  | { kind: 'eval'; run: FinetuneRunName; step: number; valAccuracy: number; valLoss: number };

export interface FinetuneRunView {
  /** (step, validation accuracy) at every evaluation. */
  points: [number, number][];
  accuracy: number;
  elapsedMs: number;
}

export interface FinetuneSummaryView {
  task: string;
  classes: string[];
  steps: number;
  chance: number;
  pretrained: FinetuneRunView;
  scratch: FinetuneRunView;
  /** Stop was pressed: the runs ended early and nothing was kept. */
  stopped: boolean;
}

/** The fine-tuned classifier's answer for a text. */
export interface ClassifyView {
  label: string;
  probs: { label: string; prob: number }[];
  tokens: number;
  truncated: boolean;
}

export interface FinetuneApi {
  /** The built-in labelled tasks. */
  finetuneTasks(): ClassifyTaskInfo[];
  /** Fine-tunes the current model (an encoder) and the same model from new weights; progress messages as they go. */
  finetune(request: FinetuneRequest): FinetuneSummaryView;
  /** Stops a running fine-tuning after its current step. */
  stopFinetune(): void;
  /** The last fine-tuned classifier's class probabilities of `text`. */
  classifyText(text: string): ClassifyView;
}
