use super::*;
use crate::corpus::translation::{ADJECTIVES, ARTICLES, NOUNS, PLURAL_SUFFIX, TIME_WORDS, VERBS};

#[test]
fn names_round_trip_and_errors_list_them() {
    for &task in Seq2SeqTask::all() {
        assert_eq!(Seq2SeqTask::from_name(task.name()).unwrap(), task);
        assert!(task.description().ends_with('.'));
    }
    assert_eq!(
        Seq2SeqTask::from_name(" REV ").unwrap(),
        Seq2SeqTask::Reverse
    );
    let message = Seq2SeqTask::from_name("brackets").unwrap_err().to_string();
    assert!(message.contains("'brackets'"), "{message}");
    for &task in Seq2SeqTask::all() {
        assert!(message.contains(task.name()), "{message}");
    }
}

#[test]
fn same_seed_same_pairs_different_seed_different_pairs() {
    for &task in Seq2SeqTask::all() {
        let a = generate_pairs(task, 5, 200, None).unwrap();
        assert_eq!(
            a,
            generate_pairs(task, 5, 200, None).unwrap(),
            "{}",
            task.name()
        );
        assert_ne!(
            a,
            generate_pairs(task, 6, 200, None).unwrap(),
            "{}",
            task.name()
        );
        assert_eq!(a.len(), 200);
    }
}

#[test]
fn algorithmic_pairs_are_the_task_lines_without_word_and_separator() {
    // The same generator as the text corpora: the same seed gives the same examples.
    let text = crate::corpus::generate(crate::corpus::Corpus::Reverse, 3, 2000);
    let pairs = generate_pairs(Seq2SeqTask::Reverse, 3, text.lines().count(), None).unwrap();
    for (line, pair) in text.lines().zip(&pairs) {
        assert_eq!(line, format!("rev {} > {}", pair.source, pair.target));
    }
    let add = generate_pairs(Seq2SeqTask::Addition, 1, 50, None).unwrap();
    assert!(
        add.iter()
            .all(|p| p.source.contains('+') && !p.target.contains(' '))
    );
}

#[test]
fn every_target_is_the_rule_applied_to_its_source() {
    let lengths = Lengths::new(8, 12).unwrap();
    for &task in Seq2SeqTask::all() {
        let lengths = (task != Seq2SeqTask::Translate).then_some(lengths);
        for pair in generate_pairs(task, 11, 500, lengths).unwrap() {
            assert_eq!(
                task.solve(&pair.source).unwrap(),
                pair.target,
                "{}: {pair:?}",
                task.name()
            );
            if let Some(l) = lengths
                && task != Seq2SeqTask::Addition
            {
                assert!((l.min..=l.max).contains(&pair.source.len()), "{pair:?}");
            }
        }
    }
}

/// The made-up language checked by a rule stated differently from the generator's: each English noun phrase,
/// read backwards and translated word by word, is the made-up one; the subject's and the object's phrases come
/// first, the verb last, a time word in front.
#[test]
fn translation_targets_follow_the_mirror_rule() {
    let word = |english: &str| -> String {
        let tables = [&NOUNS[..], &ADJECTIVES[..], &ARTICLES[..], &TIME_WORDS[..]];
        for table in tables {
            if let Some(&(_, m)) = table.iter().find(|&&(e, _)| e == english) {
                return m.to_string();
            }
        }
        let stem = english.strip_suffix('s').expect("a plural noun");
        let (_, m) = NOUNS.iter().find(|&&(e, _)| e == stem).expect("a noun");
        format!("{m}{PLURAL_SUFFIX}")
    };
    let is_verb = |w: &str| VERBS.iter().any(|&(e, _)| w == e || w == format!("{e}s"));
    let pairs = generate_pairs(Seq2SeqTask::Translate, 21, 400, None).unwrap();
    let mut with_time = 0;
    for pair in &pairs {
        let words: Vec<&str> = pair.source.split(' ').collect();
        let v = words.iter().position(|w| is_verb(w)).expect("a verb");
        let mut object: Vec<&str> = words[v + 1..].to_vec();
        let time = TIME_WORDS
            .iter()
            .any(|&(e, _)| object.last() == Some(&e))
            .then(|| object.pop().unwrap());
        let mut expected: Vec<String> = time.map(word).into_iter().collect();
        expected.extend(words[..v].iter().rev().map(|w| word(w)));
        expected.extend(object.iter().rev().map(|w| word(w)));
        let verb = words[v];
        let (_, m) = VERBS
            .iter()
            .find(|&&(e, _)| verb == e || verb == format!("{e}s"))
            .unwrap();
        expected.push(m.to_string());
        assert_eq!(pair.target, expected.join(" "), "{pair:?}");
        with_time += usize::from(time.is_some());
    }
    // Time words, plurals and adjectives all occur.
    assert!(with_time > 50 && with_time < 200, "{with_time}");
    assert!(pairs.iter().any(|p| p.target.contains(PLURAL_SUFFIX)));
    assert!(pairs.iter().any(|p| p.source.split(' ').count() >= 9));
}

#[test]
fn translation_examples_and_agreement() {
    let t = |s: &str| translation::translate(s).unwrap();
    assert_eq!(
        t("the big red dog sees a small cat today"),
        "hodi wuma rasa belo lo sipo tunu na venu"
    );
    assert_eq!(t("some dogs see the cat"), "wumako mi sipo lo venu");
    // English agreement is checked: the verb must agree with its subject, articles with the number.
    for bad in [
        "the dog see the cat",
        "the dogs sees the cat",
        "a dogs sees the cat",
        "the dog sees",
    ] {
        assert!(translation::translate(bad).is_err(), "{bad}");
    }
    let err = translation::translate("the unicorn sees a cat")
        .unwrap_err()
        .to_string();
    assert!(err.contains("'unicorn'"), "{err}");
}

#[test]
fn validation_sources_are_unseen_and_distinct() {
    for &task in Seq2SeqTask::all() {
        let (train, val) = train_val_pairs(task, 4, 2000, 200, None).unwrap();
        assert_eq!((train.len(), val.len()), (2000, 200), "{}", task.name());
        let seen: std::collections::HashSet<&str> =
            train.iter().map(|p| p.source.as_str()).collect();
        let mut val_sources = std::collections::HashSet::new();
        for pair in &val {
            assert!(!seen.contains(pair.source.as_str()), "{pair:?}");
            assert!(val_sources.insert(pair.source.as_str()), "{pair:?} twice");
        }
    }
}

#[test]
fn bad_input_is_an_error() {
    let err = generate_pairs(
        Seq2SeqTask::Translate,
        1,
        3,
        Some(Lengths { min: 2, max: 3 }),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("translate"), "{err}");
    assert!(generate_pairs(Seq2SeqTask::Sort, 1, 3, Some(Lengths { min: 4, max: 2 })).is_err());
    assert!(Seq2SeqTask::Sort.solve("12a").is_err());
    assert!(Seq2SeqTask::Addition.solve("12").is_err());
    assert!(Seq2SeqTask::Copy.solve("").is_err());
    assert_eq!(Seq2SeqTask::Addition.solve("99+1").unwrap(), "100");
}
