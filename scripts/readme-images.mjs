// The README's screenshots (docs/images/*.png), taken from the built page (dist/) in headless Chromium:
// the built-in stories (seed 1), a BPE tokenizer of 512 tokens, the Model panel's default model trained with
// the Training panel's defaults, then generation, attention, embeddings and the data panel, and the Training panel
// at phone width (390 px) in dark mode.
//
//   bash scripts/build.sh && node scripts/readme-images.mjs
import { join } from 'node:path';
import { openPanel, openPlayground, waitReady } from '../tests/browser/harness.mjs';

const images = join(import.meta.dirname, '..', 'docs', 'images');
const shot = (page, name) => page.screenshot({ path: join(images, `${name}.png`), fullPage: true });

const { page, consoleErrors, close } = await openPlayground({ webgpu: true });
try {
  await waitReady(page);
  await page.waitForFunction(() => window.tp.store.corpus?.name === 'stories');
  await openPanel(page, 'data');
  await shot(page, 'data');

  await openPanel(page, 'tokenizer');
  await page.selectOption('#tok-kind', 'bpe');
  await page.fill('#tok-vocab', '512');
  await page.click('#train-tokenizer');
  await page.waitForFunction(() => window.tp.store.tokenizer?.summary.kind === 'bpe', null, { timeout: 300_000 });
  await page.waitForSelector('#token-view');
  await shot(page, 'tokenizer');

  await openPanel(page, 'training');
  await page.click('#train-start');
  await page.waitForFunction(() => window.tpTraining?.state === 'done', null, { timeout: 1_800_000 });
  await page.waitForTimeout(500);
  await shot(page, 'training');
  await shot(page, 'playground');

  await openPanel(page, 'generate');
  await page.fill('#g-prompt', 'Kit and Robin');
  await page.fill('#g-temp', '0.7');
  await page.fill('#g-max', '60');
  await page.evaluate(() => (window.tpGenerated = null));
  await page.click('#generate');
  await page.waitForFunction(() => window.tpGenerated && !document.querySelector('#generate').disabled, null, { timeout: 120_000 });
  await page.hover('#gen-output .tok:nth-of-type(4)');
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(images, 'generate.png') });

  await openPanel(page, 'attention');
  await page.fill('#att-text', 'Kit and Robin went to the park.');
  await page.click('#att-run');
  await page.waitForSelector('#att-model-steps', { timeout: 120_000 });
  await shot(page, 'attention');

  await openPanel(page, 'embeddings');
  await page.waitForFunction(() => window.tpEmbeddings?.draws > 0, null, { timeout: 120_000 });
  await shot(page, 'embeddings');

  // The trained Training panel on a phone (390 px) in dark mode, one screen from its status down.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.emulateMedia({ colorScheme: 'dark' });
  await openPanel(page, 'training');
  await page.evaluate(() => document.querySelector('#train-status').scrollIntoView({ block: 'start' }));
  await page.waitForTimeout(500);
  await page.screenshot({ path: join(images, 'phone-dark.png') });
  if (consoleErrors.length > 0) throw new Error(`console errors: ${consoleErrors.join('; ')}`);
  console.log(`screenshots written to ${images}`);
} finally {
  await close();
}
