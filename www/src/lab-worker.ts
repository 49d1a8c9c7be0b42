// The Lab panel's work in the worker, through the package's public API (distill, search, previewBatch): never
// on the page's thread. worker.ts spreads these handlers into its API.
import { distill, loadModel, overfit, search, type Model, type Tokenizer } from '../../js/src/index';
import type { DistillRequest, DistillSummaryView, LabProgress, OverfitRequest, OverfitSummary, PreviewRow, SearchRequest, TrialRecord } from './lab-protocol';
import type { AugmentOptions } from './lab-protocol';

/** How the handlers reach the worker's current model and tokenizer. */
export interface LabState {
  model(): Model | null;
  tokenizer(): Tokenizer | null;
  /** Whether the model's own training is running (the lab then waits its turn). */
  training(): boolean;
}

export function labHandlers(state: LabState) {
  let controller: AbortController | null = null;

  function needModel(): Model {
    const model = state.model();
    if (!model) throw new Error('there is no model yet: train one in the Training panel first (it is the teacher, and its tokenizer the data\u2019s)');
    return model;
  }

  function begin(): AbortController {
    if (controller) throw new Error('a lab run is already going: stop it first');
    if (state.training()) throw new Error('the model is training: pause it in the Training panel first');
    controller = new AbortController();
    return controller;
  }

  return {
    labPreview: async (text: string, augment: AugmentOptions, seed: number, batchSize: number): Promise<PreviewRow[]> => {
      const preview = needModel().previewBatch({ text, augment, seed, batchSize });
      return preview.rows.map((r) => ({ window: r.windowTokens, inputs: r.inputTokens, changed: r.changed }));
    },

    labDistill: async (request: DistillRequest, progress: (value: unknown) => void): Promise<DistillSummaryView> => {
      // A saved model as the teacher (its own tokenizer, or the current one when the file has none), held only
      // while the distillation runs; otherwise the current model.
      let loaded: Model | null = null;
      if (request.teacherBytes) {
        const current = state.tokenizer();
        loaded = await loadModel(request.teacherBytes, { backend: 'cpu' });
        if (!loaded.tokenizer && current) {
          loaded.dispose();
          loaded = await loadModel(request.teacherBytes, { backend: 'cpu', tokenizer: current });
        }
      }
      const teacher = loaded ?? needModel();
      let own: AbortController;
      try {
        own = begin();
      } catch (error) {
        loaded?.dispose();
        throw error;
      }
      try {
        const evalInterval = Math.max(1, Math.floor(request.steps / 10));
        let last = 0;
        const result = await distill({
          teacher,
          student: { ...request.student, blockSize: teacher.config.blockSize },
          alpha: request.alpha,
          temperature: request.temperature,
          steps: request.steps,
          batchSize: request.batchSize,
          lr: request.lr,
          seed: request.seed,
          evalInterval,
          text: request.text,
          signal: own.signal,
          onProgress: (p) => {
            const now = performance.now();
            if (now - last < 50 && p.done !== p.total) return;
            last = now;
            progress({ kind: 'step', run: p.run, done: p.done, total: p.total } satisfies LabProgress);
          },
          onEval: (e) => progress({ kind: 'eval', run: e.run, step: e.step, valLoss: e.valLoss } satisfies LabProgress),
        });
        result.student.dispose();
        const curve = (evals: { step: number; valLoss: number }[]): [number, number][] => evals.map((e) => [e.step, e.valLoss]);
        return {
          distilled: curve(result.distilled),
          baseline: curve(result.baseline),
          distilledValLoss: result.distilledValLoss,
          baselineValLoss: result.baselineValLoss,
          improvement: result.improvement,
        };
      } finally {
        controller = null;
        loaded?.dispose();
      }
    },

    labSearch: async (request: SearchRequest, progress: (value: unknown) => void): Promise<{ records: TrialRecord[]; stopped: boolean }> => {
      const tokenizer = state.tokenizer();
      if (!tokenizer) throw new Error('there is no tokenizer yet: train one in the Tokenizer panel first');
      const own = begin();
      try {
        const result = await search({
          space: request.space,
          trials: request.trials,
          steps: request.steps,
          seed: request.seed,
          tokenizer,
          text: request.text,
          config: request.config,
          batchSize: request.batchSize,
          evalBatches: 4,
          done: request.done,
          signal: own.signal,
          onTrial: (record, p) => progress({ kind: 'trial', record, done: p.done, total: p.total } satisfies LabProgress),
        });
        return { records: result.records, stopped: false };
      } catch (error) {
        if (error instanceof Error && error.name === 'AbortError') return { records: [], stopped: true };
        throw error;
      } finally {
        controller = null;
      }
    },

    labOverfit: async (request: OverfitRequest, progress: (value: unknown) => void): Promise<OverfitSummary[]> => {
      const tokenizer = state.tokenizer();
      if (!tokenizer) throw new Error('there is no tokenizer yet: train one in the Tokenizer panel first');
      const chars = [...request.text];
      if (chars.length < request.trainChars + request.valChars) {
        throw new Error(`the text has ${chars.length} characters: the demo needs ${request.trainChars} to train on and ${request.valChars} other ones to validate on`);
      }
      // Token ids now: the tokenizer may be replaced while the runs go on.
      const tokens = tokenizer.encode(chars.slice(0, request.trainChars).join(''));
      const valTokens = tokenizer.encode(chars.slice(chars.length - request.valChars).join(''));
      const own = begin();
      try {
        const result = await overfit({
          tokens,
          valTokens,
          config: { ...request.config, vocabSize: tokenizer.vocabSize },
          steps: request.steps,
          evalInterval: request.evalInterval,
          batchSize: 16,
          lr: 3e-3,
          warmupSteps: 20,
          evalBatches: 4,
          signal: own.signal,
          onPoint: (point) => progress({ kind: 'overfit', point } satisfies LabProgress),
        });
        return result.summaries;
      } finally {
        controller = null;
      }
    },

    labStop: async (): Promise<void> => {
      controller?.abort();
    },
  };
}
