// The one place that knows the names of the core's model bindings (crate/src/wasm/model.rs: `CpuModel`; a
// `GpuModel` with the same surface later). The worker's loops and the page only see protocol.ts. Every call
// checks that the binding has the method, so a build whose model API differs fails with a sentence naming
// what is missing, not a crash.
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
export interface AttentionCapture {
  n_layer: number;
  n_head: number;
  t: number;
  /** (L, NH, T, T) */
  att: number[];
}
export interface HeadDetail {
  layer: number;
  head: number;
  query: number;
  head_size: number;
  scale: number;
  q: number[];
  /** (T, hs) */
  keys: number[];
  values: number[];
  raw_scores: number[];
  scaled_scores: number[];
  visible: boolean[];
  weights: number[];
  output: number[];
}
export interface TopTokens {
  position: number;
  tokens: number[];
  probs: number[];
}
export interface Inspection {
  tokens: number[];
  top_k: TopTokens[];
}
export interface EmbeddingCapture {
  vocab_size: number;
  n_embd: number;
  wte: number[];
  positions?: number[];
}
export interface SampleOptions {
  max_tokens: number;
  temperature: number;
  top_k: number;
  top_p: number;
  seed: number;
}

/** What the worker needs from a model. Training may be asynchronous (the GPU model reads back its loss). */
export interface ModelHandle {
  readonly backend: 'cpu' | 'webgpu';
  readonly paramCount: number;
  readonly configJson: string;
  configure(options: CoreTrainOptions, train: Uint32Array, val: Uint32Array): void;
  step(): StepStats | Promise<StepStats>;
  evaluate(): EvalStats | Promise<EvalStats>;
  generate(prompt: Uint32Array, options: SampleOptions): Uint32Array;
  inspect(tokens: Uint32Array, k: number): Inspection;
  attention(tokens: Uint32Array): AttentionCapture;
  attentionDetail(tokens: Uint32Array, layer: number, head: number, query: number): HeadDetail;
  embeddings(): EmbeddingCapture;
  saveSafetensors(tokenizerJson: string | undefined): Uint8Array;
  readonly tokenizerJson: string | undefined;
  /** The current weights, flat, in nanoGPT's order (the same order on both backends). */
  params(): Float32Array | Promise<Float32Array>;
  /** Replaces the weights (a snapshot, or another backend's model); the next `configure` starts a new run. */
  setParams(params: Float32Array): void;
  free(): void;
}

type Binding = Record<string, unknown>;
type BindingClass = (new (config: string, seed: number) => Binding) & { loadSafetensors?: (bytes: Uint8Array) => Binding };

function method(target: Binding, name: string): (...args: unknown[]) => unknown {
  const fn = target[name];
  if (typeof fn !== 'function') {
    throw new Error(`this build of the core's model has no ${name}(): the page and the core disagree; rebuild both from one checkout`);
  }
  return (fn as (...args: unknown[]) => unknown).bind(target);
}

function wrap(model: Binding): ModelHandle {
  return {
    backend: 'cpu',
    get paramCount() {
      return Number(model.paramCount);
    },
    get configJson() {
      return String(method(model, 'configJson')());
    },
    configure: (options, train, val) => void method(model, 'setTrainingData')(train, val, JSON.stringify(options)),
    step: () => method(model, 'step')() as StepStats,
    evaluate: () => method(model, 'evaluate')() as EvalStats,
    generate: (prompt, options) => method(model, 'generate')(prompt, JSON.stringify(options)) as Uint32Array,
    inspect: (tokens, k) => method(model, 'inspect')(tokens, k) as Inspection,
    attention: (tokens) => method(model, 'attention')(tokens) as AttentionCapture,
    attentionDetail: (tokens, layer, head, query) => method(model, 'attentionDetail')(tokens, layer, head, query) as HeadDetail,
    embeddings: () => method(model, 'embeddings')() as EmbeddingCapture,
    saveSafetensors: (tokenizerJson) => method(model, 'saveSafetensors')(tokenizerJson) as Uint8Array,
    get tokenizerJson() {
      const value = model.tokenizerJson;
      return typeof value === 'string' ? value : undefined;
    },
    params: () => method(model, 'params')() as Float32Array,
    setParams: (params) => void method(model, 'setParams')(params),
    free: () => (typeof model.free === 'function' ? (model.free as () => void).call(model) : undefined),
  };
}

