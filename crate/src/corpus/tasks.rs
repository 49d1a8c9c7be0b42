//! Algorithmic tasks: one example per line, a short task word, the input, a separator and the answer.
//!
//! ```text
//! copy abc7d > abc7d
//! rev abc > cba
//! sort 4132 > 1234
//! add 47+385 = 432
//! brk ([]{}) : yes
//! ```
//!
//! Each answer is a simple function of the input, so a trained model's attention has a known right answer:
//! copy looks back a fixed distance, reverse looks at the mirror position, sort at the next-larger digit,
//! addition at aligned digits (right to left), brackets at the still-open bracket.

use crate::rng::Rng;
use crate::{Result, invalid_input};

/// The longest input a task accepts (characters for copy, reverse, sort and brackets; digits per operand for
/// addition). Longer lines would not fit the context of the models this project trains anyway.
pub const MAX_TASK_LEN: usize = 256;

/// One algorithmic task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Task {
    Copy,
    Reverse,
    Sort,
    Addition,
    Brackets,
}

/// Every task, in the order the mixed corpus lists them.
pub const ALL_TASKS: [Task; 5] = [
    Task::Copy,
    Task::Reverse,
    Task::Sort,
    Task::Addition,
    Task::Brackets,
];

/// Input length range of a task, inclusive on both ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lengths {
    pub min: usize,
    pub max: usize,
}

impl Lengths {
    pub fn new(min: usize, max: usize) -> Result<Lengths> {
        if min == 0 {
            invalid_input!("the shortest input length must be at least 1 (got 0)");
        }
        if min > max {
            invalid_input!(
                "the shortest input length ({min}) is longer than the longest ({max}): swap them"
            );
        }
        if max > MAX_TASK_LEN {
            invalid_input!(
                "the longest input length is {max}, over the limit of {MAX_TASK_LEN}: choose a smaller one"
            );
        }
        Ok(Lengths { min, max })
    }
}

impl Task {
    /// The word that starts each line of this task.
    pub fn prefix(self) -> &'static str {
        match self {
            Task::Copy => "copy",
            Task::Reverse => "rev",
            Task::Sort => "sort",
            Task::Addition => "add",
            Task::Brackets => "brk",
        }
    }

    /// Lengths used when the caller gives none: short enough for a tiny model to learn in minutes.
    pub fn default_lengths(self) -> Lengths {
        match self {
            Task::Copy | Task::Reverse | Task::Sort => Lengths { min: 3, max: 10 },
            Task::Addition => Lengths { min: 1, max: 4 },
            Task::Brackets => Lengths { min: 2, max: 12 },
        }
    }
}

const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const DIGITS: &[u8] = b"0123456789";
const OPEN: &[u8] = b"([{";
const CLOSE: &[u8] = b")]}";

/// Appends one example line of `task` (with its trailing newline) to `out`.
pub fn write_line(task: Task, rng: &mut Rng, lengths: Lengths, out: &mut String) {
    let n = rng.range(lengths.min, lengths.max);
    out.push_str(task.prefix());
    out.push(' ');
    match task {
        Task::Copy => {
            let s = random_string(rng, ALNUM, n);
            out.push_str(&s);
            out.push_str(" > ");
            out.push_str(&s);
        }
        Task::Reverse => {
            let s = random_string(rng, ALNUM, n);
            out.push_str(&s);
            out.push_str(" > ");
            out.extend(s.chars().rev());
        }
        Task::Sort => {
            let s = random_string(rng, DIGITS, n);
            let mut sorted: Vec<u8> = s.bytes().collect();
            crate::sort::sort_bytes(&mut sorted);
            out.push_str(&s);
            out.push_str(" > ");
            out.extend(sorted.iter().map(|&b| b as char));
        }
        Task::Addition => {
            // Each operand draws its own number of digits, so unequal lengths (carries into new columns) occur.
            let a = random_number(rng, n);
            let b_digits = rng.range(lengths.min, lengths.max);
            let b = random_number(rng, b_digits);
            out.push_str(&a);
            out.push('+');
            out.push_str(&b);
            out.push_str(" = ");
            out.push_str(&add_decimal(&a, &b));
        }
        Task::Brackets => {
            // Half balanced, half not, so a model cannot score by always answering one way.
            let s = if rng.chance(0.5) {
                balanced_brackets(rng, lengths).unwrap_or_else(|| random_brackets(rng, n))
            } else {
                unbalanced_brackets(rng, n)
            };
            out.push_str(&s);
            out.push_str(if brackets_balanced(&s) {
                " : yes"
            } else {
                " : no"
            });
        }
    }
    out.push('\n');
}

fn random_string(rng: &mut Rng, alphabet: &[u8], n: usize) -> String {
    (0..n).map(|_| rng.pick(alphabet) as char).collect()
}

