// Hugging Face directories in the Save & load panel: import a GPT-2 directory by picking or dropping its files
// (config.json, model.safetensors, tokenizer.json), export the current model as those files, and the LoRA adapter
// alone in PEFT's format. The checks and their messages are the core's (crate/src/io/hf.rs, through the
// package's Model.loadHuggingFace / saveHuggingFace / saveAdapter); the page reads the files and shows the result.
import { h } from '../dom';
import { type Ctx, download } from '../ctx';
import { errorSentence, formatBytes } from '../format';
import type { ModelInfo } from '../protocol';

/** Pickled checkpoints are refused by the core by their name; their bytes are never read. */
const PICKLE = /\.(bin|pt|pth|ckpt|pkl)$/i;
/** More than a tab can hold as one model (GPT-2 medium in f32 is 1.4 GiB). */
const MAX_BYTES = 2 * 2 ** 30;

declare global {
  interface Window {
    /** The names of the files the last export offered (tests). */
    tpHfExport?: string[];
  }
}

/** The files of a dropped folder (one level) or the dropped files themselves. */
async function droppedFiles(data: DataTransfer): Promise<File[]> {
  const entries = [...data.items].map((item) => item.webkitGetAsEntry?.()).filter((e): e is FileSystemEntry => !!e);
  if (entries.length === 0 || !entries.some((e) => e.isDirectory)) return [...data.files];
  const files: File[] = [];
  const fileOf = (entry: FileSystemFileEntry) => new Promise<File>((resolve, reject) => entry.file(resolve, reject));
  for (const entry of entries) {
    if (entry.isFile) files.push(await fileOf(entry as FileSystemFileEntry));
    else {
      const reader = (entry as FileSystemDirectoryEntry).createReader();
      const children = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
      for (const child of children) if (child.isFile) files.push(await fileOf(child as FileSystemFileEntry));
    }
  }
  return files;
}

const layers = (n: number) => `${n} layer${n === 1 ? '' : 's'}`;

