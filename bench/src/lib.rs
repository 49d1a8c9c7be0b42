//! Shared inputs for the benchmarks and cross-checks: deterministic English-like text and strings that
//! stress tokenizers.

/// A small deterministic generator (64-bit LCG, high bits out), so inputs are the same everywhere.
pub struct Lcg(u64);

impl Lcg {
    pub fn new(seed: u64) -> Lcg {
        Lcg(seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407))
    }
    pub fn next_u32(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 32) as u32
    }
    /// Uniform in 0..n.
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u32() as u64 * n as u64) >> 32) as usize
    }
}

const WORDS: &[&str] = &[
    "the",
    "of",
    "and",
    "to",
    "a",
    "in",
    "is",
    "it",
    "you",
    "that",
    "he",
    "was",
    "for",
    "on",
    "are",
    "with",
    "as",
    "I",
    "his",
    "they",
    "be",
    "at",
    "one",
    "have",
    "this",
    "from",
    "or",
    "had",
    "by",
    "hot",
    "word",
    "but",
    "what",
    "some",
    "we",
    "can",
    "out",
    "other",
    "were",
    "all",
    "there",
    "when",
    "up",
    "use",
    "your",
    "how",
    "said",
    "an",
    "each",
    "she",
    "which",
    "do",
    "their",
    "time",
    "if",
    "will",
    "way",
    "about",
    "many",
    "then",
    "them",
    "write",
    "would",
    "like",
    "so",
    "these",
    "her",
    "long",
    "make",
    "thing",
    "see",
    "him",
    "two",
    "has",
    "look",
    "more",
    "day",
    "could",
    "go",
    "come",
    "did",
    "number",
    "sound",
    "no",
    "most",
    "people",
    "my",
    "over",
    "know",
    "water",
    "than",
    "call",
    "first",
    "who",
    "may",
    "down",
    "side",
    "been",
    "now",
    "find",
    "any",
    "new",
    "work",
    "part",
    "take",
    "get",
    "place",
    "made",
    "live",
    "where",
    "after",
    "back",
    "little",
    "only",
    "round",
    "man",
    "year",
    "came",
    "show",
    "every",
    "good",
    "me",
    "give",
    "our",
    "under",
    "name",
    "very",
    "through",
    "just",
    "form",
    "sentence",
    "great",
    "think",
    "say",
    "help",
    "low",
    "line",
    "differ",
    "turn",
    "cause",
    "much",
    "mean",
    "before",
    "move",
    "right",
    "boy",
    "old",
    "too",
    "same",
    "tell",
    "does",
    "set",
    "three",
    "want",
    "air",
    "well",
    "also",
    "play",
    "small",
    "end",
    "put",
    "home",
    "read",
    "hand",
    "port",
    "large",
    "spell",
    "add",
    "even",
    "land",
    "here",
    "must",
    "big",
    "high",
    "such",
    "follow",
    "act",
    "why",
    "ask",
    "men",
    "change",
    "went",
    "light",
    "kind",
    "off",
    "need",
    "house",
    "picture",
    "try",
    "us",
    "again",
    "animal",
    "point",
    "mother",
    "world",
    "near",
    "build",
    "self",
    "earth",
    "father",
    "transformer",
    "attention",
    "gradient",
    "tokenizer",
    "embedding",
    "layer",
    "don't",
    "it's",
    "we'll",
    "they're",
    "I've",
    "can't",
    "learning",
    "network",
    "model",
    "training",
];

/// About `n_bytes` of English-like text: Zipf-ish word choice, sentences with capitals, commas,
/// numbers, quotes and paragraphs. Deterministic for a given seed.
pub fn english_like_text(n_bytes: usize, seed: u64) -> String {
    let mut rng = Lcg::new(seed);
    let mut out = String::with_capacity(n_bytes + 100);
    let mut sentence_start = true;
    while out.len() < n_bytes {
        // Zipf-like: the square of a uniform favours the first words.
        let u = rng.below(1 << 16) as f64 / 65536.0;
        let word = WORDS[((u * u * u) * WORDS.len() as f64) as usize];
        if sentence_start {
            let mut c = word.chars();
            let first = c.next().unwrap_or('a').to_ascii_uppercase();
            out.push(first);
            out.push_str(c.as_str());
            sentence_start = false;
        } else {
            out.push_str(word);
        }
        match rng.below(100) {
            0..=69 => out.push(' '),
            70..=77 => out.push_str(", "),
            78..=79 => {
                out.push(' ');
                out.push_str(&(rng.below(2030)).to_string());
                out.push(' ');
            }
            80..=81 => out.push_str(" \""),
            82..=89 => {
                out.push_str(". ");
                sentence_start = true;
            }
            90..=91 => {
                out.push_str("? ");
                sentence_start = true;
            }
            92..=94 => {
                out.push_str(".\n\n");
                sentence_start = true;
            }
            95 => out.push_str("; "),
            96 => out.push_str(" - "),
            97 => out.push_str("  "),
            _ => out.push_str("\" "),
        }
    }
    out
}

/// Strings that stress pre-tokenization, UTF-8 handling and special tokens.
pub const ADVERSARIAL: &[&str] = &[
    "",
    " ",
    "   ",
    "\n",
    "\r\n\r\n",
    "\n\n\n  \n x",
    "Hello, world! It's 2024; we'll see. DON'T SHOUT'S",
    "  leading and trailing  ",
    "tabs\tand\u{0B}vertical\u{0C}feeds\t\tx",
    "日本語のテキスト、漢字とかな。中文也可以。",
    "한국어 텍스트",
    "emoji 👍🏽👨‍👩‍👧‍👦 🇫🇷 flags",
    "combining e\u{301} a\u{308}\u{304} z\u{336}",
    "controls \u{0}\u{1}\u{1F}\u{7F}\u{85}\u{200B}\u{FEFF} end",
    "numbers 1234567 ١٢٣ ⅷ ½ 3.14159",
    "long s: it'ſ and it'S and IT'LL 'RE'VE'M'D",
    "'s't're've'm'll'd 's 't",
    "\"quoted\"\r\n\t?!\n\nok",
    "<|endoftext|>",
    "a<|endoftext|>b<|endoftext|><|endoftext|>",
    "[PAD][MASK] [BOS]x[EOS]",
    "<|endoftext|<|endoftext|>>",
    "\u{10FFFF}\u{E000}\u{FFFD}",
    "\u{3000}full\u{3000}\u{3000}width\u{2028}sep\u{A0}nbsp",
    "x  \u{A0} y",
    "The quick brown fox jumps over the lazy dog. The END.",
];

/// Random strings over a palette that mixes the classes the split patterns care about.
pub fn random_strings(count: usize, max_len: usize, seed: u64) -> Vec<String> {
    const PALETTE: &[char] = &[
        'a', 'b', 'Z', 's', 'S', 't', 'r', 'e', 'l', 'L', 'd', 'm', 'v', 'ſ', '\'', ' ', ' ', ' ',
        '\n', '\r', '\t', '\u{0B}', '\u{A0}', '\u{3000}', '0', '1', '9', '½', '٣', '.', ',', '!',
        '"', '-', 'é', '\u{301}', '漢', '👍', '\u{200D}', '\u{0}', '<', '|', '>',
    ];
    let mut rng = Lcg::new(seed);
    (0..count)
        .map(|_| {
            let len = rng.below(max_len + 1);
            (0..len)
                .map(|_| PALETTE[rng.below(PALETTE.len())])
                .collect()
        })
        .collect()
}
