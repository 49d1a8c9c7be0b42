// Hugging Face files and LoRA in the page: transformers' tiny GPT-2 directory (crate/tests/fixtures/hf, made by
// make_fixtures.py there) is picked in Save & load, imports with its tokenizer and gives transformers' greedy
// tokens; a LoRA fine-tune of it runs a few steps in Training and shows its trainable parameters and the memory
// saved; the model and the adapter download as files; bad directories show the core's message.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { greedy, openPanel, openPlayground, screenshot, skipReason, waitReady } from '../harness.mjs';

const FIXTURES = join(import.meta.dirname, '..', '..', '..', 'crate', 'tests', 'fixtures', 'hf');
const TINY = join(FIXTURES, 'tiny-gpt2');
const EXPECTED = JSON.parse(readFileSync(join(FIXTURES, 'tiny-gpt2-expected.json'), 'utf8'));
const file = (name, buffer = readFileSync(join(TINY, name))) => ({ name, mimeType: 'application/octet-stream', buffer });

async function importFiles(page, files) {
  await openPanel(page, 'session');
  await page.evaluate(() => (document.querySelector('#hf-message').textContent = ''));
  await page.setInputFiles('#load-hf', files);
  await page.waitForFunction(() => document.querySelector('#hf-message').textContent !== '' && document.querySelector('#hf-progress').hidden, null, { timeout: 60_000 });
  return { text: await page.textContent('#hf-message'), kind: await page.$eval('#hf-message', (m) => m.dataset.kind) };
}

async function downloads(page, button, count) {
  const seen = [];
  const done = new Promise((resolve) => {
    const on = async (download) => {
      const chunks = [];
      for await (const chunk of await download.createReadStream()) chunks.push(chunk);
      seen.push([download.suggestedFilename(), Buffer.concat(chunks)]);
      if (seen.length === count) {
        page.off('download', on);
        resolve();
      }
    };
    page.on('download', on);
  });
  await page.click(button);
  await done;
  return Object.fromEntries(seen);
}