export function hfSection(ctx: Ctx): HTMLElement {
  const input = h('input', { type: 'file', id: 'load-hf', multiple: true, accept: '.json,.safetensors,.bin,.pt,.pth' });
  const drop = h(
    'div',
    { class: 'dropzone', id: 'hf-drop' },
    'Drop the files of a Hugging Face GPT-2 directory here (config.json, model.safetensors, tokenizer.json; or the folder), or ',
    h('label', { for: 'load-hf', class: 'linkish' }, 'choose the files'),
    input,
  );
  const progress = h('progress', { id: 'hf-progress', hidden: true, 'aria-label': 'import progress' });
  const progressText = h('span', { id: 'hf-progress-text', class: 'hint' });
  const message = h('p', { class: 'message', id: 'hf-message', role: 'status', 'aria-live': 'polite' });
  const saveHf = h('button', { type: 'button', id: 'save-hf', disabled: true }, 'Download as Hugging Face files');
  const saveAdapter = h('button', { type: 'button', id: 'save-adapter', disabled: true }, 'Download the LoRA adapter (PEFT)');
  const say = (text: string, kind: 'ok' | 'error' = 'ok') => {
    message.textContent = text;
    message.dataset.kind = kind;
    message.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  };
  let busy = false;
  const showBusy = (text: string | null) => {
    busy = text !== null;
    progress.hidden = !busy;
    progressText.textContent = text ?? '';
    input.disabled = busy;
    syncButtons(ctx.store.modelInfo);
  };
  const syncButtons = (info: ModelInfo | null) => {
    saveHf.disabled = busy || !info || ctx.store.training;
    saveAdapter.disabled = busy || !info || ctx.store.training || info.trainable === undefined || info.trainable >= info.paramCount;
  };

  const importFiles = async (files: File[]) => {
    if (busy || files.length === 0) return;
    const names = files.map((f) => f.name);
    try {
      const total = files.filter((f) => !PICKLE.test(f.name)).reduce((sum, f) => sum + f.size, 0);
      if (total > MAX_BYTES) throw new Error(`the files hold ${formatBytes(total)}, more than this page can load (at most ${formatBytes(MAX_BYTES)}).`);
      showBusy(`reading ${files.length} file${files.length === 1 ? '' : 's'} (${formatBytes(total)})…`);
      const bytes: Record<string, Uint8Array> = {};
      for (const file of files) bytes[file.name] = PICKLE.test(file.name) ? new Uint8Array(0) : new Uint8Array(await file.arrayBuffer());
      showBusy('checking the directory and building the model…');
      const info = await ctx.core.call('importHuggingFace', bytes);
      let tokenizerNote = '';
      if (info.tokenizerJson) {
        const summary = await ctx.core.call('loadTokenizer', info.tokenizerJson, ctx.store.corpus?.text ?? '');
        ctx.store.set('tokenizer', { options: { kind: summary.kind, vocabSize: summary.vocabSize, pattern: summary.pattern ?? 'none' }, summary, json: info.tokenizerJson });
        tokenizerNote = `, with its tokenizer (${summary.vocabSize.toLocaleString('en-US')} tokens)`;
      }
      const { tokenizerJson: _json, ...rest } = info;
      ctx.store.set('phases', []);
      ctx.store.set('modelInfo', rest);
      const c = info.config;
      say(
        `Imported a GPT-2 model: ${info.paramCount.toLocaleString('en-US')} parameters (${layers(c.nLayer)}, ${c.nHead} heads, d_model ${c.nEmbd}, ` +
          `context ${c.blockSize}, vocabulary ${c.vocabSize.toLocaleString('en-US')})${tokenizerNote}. Generate from it, look inside it, ` +
          'or fine-tune it in Training (with LoRA, only small adapters train).',
      );
    } catch (error) {
      say(`The Hugging Face files (${names.join(', ')}) did not import: ${errorSentence(error)} The current model is unchanged.`, 'error');
    } finally {
      showBusy(null);
    }
  };

  const offer = async (what: string, method: 'exportHuggingFace' | 'exportAdapter', after: string) => {
    if (busy) return;
    showBusy(`preparing ${what}…`);
    try {
      const files = await ctx.core.call(method);
      const names = Object.keys(files);
      for (const name of names) download(name, files[name] as Uint8Array<ArrayBuffer>, name.endsWith('.json') ? 'application/json' : 'application/octet-stream');
      window.tpHfExport = names;
      const size = Object.values(files).reduce((sum, b) => sum + b.byteLength, 0);
      say(`Saved ${what}: ${names.join(', ')} (${formatBytes(size)}). ${after}`);
    } catch (error) {
      say(`Could not save ${what}: ${errorSentence(error)}`, 'error');
    } finally {
      showBusy(null);
    }
  };
  saveHf.addEventListener('click', () =>
    void offer('the model as a Hugging Face directory', 'exportHuggingFace', 'Put the files in one folder: AutoModelForCausalLM.from_pretrained(folder) and AutoTokenizer.from_pretrained(folder) load it (LoRA adapters are merged in).'),
  );
  saveAdapter.addEventListener('click', () =>
    void offer('the LoRA adapter', 'exportAdapter', 'Put the files in one folder: PeftModel.from_pretrained(base_model, folder) loads it onto the base model.'),
  );
  input.addEventListener('change', () => {
    const files = [...(input.files ?? [])];
    input.value = '';
    void importFiles(files);
  });
  drop.addEventListener('dragover', (event) => {
    event.preventDefault();
    event.stopPropagation();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (event) => {
    event.preventDefault();
    event.stopPropagation();
    drop.classList.remove('over');
    if (event.dataTransfer) void droppedFiles(event.dataTransfer).then(importFiles, (error) => say(`The dropped files could not be read: ${errorSentence(error)}`, 'error'));
  });
  ctx.store.on('modelInfo', syncButtons);
  ctx.store.on('training', () => syncButtons(ctx.store.modelInfo));
  syncButtons(ctx.store.modelInfo);
  return h(
    'div',
    { id: 'hf-section' },
    h('h3', {}, 'Hugging Face'),
    h(
      'p',
      { class: 'explain' },
      'Bring in a GPT-2-family model saved by transformers (save_pretrained), and take yours out the same way. ' +
        'Pickle checkpoints (pytorch_model.bin) are never opened, since unpickling runs code: convert them to ' +
        'model.safetensors first. The adapter alone is the LoRA part of a LoRA fine-tune, in PEFT’s format.',
    ),
    drop,
    h('div', { class: 'row' }, progress, progressText),
    h('div', { class: 'row' }, saveHf, saveAdapter),
    message,
  );
}
