//! Pre-tokenization: cutting text into chunks before BPE, so that merges never cross a chunk boundary.
//!
//! The GPT-2 and GPT-4 (tiktoken `cl100k_base`) split patterns are regular expressions with a look-ahead
//! (`\s+(?!\S)`), which the `regex` crate cannot run. Instead of a backtracking regex engine, this file is a
//! small hand-written scanner that returns exactly the matches the backtracking engines (`fancy-regex`,
//! Oniguruma, Python's `regex`) return for those patterns: at each position it tries the alternatives in
//! order, like the regex does, and takes the first that matches. The character classes are Unicode's:
//! `\p{L}` (general category Letter), `\p{N}` (Number), `\s` (White_Space).
//!
//! The HF compatibility test in `bench/tests/hf_compat.rs` checks this scanner against `fancy-regex`
//! through the `tokenizers` crate.

use super::unicode_table::letter_or_number;

/// How text is cut into chunks before BPE.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pattern {
    /// No pre-tokenization: the whole text (between special tokens) is one chunk.
    None,
    /// GPT-2's pattern.
    Gpt2,
    /// GPT-4's pattern (tiktoken `cl100k_base`).
    Gpt4,
}

/// GPT-2's split pattern, as written into tokenizer.json for Hugging Face's `Split` pre-tokenizer.
pub const GPT2_REGEX: &str =
    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

/// GPT-4's (cl100k_base) split pattern, as written into tokenizer.json.
pub const GPT4_REGEX: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

impl Pattern {
    /// Parses `none`, `gpt2` or `gpt4`.
    pub fn parse(name: &str) -> crate::Result<Pattern> {
        match name.to_ascii_lowercase().as_str() {
            "none" | "" => Ok(Pattern::None),
            "gpt2" => Ok(Pattern::Gpt2),
            "gpt4" | "cl100k" => Ok(Pattern::Gpt4),
            other => crate::invalid_input!(
                "unknown pre-tokenization pattern '{other}': use none, gpt2 or gpt4"
            ),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Pattern::None => "none",
            Pattern::Gpt2 => "gpt2",
            Pattern::Gpt4 => "gpt4",
        }
    }

    /// The regular expression this pattern stands for (None for no pre-tokenization).
    pub fn regex(self) -> Option<&'static str> {
        match self {
            Pattern::None => None,
            Pattern::Gpt2 => Some(GPT2_REGEX),
            Pattern::Gpt4 => Some(GPT4_REGEX),
        }
    }

    /// Calls `f` with each chunk of `text`, in order; the chunks concatenate to `text`.
    pub fn split<'a>(self, text: &'a str, mut f: impl FnMut(&'a str)) {
        if text.is_empty() {
            return;
        }
        match self {
            Pattern::None => f(text),
            Pattern::Gpt2 | Pattern::Gpt4 => {
                let mut start = 0;
                while start < text.len() {
                    let len = if self == Pattern::Gpt2 {
                        gpt2_match(&text[start..])
                    } else {
                        gpt4_match(&text[start..])
                    };
                    debug_assert!(len > 0);
                    f(&text[start..start + len]);
                    start += len;
                }
            }
        }
    }

    /// The chunks of `text` as a vector (convenience for tests and tools).
    pub fn split_to_vec(self, text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        self.split(text, |chunk| out.push(chunk));
        out
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Letter,
    Number,
    Space,
    Other,
}

#[inline]
fn class(c: char) -> Class {
    if c.is_ascii() {
        // Fast path: the common case in English text.
        return if c.is_ascii_alphabetic() {
            Class::Letter
        } else if c.is_ascii_digit() {
            Class::Number
        } else if c.is_ascii_whitespace() || c == '\u{0B}' {
            // \s includes vertical tab (U+000B), which is_ascii_whitespace leaves out.
            Class::Space
        } else {
            Class::Other
        };
    }
    if c.is_whitespace() {
        return Class::Space;
    }
    match letter_or_number(c) {
        1 => Class::Letter,
        2 => Class::Number,
        _ => Class::Other,
    }
}

/// Byte length of the run of characters at the start of `s` for which `pred` holds.
#[inline]
fn run_len(s: &str, pred: impl Fn(char) -> bool) -> usize {
    s.char_indices()
        .find(|&(_, c)| !pred(c))
        .map_or(s.len(), |(i, _)| i)
}

/// The first char of `s` and its byte length.
#[inline]
fn first(s: &str) -> Option<(char, usize)> {
    s.chars().next().map(|c| (c, c.len_utf8()))
}

/// Length of an English contraction at the start of `s` ('s 't 're 've 'm 'll 'd), 0 if none.
/// `fold` makes it case-insensitive as `(?i:...)` does, where Unicode simple case folding also
/// matches 'ſ' (U+017F, long s) for 's'.
fn contraction(s: &str, fold: bool) -> usize {
    let b = s.as_bytes();
    if b.first() != Some(&b'\'') {
        return 0;
    }
    let rest = &s[1..];
    let lower = |c: char| {
        if fold {
            if c == 'ſ' {
                's'
            } else {
                c.to_ascii_lowercase()
            }
        } else {
            c
        }
    };
    let mut chars = rest.chars();
    let Some(c1) = chars.next() else { return 0 };
    let c1l = lower(c1);
    if matches!(c1l, 's' | 't' | 'm' | 'd') {
        return 1 + c1.len_utf8();
    }
    let Some(c2) = chars.next() else { return 0 };
    let c2l = lower(c2);
    match (c1l, c2l) {
        ('r', 'e') | ('v', 'e') | ('l', 'l') => 1 + c1.len_utf8() + c2.len_utf8(),
        _ => 0,
    }
}

