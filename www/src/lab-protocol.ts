// The Lab panel's messages to the worker (distillation, hyperparameter search, an augmented batch as text). The
// worker's CoreApi includes these; the handlers are in lab-worker.ts, the panel in panels/lab.ts.
import type { AugmentOptions, OverfitPoint, OverfitSummary, SearchSpace, TrialRecord } from '../../js/src/index';

export type { AugmentOptions, OverfitPoint, OverfitSummary, SearchSpace, TrialRecord };

/** A row of an augmented batch as the page shows it: each token as text. */
export interface PreviewRow {
  window: string[];
  inputs: string[];
  changed: number;
}

export interface DistillRequest {
  /** A saved model (safetensors, as Save & load downloads it) as the teacher; without it the current model. */
  teacherBytes?: Uint8Array;
  /** The student's shape; its context and vocabulary are the teacher's. */
  student: { nLayer: number; nHead: number; nEmbd: number };
  alpha: number;
  temperature: number;
  steps: number;
  batchSize: number;
  lr: number;
  seed: number;
  text: string;
}

/** Progress of a lab run: a step of one of the runs, an evaluation, (search) a finished trial, or (overfitting
 *  demo) an evaluation of one variant. */
export type LabProgress =
  | { kind: 'step'; run: string; done: number; total: number }
  | { kind: 'eval'; run: 'distilled' | 'baseline'; step: number; valLoss: number }
  | { kind: 'trial'; record: TrialRecord; done: number; total: number }
  | { kind: 'overfit'; point: OverfitPoint };

/** The overfitting demo: the current model's shape trained on the first `trainChars` characters of the text,
 *  validated on its last `valChars` (unseen), once per variant. */
export interface OverfitRequest {
  text: string;
  trainChars: number;
  valChars: number;
  steps: number;
  evalInterval: number;
  config: { nLayer: number; nHead: number; nEmbd: number; blockSize: number };
}

export interface DistillSummaryView {
  distilled: [number, number][];
  baseline: [number, number][];
  distilledValLoss: number;
  baselineValLoss: number;
  improvement: number;
}

export interface SearchRequest {
  space: SearchSpace;
  trials: number;
  steps: number;
  seed: number;
  /** The base shape (what the space leaves out). */
  config: { nLayer: number; nHead: number; nEmbd: number; blockSize: number };
  batchSize: number;
  text: string;
  /** Records of trials already finished (a resumed search). */
  done: TrialRecord[];
}

export interface LabApi {
  /** The first training batch of the current model's run with `augment`, as text. */
  labPreview(text: string, augment: AugmentOptions, seed: number, batchSize: number): PreviewRow[];
  /** Distils the current model into a student beside the same student without it (progress: LabProgress). */
  labDistill(request: DistillRequest): DistillSummaryView;
  /** A search, resumed from `request.done` (progress: a 'trial' per finished trial). */
  labSearch(request: SearchRequest): { records: TrialRecord[]; stopped: boolean };
  /** The overfitting demo (progress: an 'overfit' point per evaluation): each variant's final losses and gap. */
  labOverfit(request: OverfitRequest): OverfitSummary[];
  /** Stops the running lab job after its current step (a search's unfinished trial runs again when resumed). */
  labStop(): void;
}
