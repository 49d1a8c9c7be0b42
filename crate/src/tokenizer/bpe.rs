//! Byte-level BPE (GPT-2 / minbpe): training, encoding and decoding.
//!
//! Ids 0..=255 are the bytes, ids 256.. the merged tokens in the order they were learned, then the special
//! tokens. Training repeatedly merges the most frequent adjacent pair of tokens into a new token.
//!
//! Tie rule: between equally frequent pairs the smallest `(left id, right id)`, compared lexicographically,
//! is merged first. This makes training deterministic and independent of hash order.
//!
//! When a merge produces a byte string that is already a token (`(a, bc)` after `(ab, c)`), the merge is
//! recorded and reuses that token's id, as Hugging Face's trainer does; the vocabulary grows only by new
//! byte strings, so training may take more merges than `vocab_size - 256`.
//!
//! Training counts the pairs once, then updates the counts incrementally: chunks are deduplicated with
//! their counts; every pair keeps its count and the positions where it was created; a max-heap of
//! (count, pair) with lazy invalidation (an entry is stale when its count no longer matches) picks the
//! next merge. Only the positions of the merged pair are visited.
//!
//! Encoding a chunk applies merges lowest rank first, leftmost first among equal ranks, exactly as
//! Hugging Face's `BPE` model does; repeated chunks are looked up in a per-call cache.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use super::pretokenize::Pattern;
use super::special::{Piece, SpecialMatcher};
use crate::{Error, Result};

/// The largest vocabulary (bytes, merges and special tokens together): ids fit in a u16.
pub const MAX_VOCAB_SIZE: usize = 65536;

/// What `train_bpe` builds.
#[derive(Clone, Debug)]
pub struct BpeOptions {
    /// Total vocabulary: 256 bytes + merged tokens + special tokens.
    pub vocab_size: usize,
    pub pattern: Pattern,
    /// Strings that are always one token, never split or merged (`<|endoftext|>`, `[PAD]`, ..).
    pub special_tokens: Vec<String>,
}

/// One step of training, as reported to the progress callback.
#[derive(Clone, Debug, serde::Serialize)]
pub struct BpeProgress {
    /// New tokens learned so far, of `total` wanted.
    pub done: usize,
    pub total: usize,
    /// The pair just merged (left id, right id) and the token it became.
    pub merge: (u32, u32),
    pub token: u32,
    /// How often the pair occurred in the corpus as it was tokenized just before this merge (what a
    /// naive recount of all pairs at that point finds; the highest such count, see the tie rule).
    pub count: u64,
}

/// Why BPE training ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum BpeStop {
    /// The vocabulary reached the size asked for.
    VocabularyFull,
    /// Every chunk of the text (every word, with the GPT-2 and GPT-4 patterns) became a single token, so
    /// no pair of neighbouring tokens is left to merge: the text is too small for the vocabulary asked for.
    NoPairLeft,
}

/// What a training run did besides building the tokenizer: why it stopped, and how far it got.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BpeReport {
    pub stop: BpeStop,
    /// The vocabulary asked for and the one trained (smaller when training stopped early); both count the
    /// 256 bytes and the special tokens.
    pub vocab_asked: usize,
    pub vocab_size: usize,
    /// Merges learned. A merge that rebuilds a byte string already in the vocabulary adds no token, so
    /// this can exceed `vocab_size - 256 - specials`.
    pub merges: usize,
    /// With `NoPairLeft`, the most merges this text allows with this pattern (every one was made, so it
    /// equals `merges`); `None` when the vocabulary filled up first (the text allowed more).
    pub merges_possible: Option<usize>,
    /// The number (1-based) of the first merge whose pair occurred only once in the text. Pair counts
    /// never grow, so from this merge on no pair occurs twice: the later merges each memorise one piece of
    /// the text. `None` when every merge's pair occurred at least twice.
    pub first_single_merge: Option<usize>,
    /// How often each merge's pair occurred when it was merged, in rank order.
    pub merge_counts: Vec<u64>,
}