test('a Hugging Face GPT-2 directory imports and gives transformers greedy tokens; LoRA fine-tunes it; both download', { skip: skipReason() }, async () => {
  const { page, consoleErrors, close } = await openPlayground({ webgpu: false });
  try {
    await waitReady(page);
    // Keyboard: the file picker is reachable and the download buttons wait for a model.
    assert.equal(await page.$eval('#save-hf', (b) => b.disabled), true);
    const imported = await importFiles(page, ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'].map((n) => file(n)));
    assert.equal(imported.kind, 'ok', imported.text);
    assert.match(imported.text, /Imported a GPT-2 model: 36,736 parameters \(2 layers, 4 heads, d_model 32, context 32, vocabulary 320\), with its tokenizer \(320 tokens\)/);
    for (const c of EXPECTED.cases) {
      assert.deepEqual(await greedy(page, c.prompt), c.greedy_ids, `greedy tokens after ${JSON.stringify(c.prompt)} as transformers gives them`);
    }

    // LoRA: the switch keeps the weights; a few steps train r = 4 adapters on c_attn only.
    await openPanel(page, 'data');
    await page.fill('#user-text', 'Once upon a time the robot counted the stars, and Tom said: the stars are many. '.repeat(40));
    await page.click('#use-text');
    await openPanel(page, 'training');
    await page.focus('#t-lora');
    await page.keyboard.press('Space');
    assert.equal(await page.isChecked('#t-keep'), true, 'LoRA keeps the weights');
    await page.fill('#t-lora-rank', '4');
    await page.fill('#t-lora-alpha', '8');
    for (const [id, v] of Object.entries({ '#t-steps': 4, '#t-lr': 0.01, '#t-minlr': 0.001, '#t-warmup': 1, '#t-batch': 2, '#t-accum': 1, '#t-eval': 2 })) await page.fill(id, String(v));
    // The token budget of a fine-tune counts the imported model's own context (32), as the run does.
    assert.notEqual(await page.evaluate(() => window.tp.store.model.blockSize), 32);
    assert.match(await page.textContent('#train-budget'), /^Each step sees 64 tokens \(batch 2 × accumulation 1 × context 32\)/);
    await page.click('#train-start');
    await page.waitForFunction(() => window.tpTraining?.state === 'done' && window.tpLora, null, { timeout: 120_000 });
    const status = await page.textContent('#train-status');
    assert.doesNotMatch(status, /Cannot|stopped/, status);
    const memory = await page.evaluate(() => window.tpLora);
    // 2 blocks x r = 4 x (32 in + 96 out) on c_attn.
    assert.equal(memory.trainable, 1024);
    assert.equal(memory.params, 36_736 + 1024);
    assert.ok(memory.bytes < memory.fullBytes, `LoRA ${memory.bytes} bytes < full fine-tuning ${memory.fullBytes}`);
    const info = await page.textContent('#t-lora-info');
    assert.match(info, /Trainable: 1,024 of 37,760 parameters \(2\.7%\)\. Training memory for a batch of 2 × 32 tokens: .+ with LoRA, .+ for full fine-tuning: .+ saved\./);
    console.log(info);
    await screenshot(page, 'panel-training-lora');

    // The adapter alone (PEFT) and the whole model (adapters merged) download as files.
    await openPanel(page, 'session');
    const adapter = await downloads(page, '#save-adapter', 2);
    assert.deepEqual(Object.keys(adapter).sort(), ['adapter_config.json', 'adapter_model.safetensors']);
    const config = JSON.parse(adapter['adapter_config.json'].toString());
    assert.equal(config.r, 4);
    assert.equal(config.lora_alpha, 8);
    assert.deepEqual(config.target_modules, ['c_attn']);
    const hf = await downloads(page, '#save-hf', 5);
    assert.deepEqual(Object.keys(hf).sort(), ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
    assert.equal(JSON.parse(hf['config.json'].toString()).model_type, 'gpt2');
    assert.match(await page.textContent('#hf-message'), /Saved the model as a Hugging Face directory: .*config\.json/);
    // The exported directory imports again and generates as the fine-tuned model does.
    const tuned = await greedy(page, EXPECTED.cases[0].prompt);
    const again = await importFiles(page, Object.entries(hf).map(([name, buffer]) => ({ name, mimeType: 'application/octet-stream', buffer })));
    assert.equal(again.kind, 'ok', again.text);
    assert.deepEqual(await greedy(page, EXPECTED.cases[0].prompt), tuned, 'the exported model gives the fine-tuned tokens');
    await openPanel(page, 'session');
    await screenshot(page, 'panel-session-hf');
    assert.deepEqual(consoleErrors, []);
  } finally {
    await close();
  }
});

test('bad Hugging Face files show what is wrong, as text, and keep the current model', { skip: skipReason() }, async () => {
  const { page, consoleErrors, close } = await openPlayground({ webgpu: false });
  try {
    await waitReady(page);
    const weights = readFileSync(join(TINY, 'model.safetensors'));
    const cases = [
      ['a pickle', [file('config.json'), file('tokenizer.json'), file('pytorch_model.bin', weights)], /pickle.*safetensors/],
      ['no tokenizer', [file('config.json'), file('model.safetensors')], /tokenizer\.json/],
      ['no config', [file('model.safetensors'), file('tokenizer.json')], /no config\.json/],
      ['another architecture', [file('config.json', Buffer.from('{"model_type": "llama", "architectures": ["LlamaForCausalLM"]}')), file('model.safetensors'), file('tokenizer.json')], /"llama"/],
      ['a name with markup', [file('<b>weights</b>.bin', Buffer.from('x'))], /<b>weights<\/b>\.bin/],
    ];
    for (const [what, files, reason] of cases) {
      const { text, kind } = await importFiles(page, files);
      console.log(`${what}: ${text}`);
      assert.equal(kind, 'error', `${what}: ${text}`);
      assert.match(text, /did not import: .+ The current model is unchanged\./);
      assert.match(text, reason, what);
      assert.equal(await page.$eval('#hf-message', (m) => m.getAttribute('role')), 'alert');
      assert.equal(await page.$eval('#hf-message', (m) => m.children.length), 0, 'the message is text, never markup');
    }
    assert.equal(await page.evaluate(() => window.tp.store.modelInfo), null, 'no model came in');
    assert.deepEqual(consoleErrors, []);
  } finally {
    await close();
  }
});
