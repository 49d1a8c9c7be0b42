// The one place that knows the names of the core's model bindings (CpuModel now, GpuModel later). The worker's
// training loop and the page only see the protocol in protocol.ts. Every call checks that the binding has the
// method, so a build whose model API differs fails with a sentence naming what is missing, not a crash.
import type { CoreModelConfig, CoreTrainOptions } from './protocol';

export interface StepStats {
  step: number;
  loss: number;
  lr: number;
  grad_norm: number;
  tokens: number;
}
export interface EvalStats {
  step: number;
  val_loss: number;
  val_ppl: number;
}

/** What the training loop needs from a model. */
export interface Trainable {
  readonly paramCount: number;
  configure(options: CoreTrainOptions, train: Uint32Array, val: Uint32Array): void;
  step(): StepStats;
  evaluate(): EvalStats;
  free(): void;
}

type Binding = Record<string, unknown>;
type BindingClass = new (configJson: string, seed: number) => Binding;

function method(target: Binding, name: string): (...args: unknown[]) => unknown {
  const fn = target[name];
  if (typeof fn !== 'function') throw new Error(`this build of the core's model has no ${name}(): the page and the core disagree; rebuild both from one checkout`);
  return (fn as (...args: unknown[]) => unknown).bind(target);
}

/** Wraps the core's `CpuModel` (expected: `new CpuModel(configJson, seed)`, `paramCount`,
 *  `setTraining(optionsJson, train, val)`, `step()`, `evaluate()`, `free()`). */
export function openModel(ModelClass: unknown, config: CoreModelConfig, seed: number): Trainable {
  if (typeof ModelClass !== 'function') throw new Error('the model is not in this build of the core yet');
  const model = new (ModelClass as BindingClass)(JSON.stringify(config), seed);
  return {
    get paramCount() {
      return Number(model.paramCount);
    },
    configure: (options, train, val) => void method(model, 'setTraining')(JSON.stringify(options), train, val),
    step: () => method(model, 'step')() as StepStats,
    evaluate: () => method(model, 'evaluate')() as EvalStats,
    free: () => (typeof model.free === 'function' ? (model.free as () => void)() : undefined),
  };
}