impl BpeReport {
    /// Whether training stopped before the vocabulary reached the size asked for.
    pub fn stopped_early(&self) -> bool {
        self.stop == BpeStop::NoPairLeft
    }

    /// One or two sentences for people: how training ended and, when it stopped early, why and what to do.
    pub fn sentence(&self, pattern: Pattern) -> String {
        let singles = match self.first_single_merge {
            Some(k) if k <= 1 => {
                "; no pair occurred twice, so every merge memorised a piece of the text".to_string()
            }
            Some(k) => format!(
                "; from merge {k} on no pair occurred twice, so the later merges memorise pieces of the text"
            ),
            None => String::new(),
        };
        match self.stop {
            BpeStop::VocabularyFull => format!(
                "Learned {} merges: the vocabulary is full ({} tokens){singles}.",
                self.merges, self.vocab_size
            ),
            BpeStop::NoPairLeft => {
                let what = match pattern {
                    Pattern::None => "the whole text (between special tokens) is one token",
                    _ => "every word of the text is already one token",
                };
                format!(
                    "Stopped at {} of the {} tokens asked for: {what}, so no pair is left to merge \
                     ({} merges were all this text allows{singles}). The text is too small for this \
                     vocabulary: use more text, or a vocabulary of at most {}.",
                    self.vocab_size, self.vocab_asked, self.merges, self.vocab_size
                )
            }
        }
    }
}

/// A fast hasher for small integer keys (pairs packed into a u64) and short byte strings.
#[derive(Default, Clone, Copy)]
pub(crate) struct FastHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl Hasher for FastHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let x = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            self.write_u64(x);
        }
        let mut tail = 0u64;
        for (i, &b) in chunks.remainder().iter().enumerate() {
            tail |= (b as u64) << (8 * i);
        }
        self.write_u64(tail ^ bytes.len() as u64);
    }
    #[inline]
    fn write_u8(&mut self, x: u8) {
        self.write_u64(x as u64)
    }
    #[inline]
    fn write_u32(&mut self, x: u32) {
        self.write_u64(x as u64)
    }
    #[inline]
    fn write_usize(&mut self, x: usize) {
        self.write_u64(x as u64)
    }
    #[inline]
    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(SEED);
    }
}

pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

#[inline]
fn pair_key(a: u32, b: u32) -> u64 {
    ((a as u64) << 32) | b as u64
}

#[inline]
fn unpack(key: u64) -> (u32, u32) {
    ((key >> 32) as u32, key as u32)
}

const NONE: u32 = u32::MAX;

/// A trained (or loaded) byte-level BPE tokenizer.
#[derive(Clone, Debug)]
pub struct BpeTokenizer {
    pub(crate) pattern: Pattern,
    /// id -> the bytes it stands for (special tokens: their UTF-8 content).
    pub(crate) vocab: Vec<Vec<u8>>,
    /// rank -> (left, right, merged token id).
    pub(crate) merges: Vec<(u32, u32, u32)>,
    /// (content, id), in id order.
    pub(crate) specials: Vec<(String, u32)>,
    /// byte value -> its token id.
    pub(crate) byte_ids: Box<[u32; 256]>,
    /// (left, right) -> (rank, merged id).
    merge_map: FastMap<u64, (u32, u32)>,
    matcher: SpecialMatcher,
}

impl PartialEq for BpeTokenizer {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern
            && self.vocab == other.vocab
            && self.merges == other.merges
            && self.specials == other.specials
            && self.byte_ids == other.byte_ids
    }
}

