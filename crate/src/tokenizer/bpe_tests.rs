//! Tests of BPE training and encoding against naive references.
//!
//! The main check, [`train_checked`], replays a training run merge by merge on a naive trainer
//! ([`NaiveBpe`]) and asserts after every merge that the trainer took the greedy choice: the pair with the
//! highest count recounted from scratch over the current tokens, the smallest `(left id, right id)` among
//! equally frequent pairs (docs/tokenizers.md), and that the progress callback reported that recount.

use super::bpe::{BpeOptions, BpeStop, BpeTokenizer, FastMap, train_bpe, train_bpe_report};
use super::pretokenize::Pattern;
use super::special::{Piece, SpecialMatcher};
use crate::Error;
use crate::corpus::{self, Corpus};

/// The obvious BPE trainer: every chunk occurrence kept as its token ids, pairs recounted from scratch
/// before each merge, a merge applied left to right in every chunk. O(corpus bytes) per merge.
struct NaiveBpe {
    /// Every chunk of the corpus (between special tokens, after pre-tokenization), in order, as token ids.
    chunks: Vec<Vec<u32>>,
    /// id -> the bytes it stands for: the 256 bytes, then the merged tokens.
    vocab: Vec<Vec<u8>>,
}

impl NaiveBpe {
    fn new(corpus: &str, pattern: Pattern, special_tokens: &[String]) -> NaiveBpe {
        let specials: Vec<(String, u32)> = special_tokens.iter().map(|s| (s.clone(), 0)).collect();
        let mut chunks = Vec::new();
        SpecialMatcher::new(&specials).split(corpus, |piece| {
            if let Piece::Text(gap) = piece {
                pattern.split(gap, |chunk| {
                    chunks.push(chunk.bytes().map(u32::from).collect())
                });
            }
        });
        NaiveBpe {
            chunks,
            vocab: (0..=255u8).map(|b| vec![b]).collect(),
        }
    }

    /// (left, right) -> how often the pair is adjacent, over all chunks.
    fn pair_counts(&self) -> FastMap<(u32, u32), u64> {
        let mut counts = FastMap::default();
        for chunk in &self.chunks {
            for w in chunk.windows(2) {
                *counts.entry((w[0], w[1])).or_default() += 1;
            }
        }
        counts
    }

    /// The pair the tie rule picks: the highest count, then the smallest (left, right).
    fn greedy_choice(counts: &FastMap<(u32, u32), u64>) -> Option<((u32, u32), u64)> {
        counts
            .iter()
            .map(|(&pair, &count)| (pair, count))
            .max_by(|x, y| x.1.cmp(&y.1).then(y.0.cmp(&x.0)))
    }

    /// Merges every occurrence of `(a, b)`, left to right, and returns the merged token's id (the id of
    /// an existing token with the same bytes, else a new one).
    fn merge(&mut self, (a, b): (u32, u32)) -> u32 {
        let bytes = [&self.vocab[a as usize][..], &self.vocab[b as usize][..]].concat();
        let c = match self.vocab.iter().position(|v| *v == bytes) {
            Some(id) => id as u32,
            None => {
                self.vocab.push(bytes);
                self.vocab.len() as u32 - 1
            }
        };
        for chunk in &mut self.chunks {
            let mut out = Vec::with_capacity(chunk.len());
            let mut i = 0;
            while i < chunk.len() {
                if i + 1 < chunk.len() && chunk[i] == a && chunk[i + 1] == b {
                    out.push(c);
                    i += 2;
                } else {
                    out.push(chunk[i]);
                    i += 1;
                }
            }
            *chunk = out;
        }
        c
    }
}

