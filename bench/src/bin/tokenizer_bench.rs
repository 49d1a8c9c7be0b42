//! Tokenizer benchmark (not a test): trains a byte-level BPE to 4096 tokens on 1 MB of deterministic
//! English-like text, with no pattern and with the GPT-4 pattern, then encodes the 1 MB; does the same
//! with Hugging Face `tokenizers` single-threaded, and prints both times and their ratio.
//!
//!     cargo run -p tplay-bench --release --bin tokenizer_bench [-- --write-text FILE]
//!
//! `--write-text FILE` also writes the text, for bench/tokenizer_bench_node.mjs.

use std::str::FromStr;
use std::time::Instant;

use tokenizers::models::bpe::{BPE, BpeTrainerBuilder};
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::tokenizer::normalizer::SplitDelimiterBehavior;
use tokenizers::{
    AddedToken, DecoderWrapper, NormalizerWrapper, PostProcessorWrapper, TokenizerImpl,
};
use tplay_bench::english_like_text;
use transformer_playground::tokenizer::{BpeOptions, Pattern, Tokenizer, train_bpe};

const VOCAB: usize = 4096;
const TEXT_BYTES: usize = 1 << 20;

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::INFINITY;
    let mut out = None;
    for _ in 0..runs {
        let t = Instant::now();
        let r = f();
        best = best.min(t.elapsed().as_secs_f64());
        out = Some(r);
    }
    (best, out.expect("at least one run"))
}

type HfTokenizer = TokenizerImpl<
    BPE,
    NormalizerWrapper,
    PreTokenizerWrapper,
    PostProcessorWrapper,
    DecoderWrapper,
>;

fn hf_train(docs: &[&str], pattern: Pattern) -> HfTokenizer {
    let byte_level = ByteLevel::default()
        .add_prefix_space(false)
        .use_regex(false);
    let pre: PreTokenizerWrapper = match pattern.regex() {
        None => byte_level.into(),
        Some(regex) => Sequence::new(vec![
            Split::new(
                SplitPattern::Regex(regex.into()),
                SplitDelimiterBehavior::Isolated,
                false,
            )
            .expect("regex compiles")
            .into(),
            byte_level.into(),
        ])
        .into(),
    };
    let mut trainer = BpeTrainerBuilder::new()
        .vocab_size(VOCAB)
        .min_frequency(0)
        .show_progress(false)
        .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
        .special_tokens(vec![AddedToken::from("<|endoftext|>", true)])
        .build();
    let mut t: HfTokenizer = TokenizerImpl::new(BPE::default());
    t.with_pre_tokenizer(Some(pre));
    t.train(&mut trainer, docs.iter())
        .expect("HF training works");
    t
}

/// The 1 MB text as documents: every fourth paragraph break becomes `<|endoftext|>`.
fn documents(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 50);
    for (i, paragraph) in text.split("\n\n").enumerate() {
        if i > 0 {
            out.push_str(if i % 4 == 0 { "<|endoftext|>" } else { "\n\n" });
        }
        out.push_str(paragraph);
    }
    out
}

fn main() {
    // Single-threaded Hugging Face, for a fair comparison.
    tokenizers::utils::parallelism::set_parallelism(false);
    let text = documents(&english_like_text(TEXT_BYTES, 42));
    // Hugging Face's trainer does not cut at special tokens: it gets the documents one by one.
    let docs: Vec<&str> = text.split("<|endoftext|>").collect();
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--write-text") {
        let path = args.get(i + 1).expect("--write-text needs a file name");
        std::fs::write(path, &text).expect("write the text");
    }
    println!(
        "text: {} bytes in {} documents separated by <|endoftext|>, vocab {VOCAB}, 1 thread\n",
        text.len(),
        docs.len()
    );
    println!("| task | ours (s) | HF tokenizers (s) | ours / HF |");
    println!("|---|---|---|---|");
    let row = |name: &str, ours: f64, hf: f64| {
        println!("| {name} | {ours:.3} | {hf:.3} | {:.2} |", ours / hf);
    };
    for pattern in [Pattern::None, Pattern::Gpt4] {
        let options = BpeOptions {
            vocab_size: VOCAB,
            pattern,
            special_tokens: vec!["<|endoftext|>".into()],
        };
        let (ours_s, ours) = best_of(3, || {
            train_bpe(&text, &options, |_| true).expect("training works")
        });
        let (hf_s, _) = best_of(3, || hf_train(&docs, pattern));
        row(&format!("train, pattern {}", pattern.name()), ours_s, hf_s);

        // Encode with the same tokenizer (ours, loaded into HF from our tokenizer.json).
        let hf = tokenizers::Tokenizer::from_str(&ours.to_json()).expect("HF loads our file");
        let (ours_e, ids) = best_of(5, || ours.encode(&text));
        let (hf_e, hf_ids) = best_of(5, || {
            hf.encode(text.as_str(), false)
                .expect("HF encodes")
                .get_ids()
                .to_vec()
        });
        assert_eq!(ids, hf_ids, "same ids");
        row(
            &format!("encode 1 MB, pattern {}", pattern.name()),
            ours_e,
            hf_e,
        );
        let back = Tokenizer::from_json(&ours.to_json()).expect("loads");
        assert_eq!(back.decode(&ids).expect("decodes"), text);
        println!(
            "| ({} tokens, {:.2} bytes/token) | | | |",
            ids.len(),
            text.len() as f64 / ids.len() as f64
        );
    }
    // No pattern and no special token: the whole 1 MB is one chunk. Hugging Face's trainer is quadratic
    // in the length of a word (it inserts and removes in a Vec for every occurrence), so it is left out.
    let plain = english_like_text(TEXT_BYTES, 42);
    let options = BpeOptions {
        vocab_size: VOCAB,
        pattern: Pattern::None,
        special_tokens: vec![],
    };
    let (s, t) = best_of(2, || {
        train_bpe(&plain, &options, |_| true).expect("training works")
    });
    let (e, ids) = best_of(3, || t.encode(&plain));
    let hf = tokenizers::Tokenizer::from_str(&t.to_json()).expect("HF loads our file");
    let (hf_e, hf_ids) = best_of(3, || {
        hf.encode(plain.as_str(), false)
            .expect("HF encodes")
            .get_ids()
            .to_vec()
    });
    assert_eq!(ids, hf_ids, "same ids");
    println!("| train, pattern none, 1 MB as one chunk | {s:.3} | (quadratic, not run) | |");
    row("encode 1 MB as one chunk, pattern none", e, hf_e);
}
