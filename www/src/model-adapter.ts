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

/** The flat parameter order of the core's models (nanoGPT's named_parameters), as [name, length]. */
function flatOrder(config: CoreModelConfig): [string, number][] {
  const { vocab_size: V, n_embd: C, block_size: T, n_layer: L, ffn_mult } = config;
  const F = ffn_mult * C;
  const order: [string, number][] = [['transformer.wte.weight', V * C]];
  if (config.positional === 'learned') order.push(['transformer.wpe.weight', T * C]);
  for (let l = 0; l < L; l++) {
    const h = `transformer.h.${l}.`;
    order.push(
      [`${h}ln_1.weight`, C], [`${h}ln_1.bias`, C],
      [`${h}attn.c_attn.weight`, 3 * C * C], [`${h}attn.c_attn.bias`, 3 * C],
      [`${h}attn.c_proj.weight`, C * C], [`${h}attn.c_proj.bias`, C],
      [`${h}ln_2.weight`, C], [`${h}ln_2.bias`, C],
      [`${h}mlp.c_fc.weight`, F * C], [`${h}mlp.c_fc.bias`, F],
      [`${h}mlp.c_proj.weight`, C * F], [`${h}mlp.c_proj.bias`, C],
    );
  }
  order.push(['transformer.ln_f.weight', C], ['transformer.ln_f.bias', C]);
  return order;
}

/** Copies flat weights into a safetensors file laid out like `template` (same config), so a CPU model can
 *  import weights trained on the GPU. `lm_head.weight` is tied to wte. */
function fillSafetensors(template: Uint8Array, config: CoreModelConfig, params: Float32Array): Uint8Array {
  const out = template.slice();
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(out.subarray(8, 8 + headerLength))) as Record<string, { data_offsets: [number, number] }>;
  const base = 8 + headerLength;
  let offset = 0;
  const write = (name: string, from: number, length: number) => {
    const entry = header[name];
    if (!entry || entry.data_offsets[1] - entry.data_offsets[0] !== 4 * length) throw new Error(`the layout of ${name} is not the expected one`);
    for (let i = 0; i < length; i++) view.setFloat32(base + entry.data_offsets[0] + 4 * i, params[from + i], true);
  };
  for (const [name, length] of flatOrder(config)) {
    write(name, offset, length);
    if (name === 'transformer.wte.weight' && header['lm_head.weight']) write('lm_head.weight', offset, length);
    offset += length;
  }
  if (offset !== params.length) throw new Error(`expected ${offset} parameters, got ${params.length}`);
  return out;
}

/** A new model on the WebGPU device `gpu`: `new GpuModel(gpu, configJson, seed)` (crate/src/wasm/gpu_model.rs).
 *  It trains there (`setTrainingData`, async `step`, `evaluate`). Generation, captures and safetensors run on a
 *  CPU copy of the weights, made by `sync()` after a run: the weights are read back (`params()`), written into
 *  the CPU model's safetensors layout, and imported. The layout is checked first: the untrained weights of the
 *  same seed must give exactly the CPU model's own file, byte for byte, or the copy is refused. */
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
  const viaTwin = <K extends keyof ModelHandle>(what: string, key: K) =>
    ((...args: unknown[]) => {
      if (!twin) throw new Error(`${what} needs the weights on the CPU; train a step first (or choose “CPU” in Run on).`);
      return (twin[key] as (...a: unknown[]) => unknown)(...args);
    }) as ModelHandle[K];
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
    async sync() {
      if (typeof CpuModelClass !== 'function') return;
      const cpu = new (CpuModelClass as BindingClass)(JSON.stringify(config), seed >>> 0);
      try {
        const template = method(cpu, 'saveSafetensors')(undefined) as Uint8Array;
        const fresh = new (GpuModelClass as GpuClass)(gpu, JSON.stringify(config), seed >>> 0);
        const initial = (await method(fresh, 'params')()) as Float32Array;
        if (typeof fresh.free === 'function') (fresh.free as () => void).call(fresh);
        const check = fillSafetensors(template, config, initial);
        if (check.length !== template.length || check.some((b, i) => b !== template[i])) {
          throw new Error('the GPU and CPU models lay out their weights differently in this build');
        }
        const trained = (await method(model, 'params')()) as Float32Array;
        method(cpu, 'importSafetensors')(fillSafetensors(template, config, trained));
        twin?.free();
        twin = wrap(cpu);
      } catch (error) {
        if (typeof cpu.free === 'function') (cpu.free as () => void).call(cpu);
        throw error;
      }
    },
    free: () => {
      twin?.free();
      if (typeof model.free === 'function') (model.free as () => void).call(model);
    },
  };
}