/// Trains on `corpus` and checks every merge against [`NaiveBpe`] replaying the same run: the merged
/// pair is the greedy choice over the current tokens (highest recount, ties to the smallest pair), the
/// progress report's count is that recount, its token and `done`/`total` are right, and the recorded
/// merges are the merged pairs in order, each pair once.
fn train_checked(corpus: &str, options: &BpeOptions, name: &str) -> BpeTokenizer {
    let mut naive = NaiveBpe::new(corpus, options.pattern, &options.special_tokens);
    let target = options.vocab_size - options.special_tokens.len();
    let mut expected_merges: Vec<(u32, u32, u32)> = Vec::new();
    let mut step = 0usize;
    let t = train_bpe(corpus, options, |p| {
        let counts = naive.pair_counts();
        let (best, best_count) = NaiveBpe::greedy_choice(&counts)
            .unwrap_or_else(|| panic!("{name}: merge {step} reported with no pair left"));
        let recount = counts.get(&p.merge).copied().unwrap_or(0);
        assert!(
            p.merge == best && p.count == best_count,
            "{name}: merge {step} took {:?} reporting x{} (recounted x{recount}); the greedy choice is \
             {best:?} x{best_count}",
            p.merge,
            p.count,
        );
        let c = naive.merge(best);
        assert_eq!(p.token, c, "{name}: merge {step} of {best:?}");
        assert_eq!(
            (p.done, p.total),
            (naive.vocab.len() - 256, target - 256),
            "{name}: merge {step}"
        );
        if !expected_merges.iter().any(|m| (m.0, m.1) == best) {
            expected_merges.push((best.0, best.1, c));
        }
        step += 1;
        true
    })
    .unwrap_or_else(|e| panic!("{name}: training failed: {e}"));
    assert_eq!(t.merges, expected_merges, "{name}");
    assert!(
        naive.vocab.len() == target || naive.pair_counts().is_empty(),
        "{name}: training stopped with {} of {target} tokens while pairs were left",
        naive.vocab.len()
    );
    t
}

fn opts(vocab_size: usize, pattern: Pattern, specials: &[&str]) -> BpeOptions {
    BpeOptions {
        vocab_size,
        pattern,
        special_tokens: specials.iter().map(|s| s.to_string()).collect(),
    }
}

const PATTERNS: [Pattern; 3] = [Pattern::None, Pattern::Gpt2, Pattern::Gpt4];

/// Hand-written prose shaped like real files (about 30 KB): a license-like text whose lines repeat with
/// small changes, some lines ending in CRLF (one of them right after an `s`, so `s\r\n` must not count
/// as `s\n`), non-ASCII letters, symbols and emoji, long runs of one character, indentation and tabs.
fn prose() -> String {
    const LINES: &[&str] = &[
        "Permission is hereby granted, free of charge, to any person obtaining a copy",
        "of this software and associated documentation files (the \"Software\"), to deal",
        "in the Software without restriction, including without limitation the rights",
        "to use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies",
        "THE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR",
        "    The licenses for most software are designed to take away your freedom.",
        "\tCopyright © 2026 Zoë Ångström, Łódź — “naïve” café, crème brûlée, 東京, Ελλάδα 👍🏽",
        "  When we speak of free software, we are referring to freedom, not price;",
        "",
        "It's the rules: don't repeat, don't repeat, don't repeat yourselves.",
    ];
    let mut text = String::new();
    for i in 0..64 {
        for (j, line) in LINES.iter().enumerate() {
            if (i + j) % 5 == 0 {
                continue; // not every line in every section, so counts differ
            }
            text.push_str(line);
            if (i * 7 + j) % 11 == 0 {
                text.push_str(" and its parts");
            }
            text.push_str(if (i + j) % 9 == 0 { "\r\n" } else { "\n" });
        }
        match i % 8 {
            0 => text.push_str(&"=".repeat(10 + 3 * i)),
            1 => text.push_str(&"a".repeat(200 + i)),
            2 => text.push_str(&" ".repeat(40 + i)),
            3 => text.push_str(&"é".repeat(25 + i)),
            4 => text.push_str(&"\r\n".repeat(6)),
            5 => text.push_str(&"ab".repeat(30 + i)),
            _ => text.push_str(&format!("Section {i}: {} items.", i * 37)),
        }
        text.push_str("sections\r\n\n");
    }
    text
}

/// The corpora of the greedy checks: generated ones and hand-written prose, tens of KB each, with a
/// `<|endoftext|>` between documents of about 4 KB and a few `[PAD]`s (text when they are not special).
fn corpora() -> Vec<(String, String)> {
    let mut out = vec![("prose".to_string(), prose())];
    for (c, bytes) in [
        (Corpus::Stories, 24_000),
        (Corpus::Mixed, 16_000),
        (Corpus::Addition, 12_000),
    ] {
        out.push((c.name().to_string(), corpus::generate(c, 7, bytes)));
    }
    for (_, text) in &mut out {
        let mut with_docs = String::with_capacity(text.len() + 512);
        for (i, line) in text.split_inclusive('\n').enumerate() {
            with_docs.push_str(line);
            if with_docs.len() / 4096 != (with_docs.len() - line.len()) / 4096 {
                with_docs.push_str(if i % 2 == 0 {
                    "<|endoftext|>"
                } else {
                    "[PAD][PAD]<|endoftext|>"
                });
            }
        }
        *text = with_docs;
    }
    out
}