/// `\s+(?!\S)|\s+` at the start of `s`, whose first char is whitespace: the whitespace run, less its last
/// char when a non-space follows and the run has more than one char.
fn trailing_space_rule(s: &str) -> usize {
    let run = run_len(s, |c| class(c) == Class::Space);
    if run == s.len() {
        return run;
    }
    let last = s[..run].chars().next_back().map_or(0, char::len_utf8);
    if run > last { run - last } else { run }
}

/// Length of GPT-2's match at the start of `s` (non-empty).
/// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
fn gpt2_match(s: &str) -> usize {
    let n = contraction(s, false);
    if n > 0 {
        return n;
    }
    let (c, clen) = first(s).expect("non-empty");
    let cls = class(c);
    // ` ?X+` for X in letters, numbers, others: the optional space, then a run of the class.
    let (body_start, body_cls) = if c == ' ' {
        match first(&s[1..]) {
            Some((d, _)) if class(d) != Class::Space => (1, class(d)),
            _ => (0, cls),
        }
    } else {
        (0, cls)
    };
    if body_cls != Class::Space {
        return body_start + run_len(&s[body_start..], |d| class(d) == body_cls);
    }
    debug_assert!(clen > 0);
    trailing_space_rule(s)
}

/// Length of GPT-4's match at the start of `s` (non-empty).
/// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
fn gpt4_match(s: &str) -> usize {
    let n = contraction(s, true);
    if n > 0 {
        return n;
    }
    let (c, clen) = first(s).expect("non-empty");
    let cls = class(c);
    let is_letter = |d: char| class(d) == Class::Letter;
    let is_newline = |d: char| d == '\r' || d == '\n';
    // [^\r\n\p{L}\p{N}]?\p{L}+
    if cls == Class::Letter {
        return run_len(s, is_letter);
    }
    if cls != Class::Number && !is_newline(c) {
        if let Some((d, _)) = first(&s[clen..]) {
            if is_letter(d) {
                return clen + run_len(&s[clen..], is_letter);
            }
        }
    }
    // \p{N}{1,3}
    if cls == Class::Number {
        let mut len = 0;
        for d in s.chars().take(3) {
            if class(d) != Class::Number {
                break;
            }
            len += d.len_utf8();
        }
        return len;
    }
    // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
    let body_start = if c == ' ' {
        match first(&s[1..]) {
            Some((d, _)) if class(d) == Class::Other => 1,
            _ => 0,
        }
    } else {
        0
    };
    let body = run_len(&s[body_start..], |d| class(d) == Class::Other);
    if body > 0 {
        let end = body_start + body;
        return end + run_len(&s[end..], is_newline);
    }
    // Here c is whitespace. `\s*[\r\n]+`: the whitespace run up to and including its last newline.
    let run = run_len(s, |d| class(d) == Class::Space);
    if let Some(pos) = s[..run].rfind(['\r', '\n']) {
        return pos + 1;
    }
    trailing_space_rule(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpt2_split_matches_known_chunks() {
        let text = "Hello world's  it's\n\n  42 3.14 !!! \t x  ";
        assert_eq!(
            Pattern::Gpt2.split_to_vec(text),
            vec![
                "Hello", " world", "'s", " ", " it", "'s", "\n\n ", " 42", " 3", ".", "14", " !!!",
                " \t", " x", "  "
            ]
        );
        assert_eq!(
            Pattern::Gpt2.split_to_vec("I'M don'T"),
            vec!["I", "'", "M", " don", "'", "T"]
        );
    }

    #[test]
    fn gpt4_split_matches_known_chunks() {
        let text = "Hello world's  it'S\n\n  12345 \"quoted\"\r\n\tTab ?!\n\nx";
        assert_eq!(
            Pattern::Gpt4.split_to_vec(text),
            vec![
                "Hello", " world", "'s", " ", " it", "'S", "\n\n", " ", " ", "123", "45", " \"",
                "quoted", "\"\r\n", "\tTab", " ?!\n\n", "x"
            ]
        );
        // Long s folds to s under (?i).
        assert_eq!(Pattern::Gpt4.split_to_vec("it'ſ"), vec!["it", "'ſ"]);
        assert_eq!(
            Pattern::Gpt4.split_to_vec("  \n  hi"),
            vec!["  \n", " ", " hi"]
        );
    }

    #[test]
    fn chunks_concatenate_to_input() {
        for text in [
            "",
            " ",
            "\u{3000}漢字\u{3000} テスト",
            "e\u{301}t\u{E9}",
            "👍🏽 emoji 🇫🇷",
            "\u{0}\u{1}\u{7f}\u{0B}\u{85}x",
            "'",
            "' ",
            "a'",
        ] {
            for pattern in [Pattern::None, Pattern::Gpt2, Pattern::Gpt4] {
                let chunks = pattern.split_to_vec(text);
                assert_eq!(chunks.concat(), text, "{pattern:?} on {text:?}");
                assert!(chunks.iter().all(|c| !c.is_empty()));
            }
        }
    }

    #[test]
    fn parse_rejects_unknown_pattern() {
        let err = Pattern::parse("gpt5").unwrap_err().to_string();
        assert!(
            err.contains("unknown pre-tokenization pattern 'gpt5'"),
            "{err}"
        );
        assert_eq!(Pattern::parse("GPT4").unwrap(), Pattern::Gpt4);
    }
}
