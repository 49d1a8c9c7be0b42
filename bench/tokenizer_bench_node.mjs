// Times our tokenizer compiled to wasm, under Node: BPE training to 4096 tokens on 1 MB of text (no pattern
// and GPT-4 pattern, with a progress callback) and encoding the 1 MB.
//
//   cargo build -p transformer-playground --lib --target wasm32-unknown-unknown --release
//   wasm-bindgen --target web --out-dir /tmp/tp-pkg target/wasm32-unknown-unknown/release/transformer_playground.wasm
//   cargo run -p tplay-bench --release --bin tokenizer_bench -- --write-text /tmp/text.txt
//   node bench/tokenizer_bench_node.mjs /tmp/tp-pkg /tmp/text.txt
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [pkgDir, textPath] = process.argv.slice(2);
if (!pkgDir || !textPath) {
  console.error('usage: node tokenizer_bench_node.mjs <wasm-bindgen out dir> <text file>');
  process.exit(1);
}
const mod = await import(pathToFileURL(path.resolve(pkgDir, 'transformer_playground.js')).href);
mod.initSync({ module: fs.readFileSync(path.resolve(pkgDir, 'transformer_playground_bg.wasm')) });
const text = fs.readFileSync(textPath, 'utf8');

function best(runs, f) {
  let bestMs = Infinity;
  let out;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    out = f();
    bestMs = Math.min(bestMs, performance.now() - t0);
  }
  return [bestMs / 1000, out];
}

console.log(`text: ${Buffer.byteLength(text)} bytes, vocab 4096, wasm under Node ${process.version}`);
console.log('| task (wasm, Node) | seconds |');
console.log('|---|---|');
for (const pattern of ['none', 'gpt4']) {
  let calls = 0;
  const [trainS, tok] = best(2, () =>
    mod.Tokenizer.trainBpe(text, 4096, pattern, ['<|endoftext|>'], (p) => {
      calls++;
      return true;
    }),
  );
  console.log(`| train, pattern ${pattern} (progress callback on every merge) | ${trainS.toFixed(3)} |`);
  const [encS, ids] = best(3, () => tok.encode(text));
  console.log(`| encode 1 MB, pattern ${pattern} | ${encS.toFixed(3)} |`);
  if (tok.decode(ids) !== text) throw new Error('round trip failed');
  if (calls === 0) throw new Error('no progress reported');
  tok.free();
}
