//! Tests of the stories grammar: the text is parsed back with the rules [`super`] documents.

use super::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Number {
    Singular,
    Plural,
}

/// What the start of a clause says about its subject.
struct Subject {
    number: Number,
    /// Index of the verb that must agree.
    verb_at: usize,
    /// The person (or group) named, which later pronouns must agree with.
    names: Option<Pronoun>,
    /// The pronoun used as the subject, if any.
    pronoun: Option<Pronoun>,
}

fn noun_number(word: &str) -> Option<Number> {
    if OBJECTS.iter().any(|o| o.0 == word) || OTHER_NOUNS.contains(&word) {
        Some(Number::Singular)
    } else if OBJECTS.iter().any(|o| o.1 == word) || GROUPS.contains(&word) {
        Some(Number::Plural)
    } else {
        None
    }
}

fn person(word: &str) -> Option<Pronoun> {
    PEOPLE.iter().find(|p| p.0 == word).map(|p| p.1)
}

/// Index of the noun after a determiner at `at`, skipping adjectives.
fn noun_after(words: &[&str], at: usize) -> usize {
    let mut i = at + 1;
    while i < words.len() && ADJECTIVES.contains(&words[i]) {
        i += 1;
    }
    i
}

fn parse_subject(words: &[&str]) -> Result<Option<Subject>, String> {
    let w0 = words[0];
    let lower = w0.to_ascii_lowercase();
    let simple = |number, pronoun| Subject {
        number,
        verb_at: 1,
        names: None,
        pronoun,
    };
    Ok(Some(match lower.as_str() {
        // `There is a ...` / `There are three ...`: the number is in the word after the verb.
        "there" => {
            let ok = match (words.get(1), words.get(2)) {
                (Some(&"is"), Some(a)) => *a == "a" || *a == "an",
                (Some(&"are"), Some(n)) => NUMBERS.contains(n) || COUNTING.contains(n),
                _ => false,
            };
            return if ok {
                Ok(None)
            } else {
                Err("bad 'there is/are'".into())
            };
        }
        "where" => {
            let noun = noun_after(words, 2);
            let number = words
                .get(noun)
                .and_then(|w| noun_number(w))
                .ok_or("no noun")?;
            // The verb comes first in a question.
            return if words[1]
                == if number == Number::Singular {
                    "is"
                } else {
                    "are"
                } {
                Ok(None)
            } else {
                Err("question does not agree".into())
            };
        }
        "thank" => return Ok(None),
        "he" => simple(Number::Singular, Some(Pronoun::He)),
        "she" => simple(Number::Singular, Some(Pronoun::She)),
        "it" => simple(Number::Singular, None),
        "they" => simple(Number::Plural, Some(Pronoun::They)),
        "we" | "you" => simple(Number::Plural, None),
        "the" => {
            if words.len() == 2 && words[1] == "end" {
                return Ok(None);
            }
            let noun = noun_after(words, 0);
            let word = words.get(noun).ok_or("no noun after 'the'")?;
            let number = noun_number(word).ok_or(format!("unknown noun {word:?}"))?;
            Subject {
                number,
                verb_at: noun + 1,
                names: GROUPS.contains(word).then_some(Pronoun::They),
                pronoun: None,
            }
        }
        _ => {
            let pronoun = person(w0).ok_or(format!("unknown first word {w0:?}"))?;
            if words.get(1) == Some(&"and") {
                person(words.get(2).copied().unwrap_or("")).ok_or("'and' without a name")?;
                Subject {
                    number: Number::Plural,
                    verb_at: 3,
                    names: Some(Pronoun::They),
                    pronoun: None,
                }
            } else {
                Subject {
                    number: Number::Singular,
                    verb_at: 1,
                    names: Some(pronoun),
                    pronoun: None,
                }
            }
        }
    }))
}

fn agrees(word: &str, number: Number) -> bool {
    VERBS.iter().any(|v| match number {
        Number::Singular => v.0 == word,
        Number::Plural => v.1 == word,
    })
}

fn is_verb(word: &str) -> bool {
    VERBS.iter().any(|v| v.0 == word || v.1 == word)
}

/// Splits a paragraph into clauses: at `.`, `!`, `?` and at quotes; reports whether each is quoted.
fn clauses(paragraph: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in paragraph.chars() {
        match c {
            '.' | '!' | '?' | '"' => {
                if !current.trim().is_empty() {
                    out.push((current.trim().to_string(), quoted));
                }
                current.clear();
                if c == '"' {
                    quoted = !quoted;
                }
            }
            _ => current.push(c),
        }
    }
    assert!(!quoted, "unclosed quote in {paragraph:?}");
    assert!(
        current.trim().is_empty(),
        "text after the last sentence: {paragraph:?}"
    );
    out
}

#[derive(Default, Debug)]
struct Report {
    clauses: usize,
    checked: usize,
    pronouns: [usize; 3],
    second_verbs: usize,
    det_noun_verbs: usize,
    stories: usize,
    errors: Vec<String>,
}

