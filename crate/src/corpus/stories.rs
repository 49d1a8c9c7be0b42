//! Stories: small English-like tales from a probabilistic grammar, for a character-level model.
//!
//! The grammar is built so that its structure is visible and checkable:
//! - present tense throughout, so subject-verb agreement shows in the letters (`Mira walks`, `the twins walk`,
//!   `the key is`, `the keys are`, `there is a`, `there are three`);
//! - every clause starts with its subject (after an optional opener such as `One day, `), then its verb;
//! - a pronoun always refers to the most recent person subject of the same paragraph, and agrees with it
//!   (`Mira` -> `she`, `Tom` -> `he`, `Robin` -> `they`, `Mira and Tom` -> `they`; singular `they` takes
//!   plural verbs: `Robin is kind. They are happy.`);
//! - each paragraph names its character before any pronoun; paragraphs are one line, separated by a blank
//!   line; a story starts with a title line and ends with `The end.`;
//! - four templates (a lost thing, a walk with counting, a gift, a week of days) with recurring refrains.
//!
//! The tests at the bottom parse the text back with these rules.

use crate::rng::Rng;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pronoun {
    He,
    She,
    They,
}

impl Pronoun {
    fn word(self, capital: bool) -> &'static str {
        match (self, capital) {
            (Pronoun::He, true) => "He",
            (Pronoun::He, false) => "he",
            (Pronoun::She, true) => "She",
            (Pronoun::She, false) => "she",
            (Pronoun::They, true) => "They",
            (Pronoun::They, false) => "they",
        }
    }
}

/// The cast: a name and the pronoun the stories use for that person.
pub(crate) const PEOPLE: &[(&str, Pronoun)] = &[
    ("Mira", Pronoun::She),
    ("Tom", Pronoun::He),
    ("Ada", Pronoun::She),
    ("Leo", Pronoun::He),
    ("Nora", Pronoun::She),
    ("Ben", Pronoun::He),
    ("Robin", Pronoun::They),
    ("Kit", Pronoun::They),
    ("Ivy", Pronoun::She),
    ("Max", Pronoun::He),
];

/// Groups that act together (always plural, always `they`).
pub(crate) const GROUPS: &[&str] = &["twins", "children", "sailors", "neighbours"];

/// Things, singular and plural.
pub(crate) const OBJECTS: &[(&str, &str)] = &[
    ("key", "keys"),
    ("lamp", "lamps"),
    ("book", "books"),
    ("box", "boxes"),
    ("boat", "boats"),
    ("hat", "hats"),
    ("map", "maps"),
    ("cake", "cakes"),
    ("stone", "stones"),
    ("kite", "kites"),
    ("letter", "letters"),
    ("cup", "cups"),
    ("shell", "shells"),
    ("apple", "apples"),
    ("bell", "bells"),
];

/// Singular nouns that appear as subjects outside [`OBJECTS`].
// The grammar's vocabulary as a table, read by the tests that parse the text back.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) const OTHER_NOUNS: &[&str] = &["sun", "wind", "sea", "sky", "gift", "road"];

pub(crate) const PLACES: &[&str] = &[
    "the market",
    "the old mill",
    "the river",
    "the forest",
    "the harbour",
    "the library",
    "the hill",
    "the garden",
    "the bakery",
    "the bridge",
    "the station",
    "the beach",
];

pub(crate) const ADJECTIVES: &[&str] = &[
    "red", "small", "old", "shiny", "blue", "heavy", "tiny", "wooden", "green", "golden", "little",
    "strange",
];
const ROLES: &[&str] = &[
    "baker", "sailor", "painter", "farmer", "teacher", "fisher", "gardener", "tailor",
];
const TRAITS: &[&str] = &[
    "kind", "brave", "quiet", "clever", "cheerful", "busy", "curious",
];
const WEATHER: &[&str] = &["sunny", "rainy", "windy", "cold", "warm", "grey", "bright"];
pub(crate) const NUMBERS: &[&str] = &["two", "three", "four", "five", "six"];
const COUNTING: &[&str] = &["one", "two", "three", "four", "five", "six"];
const DAYS: &[&str] = &[
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// Words that open a sentence before its subject, always followed by `, `.
// The grammar's vocabulary as a table, read by the tests that parse the text back.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) const OPENERS: &[&str] = &[
    "Once upon a time",
    "One day",
    "One morning",
    "Every morning",
    "Every day",
    "The next day",
    "After a while",
    "In the evening",
    "At last",
    "Then",
    "Soon",
    "First",
    "Next",
    "Inside",
    "On Monday",
    "On Tuesday",
    "On Wednesday",
    "On Thursday",
    "On Friday",
    "On Saturday",
    "On Sunday",
];

