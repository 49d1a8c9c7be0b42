//! A GPT-2-small-shaped model (124,439,808 parameters, vocabulary 50,257, context 1024), its weights built here
//! from a seed (nothing downloaded): it generates with the KV cache on the CPU and agrees with the uncached path,
//! and it goes out as a Hugging Face directory and back unchanged.

use std::time::Instant;

use transformer_playground::io::{export_hf, import_hf};
use transformer_playground::model::generate::SampleOptions;
use transformer_playground::model::{Gpt, ModelConfig};
use transformer_playground::tokenizer::{self, BpeOptions, ENDOFTEXT, Pattern};

/// The greedy tokens of the seed-124 model after `prompt` (the wasm test checks the same ids).
const GREEDY: [u32; 6] = [30897; 6];
/// The tokens sampled with the test's options (temperature 0.9, top-k 50, top-p 0.95, seed 5).
const SAMPLED: [u32; 6] = [45675, 2028, 47334, 44325, 29152, 48268];

fn gpt2_small() -> ModelConfig {
    ModelConfig {
        n_layer: 12,
        n_head: 12,
        n_embd: 768,
        block_size: 1024,
        ..ModelConfig::reference(50257)
    }
}

#[test]
fn gpt2_small_generates_with_the_kv_cache_and_round_trips_through_hugging_face() {
    let start = Instant::now();
    let mut model = Gpt::<f32>::new(gpt2_small(), 124).unwrap();
    assert_eq!(model.params.len(), 124_439_808);
    eprintln!(
        "built 124 M weights in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    let prompt = [464u32, 2068, 7586, 21831, 18045, 625, 262]; // any ids below 50257
    let options = SampleOptions {
        max_tokens: 6,
        temperature: 0.9,
        top_k: 50,
        top_p: 0.95,
        seed: 5,
        end_token: None,
    };
    let start = Instant::now();
    let cached = model.generate(&prompt, &options).unwrap();
    let cached_s = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let uncached = model.generate_uncached(&prompt, &options).unwrap();
    eprintln!(
        "6 tokens: KV cache {cached_s:.2} s, uncached {:.2} s",
        start.elapsed().as_secs_f64()
    );
    assert_eq!(cached.len(), 6);
    assert_eq!(cached, uncached);
    eprintln!("sampled: {cached:?}");
    assert_eq!(cached, SAMPLED);
    // Greedy, as tests/package/gpt2-small.test.mjs runs it in wasm: the same 124 M weights from the seed and
    // the same tokens on both.
    let greedy = SampleOptions {
        temperature: 0.0,
        ..options.clone()
    };
    let greedy = model.generate(&prompt, &greedy).unwrap();
    eprintln!("greedy: {greedy:?}");
    assert_eq!(greedy, GREEDY);

    // Out as a GPT-2 directory (a tokenizer of GPT-2's size: 256 bytes + merges + <|endoftext|> = 50257 would
    // take long to train; a small one is enough to carry the special token) and back.
    let tok = tokenizer::train_bpe(
        &"the quick brown fox jumps over the lazy dog. ".repeat(50),
        &BpeOptions {
            vocab_size: 300,
            pattern: Pattern::parse("gpt2").unwrap(),
            special_tokens: vec![ENDOFTEXT.to_string()],
        },
        |_| true,
    )
    .unwrap();
    let start = Instant::now();
    let files = export_hf(&model, Some(&tok)).unwrap();
    assert!(files["model.safetensors"].len() > 4 * 124_439_808);
    let back = import_hf(&files).unwrap();
    eprintln!(
        "export + import of 124 M: {:.1} s",
        start.elapsed().as_secs_f64()
    );
    assert_eq!(back.model.config, model.config);
    assert!(
        back.model.params == model.params,
        "weights changed on the way"
    );
}

/// On the GPU: training GPT-2 small is refused before anything is allocated where a tensor it binds whole is over
/// the device's binding limit (on lavapipe, 128 MiB per storage binding: the logits of one 1024-token sequence,
/// 196 MiB); generation opens it all the same, splitting the 147 MiB token embedding over bindings (the row gather
/// and the lm-head over chunks of the vocabulary), and gives the CPU's tokens, or says why the device cannot hold
/// it. Prints the upload time and tokens/s (docs/benchmarks.md).
#[cfg(feature = "gpu")]
#[test]
fn gpt2_small_on_the_gpu_generates_what_the_cpu_does_or_is_refused_with_a_reason() {
    use transformer_playground::gpu::testing::gpu_or_skip;
    use transformer_playground::gpu_model::{GpuGpt, check_limits};
    let Some(gpu) = gpu_or_skip("GPT-2 small on the GPU") else {
        return;
    };
    if let Err(e) = check_limits(gpu, &gpt2_small()) {
        let message = e.to_string();
        eprintln!("training GPT-2 small on {}: {message}", gpu.summary.name);
        assert!(
            message.contains("binds at most") && message.contains("shrink"),
            "{message}"
        );
    }
    let model = Gpt::<f32>::new(gpt2_small(), 124).unwrap();
    let prompt = [464, 2068, 7586];
    let options = SampleOptions {
        max_tokens: 3,
        temperature: 0.0,
        top_k: 0,
        top_p: 1.0,
        seed: 1,
        end_token: None,
    };
    let start = Instant::now();
    match GpuGpt::for_generation(gpu, &model) {
        Err(e) => {
            let message = e.to_string();
            eprintln!("GPT-2 small on {}: {message}", gpu.summary.name);
            assert!(message.contains("cannot hold the model"), "{message}");
        }
        Ok(mut on_gpu) => {
            let uploaded = start.elapsed().as_secs_f64();
            let start = Instant::now();
            let got = pollster::block_on(on_gpu.generate(gpu, &prompt, &options)).unwrap();
            let generated = start.elapsed().as_secs_f64();
            eprintln!(
                "GPT-2 small on {}: upload {uploaded:.1} s, {} GPU bytes, 3 prompt + 3 new tokens in {generated:.1} s ({:.2} tokens/s)",
                gpu.summary.name,
                gpu.buffer_bytes(),
                6.0 / generated
            );
            let mut model = model;
            let expected = model.generate(&prompt, &options).unwrap();
            assert_eq!(got, expected);
        }
    }
}