/// Every merge of every corpus is the greedy one, with and without special tokens.
fn check_corpora_greedy(pattern: Pattern) {
    for (name, text) in corpora() {
        for specials in [&[][..], &["<|endoftext|>", "[PAD]"][..]] {
            let label = format!("{name} {pattern:?} specials {specials:?}");
            let t = train_checked(&text, &opts(600, pattern, specials), &label);
            assert_eq!(t.decode(&t.encode(&text)).unwrap(), text, "{label}");
        }
    }
}

#[test]
fn every_merge_is_greedy_pattern_none() {
    check_corpora_greedy(Pattern::None);
}

#[test]
fn every_merge_is_greedy_pattern_gpt2() {
    check_corpora_greedy(Pattern::Gpt2);
}

#[test]
fn every_merge_is_greedy_pattern_gpt4() {
    check_corpora_greedy(Pattern::Gpt4);
}

/// Encoding by the definition: merge the lowest-rank, then leftmost, pair until none applies.
fn naive_encode(t: &BpeTokenizer, text: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for chunk in t.pattern.split_to_vec(text) {
        let mut s: Vec<u32> = chunk.bytes().map(u32::from).collect();
        loop {
            let best = (0..s.len().saturating_sub(1))
                .filter_map(|i| {
                    t.merges
                        .iter()
                        .position(|&(a, b, _)| a == s[i] && b == s[i + 1])
                        .map(|r| (r, i))
                })
                .min();
            let Some((r, i)) = best else { break };
            s[i] = t.merges[r].2;
            s.remove(i + 1);
        }
        out.extend(s);
    }
    out
}

const SMALL_CORPORA: &[&str] = &[
    "aaabdaaabac",
    "aaaaaaaaaa",
    "abababab abab ab a b",
    "the cat sat on the mat; the cat ate the rat. The end. The END!!",
    "ab abc abcd abc ab abcabc bcab cab",
    "héllo wörld, 你好世界 你好 👍👍👍 ok",
];

#[test]
fn small_corpora_are_trained_greedily() {
    for corpus in SMALL_CORPORA {
        for pattern in PATTERNS {
            for vocab_size in [256, 260, 280] {
                let label = format!("{corpus:?} {pattern:?} {vocab_size}");
                train_checked(corpus, &opts(vocab_size, pattern, &[]), &label);
            }
        }
    }
}

/// Text over a small alphabet made of runs (`aaaa`, `abab`-like mixes, `\r\n`, a two-byte `é`), so long
/// single chunks hold many ties, overlapping pairs and tokens reached by two different merges.
fn runs_text() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    let piece = (
        prop::sample::select(vec!["a", "b", "ab", "ba", " ", "\r\n", "é", "c"]),
        1..40usize,
    );
    prop::collection::vec(piece, 1..60).prop_map(|pieces| {
        pieces
            .into_iter()
            .map(|(s, n)| s.repeat(n))
            .collect::<String>()
    })
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 200, ..Default::default() })]

    /// Random corpora over a tiny alphabet: many ties, tokens reached by two merges (id reuse), pairs
    /// that form again after being merged.
    #[test]
    fn random_text_is_trained_greedily(corpus in "[abc ]{1,80}", gpt2 in proptest::bool::ANY) {
        let pattern = if gpt2 { Pattern::Gpt2 } else { Pattern::None };
        let t = train_checked(&corpus, &opts(300, pattern, &[]), &format!("{corpus:?}"));
        let text = format!("{corpus}{corpus}ab");
        proptest::prop_assert_eq!(t.encode(&text), naive_encode(&t, &text));
    }

    /// Long single chunks (up to a few KB) of runs, every pattern, with a special token cutting some.
    #[test]
    fn long_runs_are_trained_greedily(
        text in runs_text(),
        pattern in proptest::sample::select(PATTERNS.to_vec()),
        special in proptest::bool::ANY,
    ) {
        let specials: &[&str] = if special { &["ba"] } else { &[] };
        train_checked(&text, &opts(400, pattern, specials), &format!("{text:?} {pattern:?} {specials:?}"));
    }
}

