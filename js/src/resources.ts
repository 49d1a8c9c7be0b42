// A count of the live objects that hold memory inside the core (or on the GPU), so that tests and pages can
// check that what they dispose is really gone.

export type ResourceKind = 'tokenizer' | 'model' | 'gpu';

const live: Record<ResourceKind, number> = { tokenizer: 0, model: 0, gpu: 0 };

/** How many tokenizers, models and GPU devices are alive (created and not yet disposed). */
export function resourceCount(): Readonly<Record<ResourceKind, number>> {
  return { ...live };
}

/** @internal */
export function track(kind: ResourceKind, delta: 1 | -1): void {
  live[kind] += delta;
}