/// A verb in the present tense: the form after a singular subject, and the form after a plural one
/// (or after `they`, `we`, `you`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Verb(pub &'static str, pub &'static str);

const BE: Verb = Verb("is", "are");
const HAVE: Verb = Verb("has", "have");
const DO: Verb = Verb("does", "do");
const WALK: Verb = Verb("walks", "walk");
const LOOK: Verb = Verb("looks", "look");
const FIND: Verb = Verb("finds", "find");
const GO: Verb = Verb("goes", "go");
const CARRY: Verb = Verb("carries", "carry");
const SMILE: Verb = Verb("smiles", "smile");
const RUN: Verb = Verb("runs", "run");
const SAY: Verb = Verb("says", "say");
const WANT: Verb = Verb("wants", "want");
const SIT: Verb = Verb("sits", "sit");
const ASK: Verb = Verb("asks", "ask");
const GIVE: Verb = Verb("gives", "give");
const TAKE: Verb = Verb("takes", "take");
const LOVE: Verb = Verb("loves", "love");
const MEET: Verb = Verb("meets", "meet");
const COUNT: Verb = Verb("counts", "count");
const MAKE: Verb = Verb("makes", "make");
const COME: Verb = Verb("comes", "come");
const LIVE: Verb = Verb("lives", "live");
const VISIT: Verb = Verb("visits", "visit");
const SEARCH: Verb = Verb("searches", "search");
const FEEL: Verb = Verb("feels", "feel");
const PICK: Verb = Verb("picks", "pick");
const PLAY: Verb = Verb("plays", "play");
const PAINT: Verb = Verb("paints", "paint");
const WRAP: Verb = Verb("wraps", "wrap");
const OPEN: Verb = Verb("opens", "open");
const LAUGH: Verb = Verb("laughs", "laugh");
const REST: Verb = Verb("rests", "rest");
const WATCH: Verb = Verb("watches", "watch");
const SING: Verb = Verb("sings", "sing");
const HURRY: Verb = Verb("hurries", "hurry");

/// Every verb the stories use; the tests check agreement against this table.
// The grammar's vocabulary as a table, read by the tests that parse the text back.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) const VERBS: &[Verb] = &[
    BE, HAVE, DO, WALK, LOOK, FIND, GO, CARRY, SMILE, RUN, SAY, WANT, SIT, ASK, GIVE, TAKE, LOVE,
    MEET, COUNT, MAKE, COME, LIVE, VISIT, SEARCH, FEEL, PICK, PLAY, PAINT, WRAP, OPEN, LAUGH, REST,
    WATCH, SING, HURRY,
];

/// Who does something: a person, two people, or a group.
#[derive(Clone, Debug, PartialEq)]
struct Agent {
    /// As written in the middle of a sentence: `Mira`, `Mira and Tom`, `the twins`.
    name: String,
    pronoun: Pronoun,
    /// Whether the name (not the pronoun) takes a plural verb.
    plural: bool,
}

impl Agent {
    fn person(i: usize) -> Agent {
        let (name, pronoun) = PEOPLE[i];
        Agent {
            name: name.to_string(),
            pronoun,
            plural: false,
        }
    }

    fn pair(a: &Agent, b: &Agent) -> Agent {
        Agent {
            name: format!("{} and {}", a.name, b.name),
            pronoun: Pronoun::They,
            plural: true,
        }
    }

    fn group(word: &str) -> Agent {
        Agent {
            name: format!("the {word}"),
            pronoun: Pronoun::They,
            plural: true,
        }
    }
}

/// A thing in a story, one or several.
#[derive(Clone, Copy)]
struct Thing {
    noun: &'static str,
    plural: bool,
}

impl Thing {
    fn be(self) -> &'static str {
        if self.plural { "are" } else { "is" }
    }
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Writes sentences and remembers who the last person subject was, which decides when a pronoun may be used.
struct Writer<'a> {
    rng: &'a mut Rng,
    out: &'a mut String,
    /// Name of the last person subject in this paragraph.
    last: Option<String>,
    /// Whether the current paragraph has any sentence yet.
    started: bool,
}