fn check_text(text: &str) -> Report {
    let mut r = Report::default();
    let paragraphs: Vec<&str> = text.trim_end().split("\n\n").collect();
    let mut in_story = false;
    for paragraph in paragraphs {
        assert!(
            !paragraph.contains('\n') && !paragraph.is_empty(),
            "{paragraph:?}"
        );
        if !paragraph.ends_with(['.', '!', '?', '"']) {
            // A title: must start a story, after the previous one ended.
            assert!(!in_story, "title inside a story: {paragraph:?}");
            in_story = true;
            r.stories += 1;
            continue;
        }
        assert!(in_story, "paragraph outside a story: {paragraph:?}");
        if paragraph == "The end." {
            in_story = false;
            continue;
        }
        let mut last: Option<Pronoun> = None;
        for (clause, quoted) in clauses(paragraph) {
            r.clauses += 1;
            let mut body = clause.as_str();
            if let Some(o) = OPENERS.iter().find(|o| body.starts_with(&format!("{o}, "))) {
                body = &body[o.len() + 2..];
            }
            let words: Vec<&str> = body
                .split_whitespace()
                .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
                .filter(|w| !w.is_empty())
                .collect();
            let subject = match parse_subject(&words) {
                Ok(Some(s)) => s,
                Ok(None) => continue,
                Err(e) => {
                    r.errors.push(format!("{e}: {clause:?}"));
                    continue;
                }
            };
            r.checked += 1;
            let verb = words.get(subject.verb_at).copied().unwrap_or("");
            if !agrees(verb, subject.number) {
                r.errors
                    .push(format!("verb {verb:?} disagrees: {clause:?}"));
            }
            // A second verb joined by `and` agrees with the same subject.
            for pair in words[subject.verb_at..].windows(2) {
                if pair[0] == "and" && is_verb(pair[1]) {
                    r.second_verbs += 1;
                    if !agrees(pair[1], subject.number) {
                        r.errors.push(format!("second verb disagrees: {clause:?}"));
                    }
                }
            }
            if quoted {
                continue;
            }
            if let Some(p) = subject.pronoun {
                r.pronouns[p as usize] += 1;
                if last != Some(p) {
                    r.errors.push(format!(
                        "pronoun {p:?} after {last:?} in {clause:?} of {paragraph:?}"
                    ));
                }
            } else if let Some(p) = subject.names {
                last = Some(p);
            }
        }
        // Anywhere in the paragraph: `the/my [adjectives] noun is|are|has|have` agrees.
        let words: Vec<&str> = paragraph
            .split_whitespace()
            .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
            .collect();
        for i in 0..words.len() {
            if !matches!(words[i], "the" | "The" | "my") {
                continue;
            }
            let noun = noun_after(&words, i);
            let (Some(n), Some(v)) = (
                words.get(noun).and_then(|w| noun_number(w)),
                words.get(noun + 1),
            ) else {
                continue;
            };
            if matches!(*v, "is" | "are" | "has" | "have") {
                r.det_noun_verbs += 1;
                if !agrees(v, n) {
                    r.errors
                        .push(format!("'{} {v}' disagrees in {paragraph:?}", words[noun]));
                }
            }
        }
    }
    assert!(!in_story, "the last story has no end");
    r
}

#[test]
fn stories_agree_and_pronouns_follow_the_named_character() {
    for seed in [1, 2, 3] {
        let text = generate_stories(seed, 100_000);
        let r = check_text(&text);
        assert!(
            r.errors.is_empty(),
            "{} errors, first: {:?}",
            r.errors.len(),
            &r.errors[..r.errors.len().min(5)]
        );
        // The checks really ran: most clauses have a parsed subject, every pronoun and form occurs.
        assert!(r.stories > 50, "{r:?}");
        assert!(r.checked * 10 > r.clauses * 8, "{r:?}");
        assert!(r.pronouns.iter().all(|&n| n > 100), "{r:?}");
        assert!(r.second_verbs > 50 && r.det_noun_verbs > 200, "{r:?}");
    }
}

#[test]
fn stories_check_catches_broken_agreement() {
    // The checker must be able to fail: break one verb, one pronoun, one `the X is`.
    let ok = "Title\n\nMira is kind. She has a key.\n\nThe end.\n";
    assert!(check_text(ok).errors.is_empty());
    for bad in [
        "Title\n\nMira are kind. She has a key.\n\nThe end.\n",
        "Title\n\nMira is kind. He has a key.\n\nThe end.\n",
        "Title\n\nRobin is kind. They has a key.\n\nThe end.\n",
        "Title\n\nThe twins is here. They sit down and rests.\n\nThe end.\n",
        "Title\n\nTom sits down and rest.\n\nThe end.\n",
        "Title\n\nTom looks in the river, but the keys is not there.\n\nThe end.\n",
        "Title\n\nThere is three cups.\n\nThe end.\n",
        "Title\n\nShe is kind.\n\nThe end.\n",
    ] {
        assert!(!check_text(bad).errors.is_empty(), "not caught: {bad:?}");
    }
}

#[test]
fn stories_singular_they_is_used() {
    let text = generate_stories(5, 200_000);
    // `Robin`/`Kit` take singular verbs by name and plural ones as `they`.
    assert!(text.contains("Robin is ") || text.contains("Kit is "));
    assert!(text.contains(". They are ") || text.contains(". They have "));
}

#[test]
fn stories_sample_reads_like_the_docs_say() {
    let text = generate_stories(1, 1);
    println!("{text}");
    assert!(text.ends_with("The end.\n"));
    assert!(text.split("\n\n").count() >= 4);
}