impl BpeTokenizer {
    /// Builds a tokenizer from its parts, checking that they fit together.
    pub(crate) fn from_parts(
        pattern: Pattern,
        vocab: Vec<Vec<u8>>,
        merges: Vec<(u32, u32, u32)>,
        specials: Vec<(String, u32)>,
    ) -> Result<BpeTokenizer> {
        let n = vocab.len();
        if n > MAX_VOCAB_SIZE {
            return Err(Error::Format(format!(
                "the vocabulary has {n} tokens, more than the limit of {MAX_VOCAB_SIZE}"
            )));
        }
        let mut byte_ids = Box::new([NONE; 256]);
        let mut is_special = vec![false; n];
        for (content, id) in &specials {
            match is_special.get_mut(*id as usize) {
                Some(flag) => *flag = true,
                None => {
                    return Err(Error::Format(format!(
                        "special token {content:?} has id {id}, outside the vocabulary of {n}"
                    )));
                }
            }
        }
        for (id, bytes) in vocab.iter().enumerate() {
            if bytes.len() == 1 && !is_special[id] && byte_ids[bytes[0] as usize] == NONE {
                byte_ids[bytes[0] as usize] = id as u32;
            }
        }
        if let Some(b) = byte_ids.iter().position(|&id| id == NONE) {
            return Err(Error::Format(format!(
                "the vocabulary has no token for byte 0x{b:02X}: a byte-level BPE needs all 256 bytes"
            )));
        }
        let mut merge_map = FastMap::default();
        for (rank, &(a, b, c)) in merges.iter().enumerate() {
            let (Some(va), Some(vb), Some(vc)) = (
                vocab.get(a as usize),
                vocab.get(b as usize),
                vocab.get(c as usize),
            ) else {
                return Err(Error::Format(format!(
                    "merge {rank} refers to a token id outside the vocabulary of {n}"
                )));
            };
            if va.len() + vb.len() != vc.len() || !vc.starts_with(va) || !vc.ends_with(vb) {
                return Err(Error::Format(format!(
                    "merge {rank} ({a}, {b}) -> {c} does not concatenate its two tokens"
                )));
            }
            merge_map.entry(pair_key(a, b)).or_insert((rank as u32, c));
        }
        let matcher = SpecialMatcher::new(&specials);
        Ok(BpeTokenizer {
            pattern,
            vocab,
            merges,
            specials,
            byte_ids,
            merge_map,
            matcher,
        })
    }

    pub fn vocab_size(&self) -> usize {
        self.vocab.len()
    }

    pub fn pattern(&self) -> Pattern {
        self.pattern
    }

    /// The merges in rank order: (left id, right id, merged id).
    pub fn merges(&self) -> &[(u32, u32, u32)] {
        &self.merges
    }

    /// The bytes a token stands for, None for an unknown id.
    pub fn token_bytes(&self, id: u32) -> Option<&[u8]> {
        self.vocab.get(id as usize).map(Vec::as_slice)
    }

    /// The special tokens (content, id).
    pub fn special_tokens(&self) -> &[(String, u32)] {
        &self.specials
    }