/// A decimal number with exactly `digits` digits and no leading zero (except the number 0 itself).
fn random_number(rng: &mut Rng, digits: usize) -> String {
    let mut s = String::with_capacity(digits);
    s.push(
        (if digits == 1 { b'0' } else { b'1' } + rng.below(if digits == 1 { 10 } else { 9 }) as u8)
            as char,
    );
    for _ in 1..digits {
        s.push(rng.pick(DIGITS) as char);
    }
    s
}

/// Schoolbook addition of two decimal strings, any length.
pub fn add_decimal(a: &str, b: &str) -> String {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut digits = Vec::with_capacity(a.len().max(b.len()) + 1);
    let mut carry = 0u8;
    for i in 0..a.len().max(b.len()) {
        let da = if i < a.len() {
            a[a.len() - 1 - i] - b'0'
        } else {
            0
        };
        let db = if i < b.len() {
            b[b.len() - 1 - i] - b'0'
        } else {
            0
        };
        let s = da + db + carry;
        digits.push(b'0' + s % 10);
        carry = s / 10;
    }
    if carry > 0 {
        digits.push(b'0' + carry);
    }
    digits.iter().rev().map(|&d| d as char).collect()
}

/// True when every bracket closes the most recent still-open bracket of the same kind, and none is left open.
pub fn brackets_balanced(s: &str) -> bool {
    let mut stack = Vec::new();
    for c in s.bytes() {
        if let Some(k) = OPEN.iter().position(|&o| o == c) {
            stack.push(k);
        } else if let Some(k) = CLOSE.iter().position(|&o| o == c) {
            if stack.pop() != Some(k) {
                return false;
            }
        }
    }
    stack.is_empty()
}

/// A random balanced string with an even length in range, or None when the range holds no even length.
fn balanced_brackets(rng: &mut Rng, lengths: Lengths) -> Option<String> {
    let lo = lengths.min.div_ceil(2);
    let hi = lengths.max / 2;
    if lo > hi {
        return None;
    }
    let pairs = rng.range(lo, hi);
    // Walk left to right: open while pairs remain and a coin says so (or nothing is open), else close.
    let mut s = String::with_capacity(2 * pairs);
    let mut stack = Vec::new();
    let mut opened = 0;
    while s.len() < 2 * pairs {
        if opened < pairs && (stack.is_empty() || rng.chance(0.5)) {
            let k = rng.below(3);
            stack.push(k);
            s.push(OPEN[k] as char);
            opened += 1;
        } else if let Some(k) = stack.pop() {
            s.push(CLOSE[k] as char);
        }
    }
    Some(s)
}

fn random_brackets(rng: &mut Rng, n: usize) -> String {
    (0..n)
        .map(|_| {
            let k = rng.below(3);
            (if rng.chance(0.5) { OPEN[k] } else { CLOSE[k] }) as char
        })
        .collect()
}

/// A string of length `n` that is not balanced. Most are a near miss (a balanced string with one bracket
/// changed), which are the interesting cases; the rest are random. The verdict is always recomputed.
fn unbalanced_brackets(rng: &mut Rng, n: usize) -> String {
    for _ in 0..8 {
        let candidate = if n.is_multiple_of(2) && rng.chance(0.7) {
            let base = balanced_brackets(rng, Lengths { min: n, max: n })
                .unwrap_or_else(|| random_brackets(rng, n));
            let mut bytes = base.into_bytes();
            let i = rng.below(bytes.len());
            let k = rng.below(3);
            bytes[i] = if rng.chance(0.5) { OPEN[k] } else { CLOSE[k] };
            String::from_utf8(bytes).unwrap_or_default()
        } else {
            random_brackets(rng, n)
        };
        if !brackets_balanced(&candidate) {
            return candidate;
        }
    }
    // Still balanced after 8 tries (only likely for n = 2): a lone closing bracket first is never balanced.
    let mut s = String::from(")");
    s.push_str(&random_brackets(rng, n - 1));
    s
}