#[test]
fn tie_rule_picks_smallest_pair() {
    // "ab" and "cd" both occur twice; (a, b) = (97, 98) < (99, 100).
    let t = train_bpe("cdab cdab", &opts(257, Pattern::Gpt2, &[]), |_| true).unwrap();
    assert_eq!(t.merges[0], (97, 98, 256));
}

#[test]
fn encode_equals_naive_encode() {
    let corpus = "the cat sat on the mat; the cat ate the rat. aaaa abab \n\n  hello";
    for pattern in PATTERNS {
        let t = train_bpe(corpus, &opts(300, pattern, &[]), |_| true).unwrap();
        let long = corpus.repeat(5); // > 32 bytes per chunk for Pattern::None: the heap path
        for text in [corpus, long.as_str(), "a cat, the hat", "aaaaaaaaa"] {
            assert_eq!(
                t.encode(text),
                naive_encode(&t, text),
                "{pattern:?} {text:?}"
            );
        }
    }
}

#[test]
fn rejects_bad_options() {
    let err = |o: BpeOptions, c: &str| train_bpe(c, &o, |_| true).unwrap_err().to_string();
    assert!(err(opts(255, Pattern::None, &[]), "abc").contains("vocab size 255 is too small"));
    assert!(
        err(opts(257, Pattern::None, &["<a>", "<b>"]), "abc")
            .contains("at least 256 (the bytes) + 2")
    );
    assert!(err(opts(70000, Pattern::None, &[]), "abc").contains("above the limit of 65536"));
    assert!(err(opts(300, Pattern::None, &[]), "").contains("the corpus is empty"));
    assert!(err(opts(300, Pattern::None, &["x", "x"]), "ab").contains("given twice"));
}

#[test]
fn progress_is_reported_and_cancel_stops() {
    let corpus = SMALL_CORPORA[3];
    let mut seen = Vec::new();
    let t = train_bpe(corpus, &opts(270, Pattern::Gpt2, &[]), |p| {
        seen.push(p.clone());
        true
    })
    .unwrap();
    assert_eq!(seen.len(), t.merges.len());
    assert_eq!(seen.last().unwrap().done, 14);
    assert!(seen.iter().all(|p| p.total == 14 && p.count >= 1));
    assert_eq!(seen[0].merge, (t.merges[0].0, t.merges[0].1));
    let mut calls = 0;
    let r = train_bpe(corpus, &opts(270, Pattern::Gpt2, &[]), |_| {
        calls += 1;
        calls < 3
    });
    assert!(matches!(r, Err(Error::Cancelled)));
    assert_eq!(calls, 3);
}

#[test]
fn specials_are_never_split_or_learned() {
    let corpus = "hello<|endoftext|>hello<|endoftext|>hello [PAD][PAD]";
    let t = train_bpe(
        corpus,
        &opts(300, Pattern::None, &["<|endoftext|>", "[PAD]"]),
        |_| true,
    )
    .unwrap();
    let eot = t.vocab.len() as u32 - 2;
    assert_eq!(
        t.specials,
        vec![("<|endoftext|>".into(), eot), ("[PAD]".into(), eot + 1)]
    );
    let ids = t.encode("hi<|endoftext|>[PAD]");
    assert_eq!(&ids[ids.len() - 2..], &[eot, eot + 1]);
    assert!(
        t.vocab[..eot as usize]
            .iter()
            .all(|v| !v.windows(5).any(|w| w == b"<|end"))
    );
    assert_eq!(t.decode(&ids).unwrap(), "hi<|endoftext|>[PAD]");
}

#[test]
fn decode_broken_utf8_and_unknown_ids() {
    let t = train_bpe("abc", &opts(256, Pattern::None, &[]), |_| true).unwrap();
    let ids = t.encode("x€");
    assert_eq!(ids, vec![0x78, 0xE2, 0x82, 0xAC]);
    assert_eq!(t.decode(&ids[..3]).unwrap(), "x\u{FFFD}");
    let err = t.decode(&[5, 256]).unwrap_err().to_string();
    assert!(
        err.contains("token id 256 is not in the vocabulary"),
        "{err}"
    );
}