    pub fn is_special(&self, id: u32) -> bool {
        self.specials.iter().any(|&(_, s)| s == id)
    }

    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut out = Vec::with_capacity(text.len() / 3 + 1);
        let mut cache: FastMap<&str, (u32, u32)> = FastMap::default();
        let mut cached_ids: Vec<u32> = Vec::new();
        let mut work = Work::default();
        self.matcher.split(text, |piece| match piece {
            Piece::Special(id) => out.push(id),
            Piece::Text(gap) => self.pattern.split(gap, |chunk| {
                if chunk.len() == 1 {
                    out.push(self.byte_ids[chunk.as_bytes()[0] as usize]);
                } else if self.pattern == Pattern::None {
                    self.encode_chunk(chunk.as_bytes(), &mut work, &mut out);
                } else if let Some(&(start, len)) = cache.get(chunk) {
                    out.extend_from_slice(&cached_ids[start as usize..(start + len) as usize]);
                } else {
                    let start = out.len();
                    self.encode_chunk(chunk.as_bytes(), &mut work, &mut out);
                    let cached_start = cached_ids.len() as u32;
                    cached_ids.extend_from_slice(&out[start..]);
                    cache.insert(chunk, (cached_start, (out.len() - start) as u32));
                }
            }),
        });
        out
    }

    /// Appends the tokens of one chunk (no special tokens in it) to `out`.
    fn encode_chunk(&self, bytes: &[u8], work: &mut Work, out: &mut Vec<u32>) {
        let sym = &mut work.sym;
        sym.clear();
        sym.extend(bytes.iter().map(|&b| self.byte_ids[b as usize]));
        if sym.len() <= 32 {
            // Short chunks: find the lowest-rank (then leftmost) pair, merge it, repeat.
            loop {
                let mut best = (u32::MAX, 0usize, 0u32);
                for i in 0..sym.len().saturating_sub(1) {
                    if let Some(&(rank, c)) = self.merge_map.get(&pair_key(sym[i], sym[i + 1])) {
                        if rank < best.0 {
                            best = (rank, i, c);
                        }
                    }
                }
                if best.0 == u32::MAX {
                    break;
                }
                sym[best.1] = best.2;
                sym.remove(best.1 + 1);
            }
            out.extend_from_slice(sym);
            return;
        }
        // Long chunks: a linked list over positions and a min-heap of (rank, position).
        let n = sym.len();
        let (next, prev, heap) = (&mut work.next, &mut work.prev, &mut work.heap);
        next.clear();
        prev.clear();
        heap.clear();
        next.extend((1..=n as u32).map(|i| if i as usize == n { NONE } else { i }));
        prev.extend((0..n as u32).map(|i| if i == 0 { NONE } else { i - 1 }));
        for i in 0..n - 1 {
            if let Some(&(rank, _)) = self.merge_map.get(&pair_key(sym[i], sym[i + 1])) {
                heap.push(Reverse((rank, i as u32)));
            }
        }
        while let Some(Reverse((rank, pos))) = heap.pop() {
            let p = pos as usize;
            if sym[p] == NONE || next[p] == NONE {
                continue;
            }
            let q = next[p] as usize;
            let Some(&(r, c)) = self.merge_map.get(&pair_key(sym[p], sym[q])) else {
                continue;
            };
            if r != rank {
                continue;
            }
            sym[p] = c;
            sym[q] = NONE;
            next[p] = next[q];
            if next[q] != NONE {
                prev[next[q] as usize] = pos;
            }
            if prev[p] != NONE {
                let l = prev[p];
                if let Some(&(r, _)) = self.merge_map.get(&pair_key(sym[l as usize], c)) {
                    heap.push(Reverse((r, l)));
                }
            }
            if next[p] != NONE {
                if let Some(&(r, _)) = self.merge_map.get(&pair_key(c, sym[next[p] as usize])) {
                    heap.push(Reverse((r, pos)));
                }
            }
        }
        let mut i = 0u32;
        while i != NONE {
            out.push(sym[i as usize]);
            i = next[i as usize];
        }
    }

    /// The text of `ids`; bytes that do not form valid UTF-8 become U+FFFD. Unknown ids are an error.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        let mut bytes = Vec::with_capacity(ids.len() * 4);
        for &id in ids {
            match self.vocab.get(id as usize) {
                Some(b) => bytes.extend_from_slice(b),
                None => {
                    return Err(Error::InvalidInput(format!(
                        "token id {id} is not in the vocabulary (ids go from 0 to {})",
                        self.vocab.len() - 1
                    )));
                }
            }
        }
        Ok(match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }
}

/// Reusable buffers for encoding chunks.
#[derive(Default)]
struct Work {
    sym: Vec<u32>,
    next: Vec<u32>,
    prev: Vec<u32>,
    heap: BinaryHeap<Reverse<(u32, u32)>>,
}

/// Checks the options, before any work is done.
fn check_options(corpus: &str, options: &BpeOptions) -> Result<()> {
    if corpus.is_empty() {
        crate::invalid_input!("the corpus is empty: BPE needs some text to learn merges from");
    }
    let n_special = options.special_tokens.len();
    if options.vocab_size < 256 + n_special {
        crate::invalid_input!(
            "vocab size {} is too small: byte-level BPE needs at least 256 (the bytes) + {n_special} (special tokens)",
            options.vocab_size
        );
    }
    if options.vocab_size > MAX_VOCAB_SIZE {
        crate::invalid_input!(
            "vocab size {} is above the limit of {MAX_VOCAB_SIZE}",
            options.vocab_size
        );
    }
    for (i, s) in options.special_tokens.iter().enumerate() {
        if s.is_empty() {
            crate::invalid_input!("special token {i} is empty");
        }
        if options.special_tokens[..i].contains(s) {
            crate::invalid_input!("special token {s:?} is given twice");
        }
    }
    Ok(())
}