/** A new model: `new CpuModel(configJson, seed)`. */
export function openModel(ModelClass: unknown, config: CoreModelConfig, seed: number): ModelHandle {
  if (typeof ModelClass !== 'function') throw new Error('the model is not in this build of the core yet');
  return wrap(new (ModelClass as BindingClass)(JSON.stringify(config), seed >>> 0));
}

/** A model from safetensors bytes: `CpuModel.loadSafetensors(bytes)`. */
export function loadModel(ModelClass: unknown, bytes: Uint8Array): ModelHandle {
  if (typeof ModelClass !== 'function') throw new Error('the model is not in this build of the core yet');
  const load = (ModelClass as BindingClass).loadSafetensors;
  if (typeof load !== 'function') throw new Error("this build of the core's model cannot load safetensors");
  return wrap(load.call(ModelClass, bytes));
}

/** A new model on the WebGPU device `gpu`: `new GpuModel(gpu, configJson, seed)` (crate/src/wasm/gpu_model.rs).
 *  It trains there (`setTrainingData`, async `step`, `evaluate`). Generation, captures and safetensors run on a
 *  CPU twin of the weights, made by `sync()`: the weights are read back (`params()`) and handed to a CPU model
 *  (`setParams`). Both models lay out their weights in nanoGPT's order; the first sync checks it: the untrained
 *  weights of the same seed must be equal on both, value for value, or the copy is refused. */
export function openGpuModel(
  GpuModelClass: unknown,
  CpuModelClass: unknown,
  gpu: unknown,
  config: CoreModelConfig,
  seed: number,
  paramCount: number,
): ModelHandle & { sync(): Promise<void> } {
  if (typeof GpuModelClass !== 'function') throw new Error('the WebGPU model is not in this build of the core yet');
  type GpuClass = new (gpu: unknown, config: string, seed: number) => Binding;
  const model = new (GpuModelClass as GpuClass)(gpu, JSON.stringify(config), seed >>> 0);
  let twin: ModelHandle | null = null;
  let layoutChecked = false;
  const viaTwin = <K extends keyof ModelHandle>(what: string, key: K) =>
    ((...args: unknown[]) => {
      if (!twin) throw new Error(`${what} needs the weights on the CPU; train a step first (or choose “CPU” in Run on).`);
      return (twin[key] as (...a: unknown[]) => unknown)(...args);
    }) as ModelHandle[K];
  const checkLayout = async (cpu: ModelHandle) => {
    const fresh = new (GpuModelClass as GpuClass)(gpu, JSON.stringify(config), seed >>> 0);
    try {
      const onGpu = (await method(fresh, 'params')()) as Float32Array;
      const onCpu = cpu.params() as Float32Array;
      if (onGpu.length !== onCpu.length || onGpu.some((x, i) => x !== onCpu[i])) {
        throw new Error('the GPU and CPU models lay out their weights differently in this build');
      }
    } finally {
      if (typeof fresh.free === 'function') (fresh.free as () => void).call(fresh);
    }
  };
  return {
    backend: 'webgpu',
    paramCount,
    configJson: JSON.stringify(config),
    configure: (options, train, val) => void method(model, 'setTrainingData')(train, val, JSON.stringify(options)),
    step: () => method(model, 'step')() as Promise<StepStats>,
    evaluate: () => method(model, 'evaluate')() as Promise<EvalStats>,
    generate: viaTwin('Generation', 'generate'),
    inspect: viaTwin('Inspection', 'inspect'),
    attention: viaTwin('Attention', 'attention'),
    attentionDetail: viaTwin('Attention', 'attentionDetail'),
    embeddings: viaTwin('The embeddings map', 'embeddings'),
    saveSafetensors: viaTwin('Saving', 'saveSafetensors'),
    tokenizerJson: undefined,
    params: () => method(model, 'params')() as Promise<Float32Array>,
    setParams: (params) => void method(model, 'setParams')(params),
    async sync() {
      if (typeof CpuModelClass !== 'function') return;
      const cpu = twin ?? openModel(CpuModelClass, config, seed);
      try {
        if (!layoutChecked) {
          await checkLayout(cpu);
          layoutChecked = true;
        }
        cpu.setParams((await method(model, 'params')()) as Float32Array);
        twin = cpu;
      } catch (error) {
        if (cpu !== twin) cpu.free();
        throw error;
      }
    },
    free: () => {
      twin?.free();
      twin = null;
      if (typeof model.free === 'function') (model.free as () => void).call(model);
    },
  };
}
