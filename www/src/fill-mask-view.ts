// The Fill the mask panel's work, in the worker: the package's Model.fillMask and Model.attention of the same
// tokens, in the form the page shows (see protocol.ts FillMaskView).
import { MASK_TOKEN, type Model } from '../../js/src/index';
import type { FillMaskView } from './protocol';

export async function fillMaskView(model: Model, text: string, topK: number): Promise<FillMaskView> {
  const tokenizer = model.tokenizer;
  if (!tokenizer) throw new Error('the model has no tokenizer: train one in the Tokenizer panel first');
  if (text.trim() === '') throw new Error('the text is empty: type something first');
  const mlm = model.config.objective === 'mlm';
  let ids: Uint32Array;
  let masks: FillMaskView['masks'] = [];
  const raw = (id: number) => (mlm && id === model.config.vocabSize - 1 ? MASK_TOKEN : tokenizer.decode([id]));
  if (!mlm || text.includes(MASK_TOKEN)) {
    // The package says what is wrong (a causal model has no [MASK], a text longer than the context).
    const result = await model.fillMask(text, { topK });
    ids = result.ids;
    masks = result.masks.map((m) => ({
      position: m.position,
      predictions: m.predictions.map((p) => ({ text: p.text, raw: raw(p.id), prob: p.prob })),
    }));
  } else {
    ids = tokenizer.encode(text);
    const t = model.config.blockSize;
    if (ids.length > t) throw new Error(`the text is ${ids.length} tokens, more than the model's context of ${t}: shorten it`);
  }
  const maps = await model.attention(ids);
  return {
    tokens: maps.tokens.map((t) => t.text),
    raw: Array.from(ids, raw),
    masks,
    attention: { nLayer: maps.nLayer, nHead: maps.nHead, t: maps.t, att: Array.from(maps.att) },
  };
}
