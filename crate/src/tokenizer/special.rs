//! Finding special tokens in text: they are cut out before pre-tokenization, so they are never split or
//! merged. Matching is leftmost-longest, as in Hugging Face's added-token matcher: at the first position
//! where any special token starts, the longest one that matches there wins.

/// A piece of text between special tokens, or a special token's id.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Piece<'a> {
    Text(&'a str),
    Special(u32),
}

#[derive(Clone, Debug)]
pub(crate) struct SpecialMatcher {
    /// (content, id), longest first, so the first match at a position is the longest.
    specials: Vec<(String, u32)>,
    /// Bytes that start some special token.
    first_bytes: Box<[bool; 256]>,
}

impl SpecialMatcher {
    pub(crate) fn new(specials: &[(String, u32)]) -> SpecialMatcher {
        let mut sorted: Vec<(String, u32)> = specials
            .iter()
            .filter(|(s, _)| !s.is_empty())
            .cloned()
            .collect();
        crate::sort::sort_by(&mut sorted, |a, b| {
            b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0))
        });
        let mut first_bytes = Box::new([false; 256]);
        for (s, _) in &sorted {
            first_bytes[s.as_bytes()[0] as usize] = true;
        }
        SpecialMatcher {
            specials: sorted,
            first_bytes,
        }
    }

    /// Calls `f` with the pieces of `text` in order: non-empty text gaps and special token ids.
    pub(crate) fn split<'a>(&self, text: &'a str, mut f: impl FnMut(Piece<'a>)) {
        if self.specials.is_empty() {
            if !text.is_empty() {
                f(Piece::Text(text));
            }
            return;
        }
        let bytes = text.as_bytes();
        let mut gap_start = 0;
        let mut i = 0;
        while i < bytes.len() {
            if self.first_bytes[bytes[i] as usize] {
                let rest = &bytes[i..];
                if let Some((s, id)) = self
                    .specials
                    .iter()
                    .find(|(s, _)| rest.starts_with(s.as_bytes()))
                {
                    if gap_start < i {
                        f(Piece::Text(&text[gap_start..i]));
                    }
                    f(Piece::Special(*id));
                    i += s.len();
                    gap_start = i;
                    continue;
                }
            }
            i += 1;
        }
        if gap_start < text.len() {
            f(Piece::Text(&text[gap_start..]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leftmost_longest() {
        let m = SpecialMatcher::new(&[("<a>".into(), 7), ("<a>b".into(), 8), ("b<".into(), 9)]);
        let mut pieces = Vec::new();
        m.split("x<a>b<a>yb<a>", |p| pieces.push(p));
        assert_eq!(
            pieces,
            vec![
                Piece::Text("x"),
                Piece::Special(8),
                Piece::Special(7),
                Piece::Text("y"),
                Piece::Special(9),
                Piece::Text("a>")
            ]
        );
    }
}
