//! A made-up language to translate into: its own words and a different word order, so that a seq2seq
//! model's cross-attention has to learn an alignment that is not monotonic.
//!
//! ```text
//! English (subject verb object):   the big red dog sees a small cat today
//! Made-up (time subject object verb, adjectives after the noun in mirror order, article last):
//!                                  hodi wuma rasa belo lo sipo tunu na venu
//! ```
//!
//! Rules (a test re-derives every target from its source with them):
//! - a noun phrase `article adjective* noun` becomes `noun adjective* article` with the adjectives in
//!   reverse order: `the big red dog` -> `wuma rasa belo lo` (dog red big the);
//! - the sentence `subject verb object` becomes `subject object verb`; a time word at the end of the English
//!   sentence comes first;
//! - a plural noun (`dogs`) takes the suffix `ko` (`wumako`); English verbs agree with their subject
//!   (`the dog sees`, `the dogs see`), the made-up verb does not (`venu` for both); plural nouns take `the`
//!   or `some` (`lo`, `mi`), singular ones `the` or `a` (`lo`, `na`).
//!
//! The lexicon is fixed (the same language for every seed); a seed chooses the sentences.

use crate::rng::Rng;
use crate::{Result, invalid_input};

/// (English singular, made-up) nouns. The English plural adds `s`.
pub const NOUNS: [(&str, &str); 16] = [
    ("dog", "wuma"),
    ("cat", "sipo"),
    ("bird", "tiki"),
    ("horse", "gando"),
    ("farmer", "peluni"),
    ("king", "oru"),
    ("queen", "orami"),
    ("girl", "lisa"),
    ("boy", "dabo"),
    ("frog", "kuro"),
    ("apple", "mela"),
    ("book", "fenu"),
    ("stone", "taka"),
    ("ship", "navi"),
    ("cloud", "umbe"),
    ("baker", "pani"),
];

/// (English, made-up) adjectives.
pub const ADJECTIVES: [(&str, &str); 12] = [
    ("big", "belo"),
    ("small", "tunu"),
    ("red", "rasa"),
    ("green", "vidi"),
    ("old", "semo"),
    ("young", "jova"),
    ("happy", "hapa"),
    ("sad", "tiro"),
    ("tall", "alto"),
    ("quiet", "muda"),
    ("blue", "azu"),
    ("brave", "koru"),
];

/// (English base form, made-up) verbs. The English third person singular adds `s`.
pub const VERBS: [(&str, &str); 12] = [
    ("see", "venu"),
    ("like", "amira"),
    ("find", "trova"),
    ("follow", "segu"),
    ("help", "juta"),
    ("know", "sabe"),
    ("paint", "pinta"),
    ("call", "kama"),
    ("want", "vola"),
    ("hear", "odi"),
    ("pull", "tira"),
    ("visit", "vizi"),
];

/// (English, made-up) articles: `the` for both numbers, `a` singular only, `some` plural only.
pub const ARTICLES: [(&str, &str); 3] = [("the", "lo"), ("a", "na"), ("some", "mi")];

/// (English, made-up) time words; English puts them last, the made-up language first.
pub const TIME_WORDS: [(&str, &str); 4] = [
    ("today", "hodi"),
    ("again", "danu"),
    ("yesterday", "ieri"),
    ("now", "ora"),
];

/// The suffix of a plural noun in the made-up language.
pub const PLURAL_SUFFIX: &str = "ko";

/// Most adjectives one noun phrase gets.
pub const MAX_ADJECTIVES: usize = 2;

struct NounPhrase {
    article: usize,
    adjectives: Vec<usize>,
    noun: usize,
    plural: bool,
}

impl NounPhrase {
    fn random(rng: &mut Rng) -> NounPhrase {
        let plural = rng.chance(0.3);
        // Singular: the or a; plural: the or some.
        let article = if rng.chance(0.5) {
            0
        } else if plural {
            2
        } else {
            1
        };
        let count = rng.range(0, MAX_ADJECTIVES);
        let mut adjectives = Vec::with_capacity(count);
        while adjectives.len() < count {
            let a = rng.below(ADJECTIVES.len());
            if !adjectives.contains(&a) {
                adjectives.push(a);
            }
        }
        NounPhrase {
            article,
            adjectives,
            noun: rng.below(NOUNS.len()),
            plural,
        }
    }

    fn english(&self, out: &mut Vec<String>) {
        out.push(ARTICLES[self.article].0.to_string());
        out.extend(self.adjectives.iter().map(|&a| ADJECTIVES[a].0.to_string()));
        let noun = NOUNS[self.noun].0;
        out.push(if self.plural {
            format!("{noun}s")
        } else {
            noun.to_string()
        });
    }

