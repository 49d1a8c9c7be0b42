// The page's first visit: nothing stored, no input but one press of Start in the Training panel (the built-in
// stories, the character tokenizer Start makes, the default model and training settings). Prints the time from the
// click to "Done", the loss at the first and last step, the last validation, and a sample of the trained model.
//
//   bash scripts/build.sh && node bench/browser/first-visit.mjs
import { openPanel, openPlayground, waitReady } from '../../tests/browser/harness.mjs';

const { page, close } = await openPlayground({ webgpu: false });
try {
  await waitReady(page);
  await openPanel(page, 'training');
  const started = Date.now();
  await page.click('#train-start');
  await page.waitForFunction(() => window.tpTraining?.state === 'done', null, { timeout: 600_000 });
  const seconds = (Date.now() - started) / 1000;
  const run = await page.evaluate(() => ({
    status: document.querySelector('#train-status').textContent,
    steps: window.tpTraining.phases[0].steps,
    last: window.tpTraining.phases[0].evals.at(-1),
    vocab: window.tp.store.tokenizer.summary.vocabSize,
  }));
  console.log(`Start -> Done: ${seconds.toFixed(1)} s (${run.status}); character tokenizer of ${run.vocab} tokens`);
  console.log(`train loss ${run.steps[0].loss.toFixed(3)} -> ${run.steps.at(-1).loss.toFixed(3)}; validation at step ${run.last.step}: loss ${run.last.valLoss.toFixed(3)}, perplexity ${run.last.valPpl.toFixed(2)}`);
  await openPanel(page, 'generate');
  await page.fill('#g-max', '120');
  await page.click('#generate');
  await page.waitForFunction(() => window.tpGenerated && !document.querySelector('#generate').disabled, null, { timeout: 120_000 });
  console.log(`sample: ${JSON.stringify(await page.evaluate(() => window.tpGenerated.text))}`);
} finally {
  await close();
}
