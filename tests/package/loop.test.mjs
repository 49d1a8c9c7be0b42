// The step loop behind training and generation: it yields to the event loop, pauses, resumes and aborts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { skipReason } from './helpers.mjs';

const skip = skipReason();
const load = () => import('../../lib/loop.js');

test('runLoop runs every step in order and lets timers run between slices', { skip }, async () => {
  const { runLoop } = await load();
  let timerRan = false;
  setTimeout(() => (timerRan = true), 0);
  const seen = [];
  const results = await runLoop({
    steps: 20,
    what: 'test',
    sliceMs: 0,
    step: (i) => i * i,
    onStep: (r, i) => seen.push([i, r]),
  });
  assert.deepEqual(results, Array.from({ length: 20 }, (_, i) => i * i));
  assert.equal(seen.length, 20);
  assert.equal(timerRan, true, 'a timer set before the loop ran during it');
});

test('runLoop pauses until resumed, and an abort while paused rejects with AbortError', { skip }, async () => {
  const { runLoop, LoopControl } = await load();
  const control = new LoopControl();
  let count = 0;
  const running = runLoop({
    steps: 10,
    what: 'training',
    control,
    step: () => {
      count++;
      if (count === 3) control.pause();
    },
  });
  await new Promise((done) => setTimeout(done, 30));
  assert.equal(count, 3, 'paused after the third step');
  assert.equal(control.paused, true);
  control.resume();
  await running;
  assert.equal(count, 10);

  const controller = new AbortController();
  const paused = new LoopControl();
  paused.pause();
  const stopped = runLoop({ steps: 5, what: 'training', control: paused, signal: controller.signal, step: () => {} });
  setTimeout(() => controller.abort(), 10);
  await assert.rejects(stopped, (error) => error.name === 'AbortError' && /training: cancelled/.test(error.message));
});

test('runLoop stops at the next step when its signal aborts, and step errors propagate', { skip }, async () => {
  const { runLoop } = await load();
  const controller = new AbortController();
  let count = 0;
  await assert.rejects(
    runLoop({ steps: 100, what: 'x', signal: controller.signal, step: () => { if (++count === 4) controller.abort(); } }),
    { name: 'AbortError' },
  );
  assert.equal(count, 4);
  await assert.rejects(runLoop({ steps: 3, what: 'x', step: () => { throw new Error('bad step'); } }), /bad step/);
});