    fn made_up(&self, out: &mut Vec<String>) {
        let noun = NOUNS[self.noun].1;
        out.push(if self.plural {
            format!("{noun}{PLURAL_SUFFIX}")
        } else {
            noun.to_string()
        });
        out.extend(
            self.adjectives
                .iter()
                .rev()
                .map(|&a| ADJECTIVES[a].1.to_string()),
        );
        out.push(ARTICLES[self.article].1.to_string());
    }
}

/// One random sentence pair: (English, made-up), words separated by single spaces.
pub fn random_pair(rng: &mut Rng) -> (String, String) {
    let subject = NounPhrase::random(rng);
    let verb = rng.below(VERBS.len());
    let object = NounPhrase::random(rng);
    let time = rng.chance(0.3).then(|| rng.below(TIME_WORDS.len()));

    let mut english = Vec::new();
    subject.english(&mut english);
    let base = VERBS[verb].0;
    english.push(if subject.plural {
        base.to_string()
    } else {
        format!("{base}s")
    });
    object.english(&mut english);
    if let Some(time) = time {
        english.push(TIME_WORDS[time].0.to_string());
    }

    let mut made_up = Vec::new();
    if let Some(time) = time {
        made_up.push(TIME_WORDS[time].1.to_string());
    }
    subject.made_up(&mut made_up);
    object.made_up(&mut made_up);
    made_up.push(VERBS[verb].1.to_string());
    (english.join(" "), made_up.join(" "))
}

/// The made-up translation of an English sentence of this grammar (`the big dog sees a cat today`); an error
/// names the first word or place that does not fit it.
pub fn translate(english: &str) -> Result<String> {
    let words: Vec<&str> = english.split_whitespace().collect();
    let mut at = 0;
    let subject = parse_noun_phrase(&words, &mut at)?;
    let Some(verb_word) = words.get(at) else {
        invalid_input!("'{english}' has no verb after its subject");
    };
    let verb = VERBS
        .iter()
        .position(|&(base, _)| {
            let agreeing = if subject.plural {
                base.to_string()
            } else {
                format!("{base}s")
            };
            *verb_word == agreeing
        })
        .ok_or_else(|| {
            crate::Error::InvalidInput(format!(
                "'{verb_word}' is not a verb of the translation task agreeing with its subject"
            ))
        })?;
    at += 1;
    let object = parse_noun_phrase(&words, &mut at)?;
    let time = match words.get(at) {
        None => None,
        Some(word) => Some(lookup(&TIME_WORDS, word, "time word")?),
    };
    if at + usize::from(time.is_some()) != words.len() {
        invalid_input!("'{english}' goes on after the sentence ends");
    }
    let mut out = Vec::new();
    if let Some(time) = time {
        out.push(TIME_WORDS[time].1.to_string());
    }
    subject.made_up(&mut out);
    object.made_up(&mut out);
    out.push(VERBS[verb].1.to_string());
    Ok(out.join(" "))
}

fn lookup(table: &[(&str, &str)], word: &str, what: &str) -> Result<usize> {
    table
        .iter()
        .position(|&(english, _)| english == word)
        .ok_or_else(|| {
            crate::Error::InvalidInput(format!("'{word}' is not a {what} of the translation task"))
        })
}

fn parse_noun_phrase(words: &[&str], at: &mut usize) -> Result<NounPhrase> {
    let Some(&first) = words.get(*at) else {
        invalid_input!("a noun phrase is missing at the end of the sentence");
    };
    let article = lookup(&ARTICLES, first, "article")?;
    *at += 1;
    let mut adjectives = Vec::new();
    while let Some(a) = words
        .get(*at)
        .and_then(|w| ADJECTIVES.iter().position(|&(e, _)| e == *w))
    {
        adjectives.push(a);
        *at += 1;
    }
    let Some(&noun_word) = words.get(*at) else {
        invalid_input!("the noun phrase starting with '{first}' has no noun");
    };
    *at += 1;
    let (stem, plural) = match noun_word.strip_suffix('s') {
        Some(stem) if NOUNS.iter().any(|&(e, _)| e == stem) => (stem, true),
        _ => (noun_word, false),
    };
    let noun = lookup(&NOUNS, stem, "noun")?;
    if (plural && article == 1) || (!plural && article == 2) {
        invalid_input!("'{first} {noun_word}': 'a' goes with one thing and 'some' with several");
    }
    Ok(NounPhrase {
        article,
        adjectives,
        noun,
        plural,
    })
}
