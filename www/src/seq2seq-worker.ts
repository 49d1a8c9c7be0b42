// The worker's side of the Seq2seq panel: one encoder-decoder (the package's Seq2SeqModel, on the CPU), its
// training with the validation metrics, decoding and attention maps. worker.ts adds these handlers to its API.
import { createModel, type Seq2SeqModel, type Seq2SeqTaskName, seq2seqTasks } from '../../js/src/index';
import type { Seq2SeqApi, Seq2SeqAttentionView, Seq2SeqInfo, Seq2SeqProgressView, Seq2SeqTrainRequest } from './seq2seq-protocol';

let model: Seq2SeqModel | null = null;
let controller: AbortController | null = null;

function need(): Seq2SeqModel {
  if (!model) throw new Error('there is no encoder-decoder yet: pick a task and press Train');
  return model;
}

function info(m: Seq2SeqModel): Seq2SeqInfo {
  return { task: m.task, paramCount: m.paramCount, steps: m.stepCount, blockSize: m.config.blockSize, vocab: m.vocab, examples: m.pairs({ n: 4 }) };
}

async function train(request: Seq2SeqTrainRequest, progress: (value: unknown) => void): Promise<{ steps: number; stopped?: string }> {
  if (controller) throw new Error('the encoder-decoder is already training: pause it first');
  if (!request.resume || !model) {
    const next = await createModel({
      config: { objective: 'seq2seq', ...request.config },
      task: request.task as Seq2SeqTaskName,
      lengths: request.lengths ?? undefined,
      seed: request.seed,
      valPairs: 32,
      backend: 'cpu',
    });
    model?.dispose();
    model = next;
  }
  const active = model;
  controller = new AbortController();
  const steps = Math.max(0, request.steps - active.stepCount);
  let lastPost = 0;
  try {
    await active.train({
      steps,
      scheduleSteps: request.steps,
      batchSize: request.batchSize,
      lr: request.lr,
      evalInterval: request.evalInterval,
      signal: controller.signal,
      onProgress: (p) => {
        const now = performance.now();
        // About 25 messages a second at most; every evaluation and the last step always go.
        if (now - lastPost >= 40 || p.done === p.total || p.eval) {
          lastPost = now;
          progress({ kind: 'step', step: p.step, loss: p.loss, lr: p.lr, elapsedMs: p.elapsedMs } satisfies Seq2SeqProgressView);
        }
        if (p.eval) progress({ kind: 'eval', eval: p.eval } satisfies Seq2SeqProgressView);
      },
    });
    return { steps: active.stepCount };
  } catch (error) {
    if (error instanceof Error && error.name === 'AbortError') return { steps: active.stepCount, stopped: 'paused' };
    throw error;
  } finally {
    controller = null;
  }
}

async function attention(source: string, target: string | null): Promise<Seq2SeqAttentionView> {
  const m = need();
  const out = target ?? (await m.translate(source));
  const a = await m.attention(source, out);
  return {
    source,
    target: out,
    nLayer: a.nLayer,
    nHead: a.nHead,
    sourceTokens: a.sourceTokens,
    decoderTokens: a.decoderTokens,
    outputTokens: a.outputTokens,
    sourceColumns: a.sourceColumns,
    sourceLength: a.sourceLength,
    targetLength: a.targetLength,
    encoder: a.encoder,
    decoder: a.decoder,
    cross: a.cross,
  };
}

type Handlers = { [K in keyof Seq2SeqApi]: (...args: [...Parameters<Seq2SeqApi[K]>, (value: unknown) => void]) => Promise<ReturnType<Seq2SeqApi[K]>> };

export const seq2seqHandlers: Handlers = {
  s2sTasks: () => seq2seqTasks(),
  s2sTrain: train,
  s2sPause: async () => controller?.abort(),
  s2sInfo: async () => (model ? info(model) : null),
  s2sTranslate: (source, beam, lengthPenalty) => need().translate(source, { beam, lengthPenalty }),
  s2sAttention: attention,
};