impl Writer<'_> {
    fn paragraph(&mut self) {
        if !self.out.is_empty() {
            self.out.push_str("\n\n");
        }
        self.last = None;
        self.started = false;
    }

    fn space(&mut self) {
        if self.started {
            self.out.push(' ');
        }
        self.started = true;
    }

    /// Writes `[Opener, ]Subject` and returns whether the verb must be plural. The subject is the agent's
    /// pronoun when the agent was the last person subject (most of the time), else its name.
    fn subject(&mut self, opener: Option<&str>, who: &Agent) -> bool {
        self.space();
        let capital = opener.is_none();
        if let Some(opener) = opener {
            self.out.push_str(opener);
            self.out.push_str(", ");
        }
        let use_pronoun = self.last.as_deref() == Some(who.name.as_str()) && self.rng.chance(0.7);
        self.last = Some(who.name.clone());
        if use_pronoun {
            self.out.push_str(who.pronoun.word(capital));
            who.pronoun == Pronoun::They
        } else {
            if capital {
                self.out.push_str(&capitalize(&who.name));
            } else {
                self.out.push_str(&who.name);
            }
            who.plural
        }
    }

    fn verb(&mut self, verb: Verb, plural: bool, rest: &str) {
        self.out.push(' ');
        self.out.push_str(if plural { verb.1 } else { verb.0 });
        if !rest.is_empty() {
            if !rest.starts_with(',') {
                self.out.push(' ');
            }
            self.out.push_str(rest);
        }
    }

    /// `[Opener, ]Subject verb rest<end>`.
    fn say(&mut self, opener: Option<&str>, who: &Agent, verb: Verb, rest: &str, end: &str) {
        let plural = self.subject(opener, who);
        self.verb(verb, plural, rest);
        self.out.push_str(end);
    }

    /// `Subject verb rest and verb2 rest2.`: both verbs agree with the one subject.
    fn say_and(&mut self, who: &Agent, (verb, rest): (Verb, &str), (verb2, rest2): (Verb, &str)) {
        let plural = self.subject(None, who);
        self.verb(verb, plural, rest);
        self.out.push_str(" and");
        self.verb(verb2, plural, rest2);
        self.out.push('.');
    }

    /// A sentence whose subject is not a person (`The key is old.`, `There are three cups.`).
    fn plain(&mut self, sentence: &str) {
        self.space();
        self.out.push_str(sentence);
    }

    fn title(&mut self, title: &str) {
        self.paragraph();
        self.out.push_str(title);
    }

    fn the_end(&mut self) {
        self.paragraph();
        self.out.push_str("The end.");
    }

    fn adj(&mut self) -> &'static str {
        self.rng.pick(ADJECTIVES)
    }

    fn place(&mut self) -> &'static str {
        self.rng.pick(PLACES)
    }

    /// `a red key` / `an old apple`.
    fn a_thing(&mut self, noun: &str) -> String {
        let adj = self.adj();
        format!("{} {adj} {noun}", article(adj))
    }
}

/// Two different people.
fn two_people(rng: &mut Rng) -> (Agent, Agent) {
    let a = rng.below(PEOPLE.len());
    let b = (a + 1 + rng.below(PEOPLE.len() - 1)) % PEOPLE.len();
    (Agent::person(a), Agent::person(b))
}

