//! The acceptance run of the issue: the reference config (L=4, NH=4, C=128, T=64, B=16, char vocabulary)
//! trained for 300 steps on the built-in stories corpus ends well below the unigram entropy of the data.
//! About a minute in the optimised test profile on one x86-64 core with AVX2; the matmuls dominate.

use super::config::ModelConfig;
use super::gpt::Gpt;
use super::train::{TrainOptions, Trainer, unigram_entropy};
use crate::corpus::{Corpus, generate, train_val_split};

/// A character vocabulary of `text`: its distinct characters, sorted.
fn char_tokens(text: &str, vocab: &[char]) -> Vec<u32> {
    text.chars()
        .map(|ch| vocab.binary_search(&ch).expect("in vocab") as u32)
        .collect()
}

#[test]
fn reference_config_learns_the_stories_corpus() {
    let text = generate(Corpus::Stories, 1, 400_000);
    let mut vocab: Vec<char> = text.chars().collect();
    vocab.sort_unstable();
    vocab.dedup();
    let (train_text, val_text) = train_val_split(&text, 0.1);
    let (train, val) = (
        char_tokens(train_text, &vocab),
        char_tokens(val_text, &vocab),
    );
    let entropy = unigram_entropy(&train);

    let model = Gpt::new(ModelConfig::reference(vocab.len()), 1337).expect("reference config");
    let options = TrainOptions {
        batch_size: 16,
        steps: 300,
        lr: 2e-3,
        min_lr: 2e-4,
        warmup_steps: 30,
        eval_interval: 0,
        eval_batches: 4,
        ..TrainOptions::default()
    };
    let mut trainer = Trainer::new(model, train, val, options).expect("trainer");
    let start = std::time::Instant::now();
    let mut last = Vec::new();
    for _ in 0..300 {
        let stats = trainer.step().expect("no divergence");
        last.push(stats.loss);
    }
    let seconds = start.elapsed().as_secs_f64();
    let train_loss = last[280..].iter().sum::<f64>() / 20.0;
    let val_loss = trainer.evaluate().expect("validation").val_loss;
    eprintln!(
        "reference config, 300 steps, V={}: unigram entropy {entropy:.3} nats, train loss (last 20 steps) {train_loss:.3}, val loss {val_loss:.3}, {seconds:.1} s ({:.0} tokens/s)",
        vocab.len(),
        300.0 * 16.0 * 64.0 / seconds
    );
    assert!(
        train_loss < entropy - 0.6,
        "train loss {train_loss} is not well below the unigram entropy {entropy}"
    );
    assert!(
        val_loss < entropy - 0.6,
        "val loss {val_loss} is not well below the unigram entropy {entropy}"
    );
}
