// Issue 5's whole-model check in the browser: the wasm build trains the same seeded model for 10 steps on the
// CPU and on WebGPU (SwiftShader here); losses agree to 1e-4 relative at every step, final weights to 1e-3.
// Issue 18's: the same with LoRA adapters (only they train).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openPage, skipReason } from '../harness.mjs';

test('training on WebGPU matches the CPU step by step, through the wasm build', { skip: skipReason() }, async () => {
  const { page, consoleErrors, close } = await openPage('tests/browser/bindings/fixtures/model-check.html', { root: 'repo' });
  try {
    await page.waitForFunction(() => window.tpModelCheck, null, { timeout: 120_000 });
    const report = await page.evaluate(() => window.tpModelCheck);
    assert.equal(report.error, undefined, `the check ran: ${report.error}`);
    console.log(`adapter: ${report.adapter.name || '(unnamed)'} ${report.adapter.backend}; dispatches per step: ${report.dispatches_per_step}`);
    assert.equal(report.gpu_losses.length, 10);
    report.cpu_losses.forEach((cpu, i) => {
      const gpu = report.gpu_losses[i];
      console.log(`step ${i + 1}: cpu ${cpu.toFixed(6)} gpu ${gpu.toFixed(6)}`);
      assert.ok(Math.abs(gpu - cpu) / Math.abs(cpu) <= 1e-4, `step ${i + 1}: gpu ${gpu} vs cpu ${cpu}`);
    });
    assert.ok(report.cpu_losses[9] < report.cpu_losses[0], 'the loss falls');
    assert.ok(report.param_distance <= 1e-3, `final weights differ by ${report.param_distance}`);
    const lora = report.lora;
    assert.equal(lora.gpu_losses.length, 10);
    lora.cpu_losses.forEach((cpu, i) => {
      const gpu = lora.gpu_losses[i];
      console.log(`LoRA step ${i + 1}: cpu ${cpu.toFixed(6)} gpu ${gpu.toFixed(6)}`);
      assert.ok(Math.abs(gpu - cpu) / Math.abs(cpu) <= 1e-4, `LoRA step ${i + 1}: gpu ${gpu} vs cpu ${cpu}`);
    });
    assert.ok(lora.param_distance <= 1e-3, `LoRA: final weights differ by ${lora.param_distance}`);
    assert.deepEqual(consoleErrors, []);
  } finally {
    await close();
  }
});
