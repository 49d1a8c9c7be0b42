// The Fine-tune panel's work in the worker, through the package's finetune() and Classifier: never on the page's
// thread. worker.ts spreads these handlers into its API.
import { classifyTasks, finetune, type Classifier, type FinetuneRun, type Model } from '../../js/src/index';
import type { ClassifyView, FinetuneProgressView, FinetuneRequest, FinetuneRunView, FinetuneSummaryView } from './finetune-protocol';

/** How the handlers reach the worker's current model. */
export interface FinetuneState {
  model(): Model | null;
  /** Whether the model's own training is running (fine-tuning then waits its turn). */
  training(): boolean;
}

export function finetuneHandlers(state: FinetuneState) {
  let controller: AbortController | null = null;
  /** The classifier fine-tuned from the encoder in the last finished run: the one "classify this text" asks. */
  let classifier: Classifier | null = null;

  const view = (run: FinetuneRun): FinetuneRunView => ({
    points: run.evals.map((e) => [e.step, e.valAccuracy]),
    accuracy: run.accuracy,
    elapsedMs: run.elapsedMs,
  });

  return {
    finetuneTasks: async () => classifyTasks(),

    finetune: async (request: FinetuneRequest, progress: (value: unknown) => void): Promise<FinetuneSummaryView> => {
      const encoder = state.model();
      if (!encoder) throw new Error('there is no model yet: train a masked-language model (an encoder) in the Training panel first');
      if (encoder.config.objective !== 'mlm') {
        throw new Error('the current model is causal (a decoder, trained on the next token): a classification head goes on an encoder. Choose the masked-language objective in the Model panel and train again');
      }
      if (controller) throw new Error('fine-tuning is already running: stop it first');
      if (state.training()) throw new Error('the model is training: pause it in the Training panel first');
      controller = new AbortController();
      let last = 0;
      try {
        const result = await finetune({
          encoder,
          task: request.task,
          steps: request.steps,
          evalInterval: request.evalInterval,
          trainExamples: request.trainExamples,
          valExamples: 128,
          batchSize: 16,
          seed: request.seed,
          signal: controller.signal,
          onProgress: (p) => {
            const now = performance.now();
            if (now - last < 50 && p.done !== p.total) return;
            last = now;
            progress({ kind: 'step', run: p.run, done: p.done, total: p.total } satisfies FinetuneProgressView);
          },
          onEval: (e) => progress({ kind: 'eval', run: e.run, step: e.step, valAccuracy: e.valAccuracy, valLoss: e.valLoss } satisfies FinetuneProgressView),
        });
        result.scratch?.classifier.dispose();
        classifier?.dispose();
        classifier = result.pretrained.classifier;
        return {
          task: result.task,
          classes: result.classes,
          steps: result.steps,
          chance: result.chance,
          pretrained: view(result.pretrained),
          scratch: view(result.scratch!),
          stopped: false,
        };
      } catch (error) {
        if (error instanceof Error && error.name === 'AbortError') {
          const empty = { points: [], accuracy: NaN, elapsedMs: 0 };
          return { task: request.task, classes: [], steps: request.steps, chance: NaN, pretrained: empty, scratch: empty, stopped: true };
        }
        throw error;
      } finally {
        controller = null;
      }
    },

    stopFinetune: async (): Promise<void> => {
      controller?.abort();
    },

    classifyText: async (text: string): Promise<ClassifyView> => {
      if (!classifier) throw new Error('there is no fine-tuned classifier yet: fine-tune the encoder first');
      const c = await classifier.classify(text);
      return { label: c.label, probs: c.probs, tokens: c.tokens, truncated: c.truncated };
    },
  };
}
