// The one train/validation split of a text: the CLI (`tplay train`), the package (`splitText`, and what
// `model.train({ text })` holds out) and so the page (whose worker trains through the package with the same
// fraction) hold out the same validation tokens. The core's `corpus::train_val_split` cuts at a line start.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { ROOT, skipReason } from './helpers.mjs';

const TPLAY = join(process.env.CARGO_TARGET_DIR ?? join(ROOT, 'target'), 'debug', 'tplay');
const IN_CI = process.env.CI === 'true' || process.env.CI === '1';

function tplayMissing() {
  if (existsSync(TPLAY)) return undefined;
  const reason = `${TPLAY} is not built (cargo build --bin tplay)`;
  if (IN_CI) throw new Error(`CI=true but the split test cannot run: ${reason}`);
  console.error(`\n!!! SKIPPED SPLIT TEST: ${reason}\n`);
  return reason;
}

// Lines of different lengths, so that neither 90% of the characters nor 90% of the tokens falls on a line start.
const TEXT = Array.from({ length: 200 }, (_, i) => `line ${i} ${'ab'.repeat(i % 7)}ü`).join('\n') + '\n';

test('the CLI, the package and its training hold out the same validation tokens of the same text', { skip: skipReason() || tplayMissing() }, async () => {
  const tp = await import(pathToFileURL(join(ROOT, 'lib', 'index.js')).href);
  await tp.init();
  const { train, validation } = tp.splitText(TEXT, 0.1);
  assert.equal(train + validation, TEXT, 'the two parts are the whole text');
  assert.ok(train.endsWith('\n'), 'the cut falls at a line start');
  assert.notEqual(train, TEXT.slice(0, Math.floor(TEXT.length * 0.9)), 'not a plain cut of the string');

  const tokenizer = await tp.trainTokenizer(TEXT, { kind: 'char' });
  const [trainIds, valIds] = [tokenizer.encode(train), tokenizer.encode(validation)];

  // The CLI: it reports how many tokens it trains and validates on.
  const dir = mkdtempSync(join(tmpdir(), 'tp-split-'));
  let cli;
  try {
    writeFileSync(join(dir, 'text.txt'), TEXT);
    writeFileSync(join(dir, 'tokenizer.json'), tokenizer.save());
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ n_layer: 1, n_head: 1, n_embd: 8, block_size: 8 }));
    const args = ['train', '--corpus', 'text.txt', '--tokenizer', 'tokenizer.json', '--config', 'config.json', '--steps', '1', '--batch-size', '2', '--out', 'm.safetensors'];
    cli = spawnSync(TPLAY, args, { cwd: dir, encoding: 'utf8' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(cli.status, 0, `tplay train failed: ${cli.stderr}`);
  const counts = cli.stderr.match(/data: (\d+) training and (\d+) validation tokens/);
  assert.ok(counts, cli.stderr);
  console.log(`CLI: ${counts[1]} training and ${counts[2]} validation tokens; package: ${trainIds.length} and ${valIds.length}`);
  assert.deepEqual([Number(counts[1]), Number(counts[2])], [trainIds.length, valIds.length]);

  // The package's training holds out exactly these tokens: the same validation loss as a twin given them.
  const options = { steps: 1, evalInterval: 1, batchSize: 2, seqLen: 8 };
  const config = { nLayer: 1, nHead: 1, nEmbd: 8, blockSize: 8 };
  const fromText = await tp.createModel({ tokenizer, config, backend: 'cpu' });
  const fromIds = await tp.createModel({ tokenizer, config, backend: 'cpu' });
  try {
    const a = await fromText.train({ ...options, text: TEXT });
    const b = await fromIds.train({ ...options, tokens: trainIds, valTokens: valIds });
    assert.ok(Number.isFinite(a.eval?.valLoss), 'the run evaluated');
    assert.equal(a.eval.valLoss, b.eval.valLoss);
  } finally {
    fromText.dispose();
    fromIds.dispose();
    tokenizer.dispose();
  }
});