/// Lines of `tasks` (one drawn at random per line) until the text reaches `approx_bytes`.
/// `lengths` None gives each task its own default range.
pub fn generate_tasks(
    tasks: &[Task],
    seed: u64,
    approx_bytes: usize,
    lengths: Option<Lengths>,
) -> String {
    let mut rng = Rng::new(seed);
    let mut out = String::with_capacity(approx_bytes + 2 * MAX_TASK_LEN + 16);
    while out.len() < approx_bytes {
        let task = rng.pick(tasks);
        write_line(
            task,
            &mut rng,
            lengths.unwrap_or(task.default_lengths()),
            &mut out,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks one line independently of the generator and returns its task and input length.
    fn check_line(line: &str) -> (Task, usize) {
        let (prefix, rest) = line.split_once(' ').expect("a task word and a space");
        match prefix {
            "copy" | "rev" | "sort" => {
                let (input, answer) = rest.split_once(" > ").expect("' > ' separator");
                let expected: String = match prefix {
                    "copy" => input.to_string(),
                    "rev" => input.chars().rev().collect(),
                    _ => {
                        let mut c: Vec<char> = input.chars().collect();
                        crate::sort::sort_chars(&mut c);
                        c.into_iter().collect()
                    }
                };
                assert_eq!(answer, expected, "wrong answer in {line:?}");
                assert!(input.bytes().all(|b| b.is_ascii_alphanumeric()), "{line:?}");
                if prefix == "sort" {
                    assert!(input.bytes().all(|b| b.is_ascii_digit()), "{line:?}");
                }
                let task = match prefix {
                    "copy" => Task::Copy,
                    "rev" => Task::Reverse,
                    _ => Task::Sort,
                };
                (task, input.len())
            }
            "add" => {
                let (sum, answer) = rest.split_once(" = ").expect("' = ' separator");
                let (a, b) = sum.split_once('+').expect("'+' between operands");
                for x in [a, b, answer] {
                    assert!(
                        !x.is_empty() && x.bytes().all(|c| c.is_ascii_digit()),
                        "{line:?}"
                    );
                    assert!(x == "0" || !x.starts_with('0'), "leading zero in {line:?}");
                }
                // Independent check through machine integers (the test lengths stay below 38 digits).
                let (a_n, b_n): (u128, u128) = (a.parse().unwrap(), b.parse().unwrap());
                assert_eq!(
                    answer.parse::<u128>().unwrap(),
                    a_n + b_n,
                    "wrong sum in {line:?}"
                );
                (Task::Addition, a.len().max(b.len()))
            }
            "brk" => {
                let (input, verdict) = rest.rsplit_once(" : ").expect("' : ' separator");
                assert!(input.bytes().all(|b| b"()[]{}".contains(&b)), "{line:?}");
                // A different algorithm from the generator's stack: delete adjacent pairs until none is left.
                let mut s = input.to_string();
                loop {
                    let before = s.len();
                    s = s.replace("()", "").replace("[]", "").replace("{}", "");
                    if s.len() == before {
                        break;
                    }
                }
                let expected = if s.is_empty() { "yes" } else { "no" };
                assert_eq!(verdict, expected, "wrong verdict in {line:?}");
                (Task::Brackets, input.len())
            }
            _ => panic!("unknown task word in {line:?}"),
        }
    }

    #[test]
    fn tasks_every_line_is_correct_with_default_lengths() {
        let text = generate_tasks(&ALL_TASKS, 3, 200_000, None);
        let mut counts = [0usize; 5];
        for line in text.lines() {
            let (task, len) = check_line(line);
            let range = task.default_lengths();
            assert!(
                len >= range.min && len <= range.max,
                "length {len} out of range: {line:?}"
            );
            counts[ALL_TASKS.iter().position(|&t| t == task).unwrap()] += 1;
        }
        // Every task appears, in roughly equal shares.
        let total: usize = counts.iter().sum();
        for c in counts {
            assert!(
                c * 5 > total * 8 / 10 && c * 5 < total * 12 / 10,
                "{counts:?}"
            );
        }
    }

    #[test]
    fn tasks_every_line_is_correct_with_caller_lengths() {
        for (min, max) in [(1, 1), (2, 2), (5, 20), (30, 36)] {
            let lengths = Lengths::new(min, max).unwrap();
            let text = generate_tasks(&ALL_TASKS, min as u64, 50_000, Some(lengths));
            let mut longest = 0;
            for line in text.lines() {
                let (_, len) = check_line(line);
                assert!(
                    len >= min && len <= max,
                    "length {len} not in {min}..={max}: {line:?}"
                );
                longest = longest.max(len);
            }
            assert_eq!(longest, max, "the longest length in range never occurs");
        }
    }

    #[test]
    fn tasks_brackets_are_about_half_balanced() {
        let text = generate_tasks(&[Task::Brackets], 9, 100_000, None);
        let lines = text.lines().count();
        let yes = text.lines().filter(|l| l.ends_with(": yes")).count();
        let share = yes as f64 / lines as f64;
        assert!((0.4..0.6).contains(&share), "balanced share {share}");
    }

    #[test]
    fn tasks_addition_carries_through_long_numbers() {
        assert_eq!(add_decimal("999", "1"), "1000");
        assert_eq!(add_decimal("0", "0"), "0");
        assert_eq!(add_decimal("47", "385"), "432");
        let a = "9".repeat(200);
        let sum = add_decimal(&a, "1");
        assert_eq!(sum.len(), 201);
        assert!(sum.starts_with('1') && sum[1..].bytes().all(|b| b == b'0'));
    }

    #[test]
    fn tasks_lengths_are_validated() {
        assert!(Lengths::new(0, 3).is_err());
        assert!(Lengths::new(4, 3).is_err());
        assert!(Lengths::new(1, MAX_TASK_LEN + 1).is_err());
        assert_eq!(Lengths::new(2, 5).unwrap(), Lengths { min: 2, max: 5 });
    }
}