/// A lost thing, a search through places (refrain: `... is not there.`), a helper, a happy ending.
fn story_lost(w: &mut Writer) {
    let (hero, friend) = two_people(w.rng);
    let (sing, plur) = w.rng.pick(OBJECTS);
    let plural = w.rng.chance(0.3);
    let thing = Thing {
        noun: if plural { plur } else { sing },
        plural,
    };
    let colour = w.adj();
    w.title(&format!(
        "{} and the {} {}",
        hero.name,
        capitalize(colour),
        capitalize(thing.noun)
    ));

    w.paragraph();
    let home = w.place();
    w.say(
        Some("Once upon a time"),
        &hero,
        LIVE,
        &format!("near {home}"),
        ".",
    );
    let (role, trait_) = (w.rng.pick(ROLES), w.rng.pick(TRAITS));
    w.say(
        None,
        &hero,
        BE,
        &format!("{} {trait_} {role}", article(trait_)),
        ".",
    );
    let owned = if thing.plural {
        format!("{} {colour} {}", w.rng.pick(NUMBERS), thing.noun)
    } else {
        format!("{} {colour} {}", article(colour), thing.noun)
    };
    w.say(None, &hero, HAVE, &owned, ".");
    if w.rng.chance(0.5) {
        let rest = format!("the {} to {home}", thing.noun);
        w.say(Some("Every morning"), &hero, CARRY, &rest, ".");
    } else {
        w.say(
            None,
            &hero,
            LOVE,
            &format!("the {} very much", thing.noun),
            ".",
        );
    }

    w.paragraph();
    let opener = w.rng.pick(&["One day", "One morning", "The next day"]);
    w.plain(&format!(
        "{opener}, the {} {} gone.",
        thing.noun,
        thing.be()
    ));
    let searches = w.rng.range(2, 4);
    for _ in 0..searches {
        let place = w.place();
        if w.rng.chance(0.5) {
            w.say(None, &hero, SEARCH, place, ".");
            w.plain(&format!("The {} {} not there.", thing.noun, thing.be()));
        } else {
            let rest = format!(
                "around {place}, but the {} {} not there",
                thing.noun,
                thing.be()
            );
            w.say(None, &hero, LOOK, &rest, ".");
        }
    }
    w.say(None, &hero, FEEL, "sad", ".");

    w.paragraph();
    let meet = w.place();
    w.say(
        Some("Then"),
        &hero,
        MEET,
        &format!("{} at {meet}", friend.name),
        ".",
    );
    let rest = format!(
        "{}, \"Where {} my {}?\"",
        friend.name,
        thing.be(),
        thing.noun
    );
    w.say(None, &hero, ASK, &rest, "");
    let found = w.place();
    let rest = format!(", \"The {} {} at {found}.\"", thing.noun, thing.be());
    w.say(None, &friend, SAY, &rest, "");
    let both = Agent::pair(&hero, &friend);
    w.say(None, &both, RUN, &format!("to {found}"), ".");
    let tree = w.a_thing("tree");
    w.say(
        None,
        &both,
        FIND,
        &format!("the {} under {tree}", thing.noun),
        ".",
    );

    w.paragraph();
    w.say(Some("At last"), &hero, BE, "happy again", ".");
    w.say(
        None,
        &hero,
        SAY,
        &format!(", \"Thank you, {}!\"", friend.name),
        "",
    );
    w.say(Some("In the evening"), &both, WALK, "home together", ".");
    w.the_end();
}

/// A walk through places; at each stop the walker counts what is there (`one, two, three.`).
fn story_walk(w: &mut Writer) {
    let walker = match w.rng.below(3) {
        0 => Agent::person(w.rng.below(PEOPLE.len())),
        1 => {
            let (a, b) = two_people(w.rng);
            Agent::pair(&a, &b)
        }
        _ => Agent::group(w.rng.pick(GROUPS)),
    };
    let goal = w.place();
    // Places are written `the river`: the title capitalizes the noun after `the `.
    w.title(&format!("The Long Walk to the {}", capitalize(&goal[4..])));

    w.paragraph();
    let weather = w.rng.pick(WEATHER);
    w.plain(&format!("It is {} {weather} morning.", article(weather)));
    w.say(None, &walker, WANT, &format!("to visit {goal}"), ".");
    let (sing, _) = w.rng.pick(OBJECTS);
    let bag = w.a_thing(sing);
    w.say_and(&walker, (TAKE, &bag), (GO, ""));

    let stops = w.rng.range(2, 3);
    for (i, opener) in ["First", "Next", "Then"].iter().take(stops).enumerate() {
        w.paragraph();
        let stop = loop {
            let p = w.place();
            if p != goal {
                break p;
            }
        };
        w.say(Some(opener), &walker, WALK, &format!("to {stop}"), ".");
        let (sing, plur) = w.rng.pick(OBJECTS);
        let adj = w.adj();
        let n = w.rng.range(2, COUNTING.len());
        w.plain(&format!(
            "There are {} {adj} {plur} at {stop}.",
            COUNTING[n - 1]
        ));
        let counted = format!("them: {}", COUNTING[..n].join(", "));
        w.say(None, &walker, COUNT, &counted, ".");
        if i % 2 == 0 {
            w.say(None, &walker, PICK, &format!("up one {sing}"), ".");
        } else {
            w.say(
                None,
                &walker,
                WATCH,
                &format!("the {plur} for a while"),
                ".",
            );
        }
        // More things at a stop, sunnier stop: a small regularity a model can pick up.
        let (sky, how) = if n > 3 {
            ("sun", w.rng.pick(&["warm", "bright", "high"]))
        } else {
            ("wind", w.rng.pick(&["cold", "strong", "soft"]))
        };
        w.plain(&format!("The {sky} is {how}."));
    }

    w.paragraph();
    w.say(Some("At last"), &walker, COME, &format!("to {goal}"), ".");
    let (view, looks) = w.rng.pick(&[
        ("sea", "blue"),
        ("sea", "calm"),
        ("sky", "wide"),
        ("sky", "grey"),
        ("road", "long"),
        ("road", "quiet"),
    ]);
    w.plain(&format!("The {view} is {looks}."));
    w.say_and(&walker, (SIT, "down"), (REST, ""));
    w.say(Some("In the evening"), &walker, GO, "home", ".");
    w.the_end();
}