/// Learns a byte-level BPE from `corpus`. `progress` is called after every new token; returning false
/// stops training with `Error::Cancelled`. [`train_bpe_report`] also says why training stopped.
pub fn train_bpe(
    corpus: &str,
    options: &BpeOptions,
    progress: impl FnMut(&BpeProgress) -> bool,
) -> Result<BpeTokenizer> {
    train_bpe_report(corpus, options, progress).map(|(tokenizer, _)| tokenizer)
}

/// [`train_bpe`], with the report of how training ended: the vocabulary full, or stopped early because
/// no pair was left to merge (the text is too small for the vocabulary asked for).
pub fn train_bpe_report(
    corpus: &str,
    options: &BpeOptions,
    mut progress: impl FnMut(&BpeProgress) -> bool,
) -> Result<(BpeTokenizer, BpeReport)> {
    check_options(corpus, options)?;
    let specials_in: Vec<(String, u32)> = options
        .special_tokens
        .iter()
        .enumerate()
        .map(|(i, s)| (s.clone(), i as u32))
        .collect();
    let matcher = SpecialMatcher::new(&specials_in);

    // Distinct chunks with their counts. Chunks of one byte hold no pair.
    let mut chunk_counts: FastMap<&str, u64> = FastMap::default();
    let mut chunk_order: Vec<&str> = Vec::new();
    matcher.split(corpus, |piece| {
        if let Piece::Text(gap) = piece {
            options.pattern.split(gap, |chunk| {
                if chunk.len() > 1 {
                    let count = chunk_counts.entry(chunk).or_insert_with(|| {
                        chunk_order.push(chunk);
                        0
                    });
                    *count += 1;
                }
            });
        }
    });

    // All distinct chunks back to back; next/prev link positions within a chunk (NONE at its ends).
    let total: usize = chunk_order.iter().map(|c| c.len()).sum();
    let mut sym: Vec<u32> = Vec::with_capacity(total);
    let mut next: Vec<u32> = Vec::with_capacity(total);
    let mut prev: Vec<u32> = Vec::with_capacity(total);
    let mut weight: Vec<u64> = Vec::with_capacity(total);
    for chunk in &chunk_order {
        let count = chunk_counts[chunk];
        let start = sym.len() as u32;
        let n = chunk.len() as u32;
        for (i, &b) in chunk.as_bytes().iter().enumerate() {
            let i = i as u32;
            sym.push(b as u32);
            next.push(if i + 1 < n { start + i + 1 } else { NONE });
            prev.push(if i > 0 { start + i - 1 } else { NONE });
            weight.push(count);
        }
    }
    drop(chunk_counts);

    // pair -> (count, positions of its left token where the pair was formed; may hold stale entries).
    let mut pairs: FastMap<u64, (i64, Vec<u32>)> = FastMap::default();
    for p in 0..sym.len() {
        if next[p] != NONE {
            let e = pairs
                .entry(pair_key(sym[p], sym[next[p] as usize]))
                .or_default();
            e.0 += weight[p] as i64;
            e.1.push(p as u32);
        }
    }
    let mut heap: BinaryHeap<(i64, Reverse<u64>)> =
        pairs.iter().map(|(&k, v)| (v.0, Reverse(k))).collect();

    let mut vocab: Vec<Vec<u8>> = (0..=255u8).map(|b| vec![b]).collect();
    let mut vocab_ids: FastMap<Vec<u8>, u32> = vocab
        .iter()
        .enumerate()
        .map(|(i, b)| (b.clone(), i as u32))
        .collect();
    let mut merges: Vec<(u32, u32, u32)> = Vec::new();
    let mut merge_counts: Vec<u64> = Vec::new();
    let mut first_single_merge: Option<usize> = None;
    let mut merged: FastMap<u64, ()> = FastMap::default();
    let target = options.vocab_size - options.special_tokens.len();
    let mut changed: Vec<u64> = Vec::new();

    while vocab.len() < target {
        let Some((count, Reverse(key))) = heap.pop() else {
            break; // every chunk is a single token
        };
        let Some(entry) = pairs.get_mut(&key) else {
            continue;
        };
        if entry.0 != count || count <= 0 {
            continue; // stale: a fresher entry for this pair is in the heap
        }
        let (a, b) = unpack(key);
        let mut bytes = vocab[a as usize].clone();
        bytes.extend_from_slice(&vocab[b as usize]);
        let c = match vocab_ids.get(&bytes) {
            Some(&id) => id,
            None => {
                let id = vocab.len() as u32;
                vocab_ids.insert(bytes.clone(), id);
                vocab.push(bytes);
                id
            }
        };
        // A pair can form again after it was merged, when a later merge reuses the id of its left or
        // right token; its occurrences are merged again but the merge is recorded only once, so every
        // pair has one rank (as Hugging Face's merge map needs).
        if merged.insert(key, ()).is_none() {
            merges.push((a, b, c));
            merge_counts.push(count as u64);
            if count == 1 && first_single_merge.is_none() {
                first_single_merge = Some(merges.len());
            }
        }

        let mut positions = std::mem::take(&mut entry.1);
        crate::sort::sort_u32(&mut positions);
        changed.clear();
        let mut add = |pairs: &mut FastMap<u64, (i64, Vec<u32>)>, k: u64, w: i64, pos: u32| {
            let e = pairs.entry(k).or_default();
            e.0 += w;
            if w > 0 {
                e.1.push(pos);
            }
            changed.push(k);
        };
        for &pos in &positions {
            let p = pos as usize;
            if sym[p] != a || next[p] == NONE || sym[next[p] as usize] != b {
                continue; // stale, or consumed by an overlapping merge (a a a)
            }
            let q = next[p] as usize;
            let w = weight[p] as i64;
            if prev[p] != NONE {
                let l = prev[p];
                let x = sym[l as usize];
                add(&mut pairs, pair_key(x, a), -w, l);
                add(&mut pairs, pair_key(x, c), w, l);
            }
            if next[q] != NONE {
                let y = sym[next[q] as usize];
                add(&mut pairs, pair_key(b, y), -w, pos);
                add(&mut pairs, pair_key(c, y), w, pos);
            }
            add(&mut pairs, key, -w, pos);
            sym[p] = c;
            sym[q] = NONE;
            next[p] = next[q];
            if next[q] != NONE {
                prev[next[q] as usize] = pos;
            }
        }
        crate::sort::sort_u64(&mut changed);
        changed.dedup();
        for &k in &changed {
            let e = &pairs[&k];
            debug_assert!(e.0 >= 0, "pair count went negative");
            if e.0 > 0 {
                heap.push((e.0, Reverse(k)));
            }
        }
        if let Some(e) = pairs.get(&key) {
            if e.0 <= 0 {
                pairs.remove(&key);
            }
        }
        let report = BpeProgress {
            done: vocab.len() - 256,
            total: target - 256,
            merge: (a, b),
            token: c,
            count: count as u64,
        };
        if !progress(&report) {
            return Err(Error::Cancelled);
        }
    }

    // The loop ends early only when the heap ran dry: every chunk is one token.
    let stop = if vocab.len() < target {
        BpeStop::NoPairLeft
    } else {
        BpeStop::VocabularyFull
    };
    // Special tokens come last, after the learned tokens.
    let mut specials = Vec::new();
    for s in &options.special_tokens {
        let id = vocab.len() as u32;
        vocab.push(s.as_bytes().to_vec());
        specials.push((s.clone(), id));
    }
    let tokenizer = BpeTokenizer::from_parts(options.pattern, vocab, merges, specials)?;
    super::json::check_special_names(&tokenizer)?;
    let report = BpeReport {
        stop,
        vocab_asked: options.vocab_size,
        vocab_size: tokenizer.vocab_size(),
        merges: tokenizer.merges.len(),
        merges_possible: (stop == BpeStop::NoPairLeft).then_some(tokenizer.merges.len()),
        first_single_merge,
        merge_counts,
    };
    Ok((tokenizer, report))
}
