//! `tplay corpus`: print a built-in corpus, its statistics, or the (source, target) pairs of a seq2seq task.

use std::io::Write;
use std::time::Instant;

use transformer_playground::Result;
use transformer_playground::corpus::{self, Corpus, DEFAULT_BYTES, Lengths, Seq2SeqTask};

#[derive(clap::Args)]
pub struct CorpusArgs {
    /// Which corpus: stories, copy, reverse, sort, addition, brackets, mixed (with --stats also: all).
    #[arg(long, default_value = "stories")]
    name: String,
    /// Seed of the generator: the same seed gives the same text on every machine.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Approximate size in bytes (generation stops after the line or story that reaches it).
    #[arg(long, default_value_t = DEFAULT_BYTES)]
    bytes: usize,
    /// Shortest task input (characters, or digits per operand for addition); needs --max-len.
    #[arg(long, requires = "max_len")]
    min_len: Option<usize>,
    /// Longest task input; needs --min-len.
    #[arg(long, requires = "min_len")]
    max_len: Option<usize>,
    /// Print statistics as JSON lines (size, characters, unigram entropy, generation speed) instead of the text.
    #[arg(long)]
    stats: bool,
    /// List the corpora with their descriptions.
    #[arg(long)]
    list: bool,
    /// Print this many (source, target) pairs of the seq2seq task --name (copy, reverse, sort, addition,
    /// translate) as JSON lines instead of text.
    #[arg(long)]
    pairs: Option<usize>,
}

pub fn run(args: CorpusArgs) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    if args.list {
        for c in Corpus::all() {
            writeln_or_pipe(&mut stdout, &format!("{:<9} {}", c.name(), c.description()))?;
        }
        return Ok(());
    }
    if let Some(count) = args.pairs {
        let task = Seq2SeqTask::from_name(&args.name)?;
        let lengths = args
            .min_len
            .zip(args.max_len)
            .map(|(min, max)| Lengths { min, max });
        for pair in corpus::generate_pairs(task, args.seed, count, lengths)? {
            let line = serde_json::to_string(&pair).expect("pairs serialise");
            writeln_or_pipe(&mut stdout, &line)?;
        }
        return Ok(());
    }
    let corpora: Vec<Corpus> = if args.stats && args.name.trim() == "all" {
        Corpus::all().to_vec()
    } else {
        vec![Corpus::from_name(&args.name)?]
    };
    let lengths = args
        .min_len
        .zip(args.max_len)
        .map(|(min, max)| Lengths { min, max });
    for corpus in corpora {
        let start = Instant::now();
        let text = match lengths {
            Some(l) => corpus::generate_with_lengths(corpus, args.seed, args.bytes, l)?,
            None => corpus::generate(corpus, args.seed, args.bytes),
        };
        let seconds = start.elapsed().as_secs_f64();
        if args.stats {
            let s = corpus::stats(&text);
            let line = serde_json::json!({
                "name": corpus.name(),
                "seed": args.seed,
                "bytes": s.bytes,
                "chars": s.chars,
                "lines": s.lines,
                "distinct_chars": s.distinct_chars,
                "unigram_entropy_bits": (s.unigram_entropy_bits * 1000.0).round() / 1000.0,
                "generate_seconds": seconds,
                "mb_per_s": (s.bytes as f64 / 1e6 / seconds.max(1e-9) * 10.0).round() / 10.0,
            });
            writeln_or_pipe(&mut stdout, &line.to_string())?;
        } else {
            // The text ends with a newline already.
            match stdout.write_all(text.as_bytes()) {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
                other => other?,
            }
        }
    }
    Ok(())
}

/// A line to stdout; a closed pipe (`tplay corpus | head`) ends quietly instead of panicking.
fn writeln_or_pipe(out: &mut impl Write, line: &str) -> Result<()> {
    match writeln!(out, "{line}") {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