/// One friend makes a gift for another; the refrain is the thank-you.
fn story_gift(w: &mut Writer) {
    let (giver, taker) = two_people(w.rng);
    w.title(&format!("A Gift for {}", taker.name));

    w.paragraph();
    let both = Agent::pair(&giver, &taker);
    w.say(None, &both, BE, "friends", ".");
    let home = w.place();
    w.say(None, &both, LIVE, &format!("near {home}"), ".");
    let park = w.place();
    w.say(Some("Every day"), &both, PLAY, &format!("at {park}"), ".");

    w.paragraph();
    let rest = format!("to make a gift for {}", taker.name);
    w.say(Some("One morning"), &giver, WANT, &rest, ".");
    let (sing, _) = w.rng.pick(OBJECTS);
    let found = w.a_thing(sing);
    let at = w.place();
    w.say(None, &giver, FIND, &format!("{found} at {at}"), ".");
    let colour = w.rng.pick(&["red", "blue", "green", "golden"]);
    w.say(None, &giver, PAINT, &format!("it {colour}"), ".");
    w.say(Some("Then"), &giver, WRAP, "it in paper", ".");

    w.paragraph();
    w.say(
        None,
        &giver,
        GIVE,
        &format!("the gift to {}", taker.name),
        ".",
    );
    w.say(None, &taker, OPEN, "the gift", ".");
    w.plain(&format!(
        "Inside, there is {} {colour} {sing}.",
        article(colour)
    ));
    w.say(None, &taker, SMILE, "", ".");
    w.say(
        None,
        &taker,
        SAY,
        &format!(", \"Thank you, {}!\"", giver.name),
        "",
    );
    w.say(None, &both, LAUGH, "", ".");
    if w.rng.chance(0.5) {
        w.say(None, &both, SING, "a song", ".");
    }
    w.the_end();
}

/// A week of days in order, one thing per day: the days teach a sequence.
fn story_week(w: &mut Writer) {
    let who = Agent::person(w.rng.below(PEOPLE.len()));
    let role = w.rng.pick(ROLES);
    w.title(&format!("The Week of {}", who.name));

    w.paragraph();
    w.say(None, &who, BE, &format!("{} {role}", article(role)), ".");
    w.say(Some("Every day"), &who, DO, "something new", ".");

    w.paragraph();
    let days = w.rng.range(3, 6);
    for day in &DAYS[..days] {
        let opener = format!("On {day}");
        let (verb, rest) = match w.rng.below(4) {
            0 => (VISIT, w.place().to_string()),
            1 => {
                let (_, plur) = w.rng.pick(OBJECTS);
                (MAKE, format!("{} {plur}", w.rng.pick(NUMBERS)))
            }
            2 => (HURRY, format!("to {}", w.place())),
            _ => {
                let (sing, _) = w.rng.pick(OBJECTS);
                (FIND, w.a_thing(sing))
            }
        };
        w.say(Some(&opener), &who, verb, &rest, ".");
    }
    w.say(Some("On Sunday"), &who, REST, "", ".");
    w.say(None, &who, BE, "tired but happy", ".");
    w.the_end();
}

/// The story templates, in the order [`generate_stories`] draws them: a lost thing, a walk with counting, a gift,
/// a week of days.
pub const TEMPLATES: &[&str] = &["lost", "walk", "gift", "week"];

/// Appends one story of template `template` (an index into [`TEMPLATES`]) to `out`, drawn from `rng`.
pub(crate) fn write_story(template: usize, rng: &mut Rng, out: &mut String) {
    let mut w = Writer {
        rng,
        out,
        last: None,
        started: false,
    };
    match template {
        0 => story_lost(&mut w),
        1 => story_walk(&mut w),
        2 => story_gift(&mut w),
        _ => story_week(&mut w),
    }
}

/// Stories until the text reaches `approx_bytes` (the last story is finished, so the text runs over by at
/// most one story, about 1 KB).
pub fn generate_stories(seed: u64, approx_bytes: usize) -> String {
    let mut rng = Rng::new(seed);
    let mut out = String::with_capacity(approx_bytes + 2048);
    while out.len() < approx_bytes {
        let template = rng.below(TEMPLATES.len());
        write_story(template, &mut rng, &mut out);
    }
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

#[cfg(test)]
#[path = "stories_tests.rs"]
mod tests;