/// The distinct chunks of `text` (as the trainer sees them) that still encode to more than one token.
fn chunks_left(t: &BpeTokenizer, text: &str, pattern: Pattern) -> Vec<String> {
    let mut left = Vec::new();
    pattern.split(text, |chunk| {
        if t.encode(chunk).len() > 1 && !left.iter().any(|c| c == chunk) {
            left.push(chunk.to_string());
        }
    });
    left
}

#[test]
fn early_stop_says_no_pair_is_left_and_how_many_merges_were_possible() {
    // The case: 64 KB of stories, 4096 tokens asked for with the GPT-4 pattern.
    let text = corpus::generate(Corpus::Stories, 1, 65_536);
    let (t, report) = train_bpe_report(&text, &opts(4096, Pattern::Gpt4, &[]), |_| true).unwrap();
    assert_eq!(report.stop, BpeStop::NoPairLeft);
    assert!(report.stopped_early());
    assert_eq!(report.vocab_asked, 4096);
    assert_eq!(report.vocab_size, t.vocab_size());
    assert!(t.vocab_size() < 4096, "{} tokens", t.vocab_size());
    assert_eq!(report.merges, t.merges.len());
    assert_eq!(report.merges_possible, Some(t.merges.len()));
    assert_eq!(report.merge_counts.len(), t.merges.len());
    // Why it stopped is true: every word of the text is one token now.
    assert_eq!(chunks_left(&t, &text, Pattern::Gpt4), Vec::<String>::new());
    let sentence = report.sentence(Pattern::Gpt4);
    for part in [
        &format!("Stopped at {} of the 4096 tokens", t.vocab_size()),
        "every word of the text is already one token",
        "no pair is left to merge",
        &format!("{} merges were all this text allows", t.merges.len()),
        "too small for this vocabulary",
    ] {
        assert!(sentence.contains(part), "{part:?} in {sentence:?}");
    }
    // Without a split pattern, the whole text becomes one token.
    let (t, report) =
        train_bpe_report("abab abab", &opts(400, Pattern::None, &[]), |_| true).unwrap();
    assert_eq!(report.stop, BpeStop::NoPairLeft);
    assert_eq!(t.encode("abab abab").len(), 1);
    assert!(report.sentence(Pattern::None).contains("the whole text"));
}

#[test]
fn full_vocabulary_and_the_first_merge_of_a_pair_seen_once() {
    let text = prose();
    let mut progress_counts = Vec::new();
    let (t, report) = train_bpe_report(&text, &opts(600, Pattern::Gpt2, &["<|endoftext|>"]), |p| {
        progress_counts.push(p.count);
        true
    })
    .unwrap();
    assert_eq!(report.stop, BpeStop::VocabularyFull);
    assert_eq!((report.vocab_asked, report.vocab_size), (600, 600));
    assert_eq!(report.merges_possible, None);
    assert_eq!(report.merge_counts.len(), t.merges.len());
    assert!(
        report.merge_counts.windows(2).all(|w| w[0] >= w[1]),
        "counts never grow"
    );
    assert_eq!(report.merge_counts[0], progress_counts[0]);
    assert!(report.sentence(Pattern::Gpt2).starts_with(&format!(
        "Learned {} merges: the vocabulary is full (600 tokens)",
        t.merges.len()
    )));

    // A small text: the pairs run out of repeats before the vocabulary fills up.
    let small = "the cat sat on the mat, the hat";
    let (t, report) = train_bpe_report(small, &opts(262, Pattern::Gpt2, &[]), |_| true).unwrap();
    let k = report
        .first_single_merge
        .expect("a pair seen once was merged");
    assert_eq!(report.merge_counts[k - 1], 1);
    assert!(report.merge_counts[..k - 1].iter().all(|&c| c >= 2));
    assert!(report.merge_counts[k - 1..].iter().all(|&c| c == 1));
    assert!(t.vocab_size() == 262 || report.stopped_early());
    assert!(
        report
            .sentence(Pattern::Gpt2)
            .contains(&format!("from merge {k} on no pair occurred twice"))
    );
    // Plenty of repeats: no merge of a pair seen once.
    let (_, report) =
        train_bpe_report(&"ab cd ".repeat(50), &opts(258, Pattern::Gpt2, &[]), |_| {
            true
        })
        .unwrap();
    assert_eq!(report.first_single_merge, None);
    assert_eq!(report.stop, BpeStop::VocabularyFull);
}
