//! The command line: `mllab` (the TUI), `list`, `check`, `run`, `replay`, `saves`, `data`,
//! `sample`, `bench`.
//!
//! Exit codes: 0 ok, 1 the run failed (diverged, crashed), 130 ended by Ctrl-C, 2 bad input (a
//! lesson with errors, an unknown lesson, a damaged save, a bad flag, no terminal, an
//! unwritable save folder).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod headless;
pub mod sample;

use crate::i18n::Lang;
use crate::lessons::registry::{Entry, resolve, scan};
use crate::lessons::{Lesson, Override, chapter_name};
use crate::run::RunStatus;
use crate::saves;
use crate::ui::{TuiOptions, run_tui};

#[derive(Debug, Parser)]
#[command(
    name = "mllab",
    version,
    about = "A terminal learning lab for machine learning: watch models train live on your CPU."
)]
pub struct Cli {
    /// Directory of lesson files.
    #[arg(long, global = true, default_value = "lessons", value_name = "DIR")]
    pub lessons: PathBuf,
    /// Directory where runs are saved.
    #[arg(
        long = "save-dir",
        global = true,
        default_value = "saves",
        value_name = "DIR"
    )]
    pub save_dir: PathBuf,
    #[command(subcommand)]
    pub command: Option<Cmd>,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// List the lessons found, by chapter.
    List {
        /// One JSON document instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Validate lesson files; every error names file, line, column, key and value.
    Check {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Run a lesson (a file path or a lesson id), in the TUI or headless.
    Run {
        #[arg(value_name = "LESSON")]
        lesson: String,
        /// No TUI: progress on stderr, one JSON summary line on stdout.
        #[arg(long)]
        headless: bool,
        /// Number of steps (same as --set train.steps=N).
        #[arg(long, value_name = "N")]
        steps: Option<u64>,
        /// Time budget in seconds (same as --set train.max_seconds=S).
        #[arg(long, value_name = "S")]
        seconds: Option<f64>,
        /// Seed of every random draw (same as --set train.seed=S).
        #[arg(long, value_name = "S")]
        seed: Option<u64>,
        /// Change any lesson key for this run: --set train.lr=0.01 (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
    },
    /// Write a built-in data set as NumPy .npy files (digits, or a 2-D toy).
    Data {
        /// digits, swiss-roll, moons, eight-gaussians, rings, checkerboard or spiral.
        #[arg(value_name = "NAME")]
        name: String,
        /// Number of examples.
        #[arg(long, value_name = "N", default_value_t = 1000)]
        n: usize,
        /// The examples: N×28×28 floats in [0, 1] for digits, N×2 for the toys.
        #[arg(long, value_name = "FILE.npy")]
        out: PathBuf,
        /// The labels (digit classes, or the toy's mode or arm), as N bytes.
        #[arg(long, value_name = "FILE.npy")]
        labels: Option<PathBuf>,
        /// Seed of the draw.
        #[arg(long, value_name = "S", default_value_t = 0)]
        seed: u64,
    },
    /// Draw fresh samples from a saved run's weights: a .npy file (digits: N×28×28 in [0, 1])
    /// or text (next-token: one sample a line); the families that can sample are named when a
    /// save's cannot.
    Sample {
        #[arg(value_name = "SAVE")]
        save: PathBuf,
        #[arg(long, value_name = "N", default_value_t = 64)]
        n: usize,
        /// Where to write: a .npy for digits and points (needed); for text, a file of one
        /// sample a line (default: standard output).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Text samples as one JSON array of strings (next-token).
        #[arg(long)]
        json: bool,
        /// What generated text starts from; default: the lesson's prompt (next-token).
        #[arg(long, value_name = "TEXT")]
        prompt: Option<String>,
        /// Sample among the K likeliest characters, 0 for all; default: the lesson's.
        #[arg(long, value_name = "K")]
        top_k: Option<usize>,
        /// Characters generated per sample; default: the lesson's sample_chars.
        #[arg(long, value_name = "N")]
        chars: Option<usize>,
        /// ddpm (all T steps) or ddim; default: the lesson's.
        #[arg(long, value_name = "SAMPLER")]
        sampler: Option<String>,
        /// DDIM steps; default: the lesson's.
        #[arg(long, value_name = "K")]
        steps: Option<usize>,
        /// DDIM's fresh noise per step, 0 to 1; default: the lesson's.
        #[arg(long, value_name = "ETA")]
        eta: Option<f64>,
        /// How far from the prior's centre to draw (flow, VAE: 1 is the model itself, lower
        /// is tamer); default: the lesson's.
        #[arg(long, value_name = "T")]
        temperature: Option<f64>,
        /// In a save that trained several families (generators-compared), which one.
        #[arg(long, value_name = "FAMILY")]
        part: Option<String>,
        /// Seed of the starting noise.
        #[arg(long, value_name = "S", default_value_t = 0)]
        seed: u64,
    },
    /// Time one training step of each reference model, DDPM sampling and plain matrix products.
    Bench {
        /// One JSON line per item: {"name", "ms_median", "ms_min", "ms_max", "gflops"}.
        #[arg(long)]
        json: bool,
        /// Only the items whose name matches (exactly, or as a substring).
        #[arg(long, value_name = "NAME")]
        filter: Option<String>,
        /// Threads for the matrix products (default 2).
        #[arg(long, value_name = "N")]
        threads: Option<usize>,
    },
    /// Replay a saved run: a directory under saves/, or a lesson id for its newest save.
    Replay {
        #[arg(value_name = "SAVE|LESSON")]
        save: PathBuf,
        /// No TUI: print the recorded summary as one JSON line.
        #[arg(long)]
        headless: bool,
    },
    /// List the saved runs (of one lesson, or all), newest first: path, status, steps, loss.
    Saves {
        /// A lesson id; all lessons when left out.
        #[arg(value_name = "LESSON")]
        lesson: Option<String>,
        /// One JSON document instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Bad input (exit 2) versus everything else (exit 1).
enum Failure {
    BadInput(String),
    Other(String),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        match e.downcast_ref::<BadInput>() {
            Some(b) => Failure::BadInput(format!("mllab: {}", b.0)),
            None => Failure::Other(format!("{e:#}")),
        }
    }
}

pub use crate::input_error::BadInput;

/// `--save-dir` must be writable before anything runs.
fn writable_saves(dir: &Path) -> Result<(), Failure> {
    crate::saves::ensure_writable(dir).map_err(|e| {
        Failure::BadInput(format!(
            "mllab: cannot write saves under {} ({e}); give a writable folder with --save-dir DIR",
            dir.display()
        ))
    })
}

/// Parses the command line and runs it.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli) {
        Ok(code) => code,
        Err(Failure::BadInput(msg)) => {
            eprintln!("{msg}");
            ExitCode::from(2)
        }
        Err(Failure::Other(msg)) => {
            eprintln!("mllab: {msg}");
            ExitCode::from(1)
        }
    }
}

fn dispatch(cli: Cli) -> Result<ExitCode, Failure> {
    let lang = Lang::from_env();
    match cli.command {
        None => {
            run_tui(TuiOptions {
                lessons_dir: cli.lessons,
                saves_dir: cli.save_dir,
                overrides: Vec::new(),
                start: None,
                replay: None,
                lang,
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Cmd::List { json }) => list(&cli.lessons, json),
        Some(Cmd::Check { files }) => Ok(check(&files)),
        Some(Cmd::Run {
            lesson,
            headless: true,
            steps,
            seconds,
            seed,
            set,
        }) => {
            let lesson = load_for_run(&lesson, &cli.lessons, steps, seconds, seed, &set)?;
            writable_saves(&cli.save_dir)?;
            let tty = headless::stderr_is_terminal();
            let summary = headless::run(lesson, Some(&cli.save_dir), &mut std::io::stderr(), tty)?;
            println!("{}", summary.to_json_line());
            Ok(match summary.status {
                RunStatus::Failed => ExitCode::from(1),
                // The shell's convention for a run ended by Ctrl-C.
                RunStatus::Interrupted => ExitCode::from(130),
                RunStatus::Finished | RunStatus::Stopped => ExitCode::SUCCESS,
            })
        }
        Some(Cmd::Run {
            lesson,
            headless: false,
            steps,
            seconds,
            seed,
            set,
        }) => {
            let path = resolve(&lesson, &cli.lessons)
                .map_err(|m| Failure::BadInput(format!("mllab: {m}")))?;
            let mut overrides = overrides(steps, seconds, seed, &set)?;
            quick_try(&path, &mut overrides, steps);
            // Validate before the screen opens, so errors print normally.
            Lesson::load_checked(&path, &overrides)
                .map_err(|e| Failure::BadInput(e.to_string()))?;
            writable_saves(&cli.save_dir)?;
            run_tui(TuiOptions {
                lessons_dir: cli.lessons,
                saves_dir: cli.save_dir,
                overrides,
                start: Some(path),
                replay: None,
                lang,
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Cmd::Data {
            name,
            n,
            out,
            labels,
            seed,
        }) => {
            if n == 0 || n > 10_000_000 {
                return Err(Failure::BadInput(format!(
                    "mllab: --n {n}: give a number of examples from 1 to 10,000,000"
                )));
            }
            crate::data::export::write(&name, n, seed, &out, labels.as_deref())
                .map_err(|m| Failure::BadInput(format!("mllab: {m}")))?;
            eprintln!("mllab: wrote {n} examples of {name} to {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
        Some(Cmd::Sample {
            save,
            n,
            out,
            sampler,
            steps,
            eta,
            temperature,
            part,
            seed,
            json,
            prompt,
            top_k,
            chars,
        }) => {
            if n == 0 || n > 100_000 {
                return Err(Failure::BadInput(format!(
                    "mllab: --n {n}: give a number of samples from 1 to 100,000"
                )));
            }
            let request = crate::models::SampleRequest {
                n,
                seed,
                sampler,
                steps,
                eta,
                temperature,
                part,
                prompt,
                top_k,
                chars: match chars {
                    Some(c) if c == 0 || c > 100_000 => {
                        return Err(Failure::BadInput(format!(
                            "mllab: --chars {c}: give a number of characters from 1 to 100,000"
                        )));
                    }
                    c => c,
                },
            };
            let out = sample::SampleOut { file: out, json };
            let done = sample::sample_save(&save, &request, &out)
                .map_err(|m| Failure::BadInput(format!("mllab: {m}")))?;
            eprintln!("mllab: {done}");
            Ok(ExitCode::SUCCESS)
        }
        Some(Cmd::Bench {
            json,
            filter,
            threads,
        }) => {
            if let Some(t) = threads {
                if t == 0 || t > 256 {
                    return Err(Failure::BadInput(format!(
                        "mllab: --threads {t}: give 1 to 256"
                    )));
                }
                crate::tensor::set_num_threads(t);
            }
            eprintln!("mllab: {}", crate::tensor::cpu::kernels());
            let results = crate::bench::run_with(filter.as_deref(), |r| {
                if json {
                    println!("{}", serde_json::to_string(r).unwrap_or_default());
                } else {
                    eprintln!(
                        "mllab: {:<24} {:>10.3} ms  {:>7.1} GFLOP/s",
                        r.name, r.ms_median, r.gflops
                    );
                }
            })
            .map_err(|e| Failure::BadInput(format!("mllab: {e:#}")))?;
            if !json {
                print!("{}", crate::bench::table(&results));
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(Cmd::Saves { lesson, json }) => {
            list_saves(&cli.save_dir, lesson.as_deref(), json);
            Ok(ExitCode::SUCCESS)
        }
        Some(Cmd::Replay { save, headless }) => {
            let save = saves::find(&save, &cli.save_dir)
                .map_err(|m| Failure::BadInput(format!("mllab: {m}")))?;
            let loaded =
                saves::load(&save).map_err(|e| Failure::BadInput(format!("mllab: {e}")))?;
            if let Some(d) = &loaded.damage {
                eprintln!("mllab: warning: {d}");
            }
            if headless {
                if let Some(peak) = headless::peak_rss_bytes() {
                    eprintln!("mllab: peak memory {} MB", peak >> 20);
                }
                println!("{}", loaded.summary.to_json_line());
                return Ok(ExitCode::SUCCESS);
            }
            run_tui(TuiOptions {
                lessons_dir: cli.lessons,
                saves_dir: cli.save_dir,
                overrides: Vec::new(),
                start: None,
                replay: Some(save),
                lang,
            })?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `mllab saves`: a table, or one JSON document.
fn list_saves(root: &Path, lesson: Option<&str>, json: bool) {
    let rows: Vec<(String, saves::SaveInfo)> = match lesson {
        Some(id) => saves::list_saves(root, id)
            .into_iter()
            .map(|s| (id.to_string(), s))
            .collect(),
        None => saves::list_all(root),
    };
    if json {
        let doc: Vec<serde_json::Value> = rows
            .iter()
            .map(|(id, s)| {
                serde_json::json!({
                    "lesson": id,
                    "path": s.dir.display().to_string(),
                    "status": s.status,
                    "steps": s.steps,
                    "loss": s.loss,
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(doc));
        return;
    }
    if rows.is_empty() {
        eprintln!(
            "mllab: no saves under {}{}",
            root.display(),
            lesson.map(|l| format!(" for {l}")).unwrap_or_default()
        );
        return;
    }
    let width = rows
        .iter()
        .map(|(_, s)| s.dir.display().to_string().chars().count())
        .max()
        .unwrap_or(0);
    println!(
        "{:<width$}  {:<11}  {:>9}  {:>12}",
        "save", "status", "steps", "loss"
    );
    for (_, s) in &rows {
        let status = serde_json::to_value(s.status)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        let loss = s.loss.map_or("-".to_string(), |l| format!("{l:.6}"));
        println!(
            "{:<width$}  {status:<11}  {:>9}  {loss:>12}",
            s.dir.display(),
            s.steps
        );
    }
}

fn overrides(
    steps: Option<u64>,
    seconds: Option<f64>,
    seed: Option<u64>,
    set: &[String],
) -> Result<Vec<Override>, Failure> {
    let mut out = Vec::new();
    for s in set {
        out.push(Override::parse(s).map_err(|m| Failure::BadInput(format!("mllab: {m}")))?);
    }
    if let Some(n) = steps {
        out.push(Override::new("train.steps", n));
    }
    if let Some(s) = seconds {
        out.push(Override::new("train.max_seconds", s));
    }
    if let Some(s) = seed {
        out.push(Override::new("train.seed", s));
    }
    Ok(out)
}

fn load_for_run(
    name: &str,
    dir: &Path,
    steps: Option<u64>,
    seconds: Option<f64>,
    seed: Option<u64>,
    set: &[String],
) -> Result<Lesson, Failure> {
    let path = resolve(name, dir).map_err(|m| Failure::BadInput(format!("mllab: {m}")))?;
    let mut overrides = overrides(steps, seconds, seed, set)?;
    quick_try(&path, &mut overrides, steps);
    Lesson::load_checked(&path, &overrides).map_err(|e| Failure::BadInput(e.to_string()))
}

/// A quick try (`--steps 30`) is made quick and valid, from the lesson file as written (no
/// validation, so that it never invents an error that hides a real one):
/// - a warm-up as long as the run would be refused; it is shortened to a tenth of the run;
/// - a final score over `model.judge_samples` samples (ddpm: 500, about 45 s) would dwarf the
///   run; it is scaled with the run, to no fewer than 50 samples.
///
/// Both are said on stderr; a value the learner sets with `--set` is left alone.
fn quick_try(path: &Path, overrides: &mut Vec<Override>, steps: Option<u64>) {
    let Some(n) = steps else { return };
    // Read with the lesson loader's checks: a pipe, a huge file or deep nesting stops here too.
    let Ok(tree) = crate::lessons::read_yaml(path) else {
        return;
    };
    let get = |section: &str, key: &str| tree.get(section).and_then(|s| s.get(key)).cloned();
    let set_by_learner = |overrides: &[Override], key: &str| overrides.iter().any(|o| o.key == key);
    if !set_by_learner(overrides, "train.warmup_steps")
        && let Some(warmup) = get("train", "warmup_steps").and_then(|v| v.as_u64())
        && warmup >= n
        && warmup > 0
    {
        eprintln!(
            "mllab: --steps {n} is no longer than the lesson's {warmup}-step warm-up; warming up for {} steps instead",
            n / 10
        );
        overrides.push(Override::new("train.warmup_steps", n / 10));
    }
    let lesson_steps = get("train", "steps").and_then(|v| v.as_u64());
    // The samples the final scoring draws, as the lesson resolves them (its family's default
    // when the file leaves the key out); families without the key score nothing.
    let judged = crate::lessons::Lesson::load(path, overrides)
        .ok()
        .and_then(|lesson| serde_yaml::to_value(&lesson.model).ok())
        .and_then(|model| model.get("judge_samples").and_then(|v| v.as_u64()));
    if !set_by_learner(overrides, "model.judge_samples")
        && let (Some(full), Some(lesson_steps)) = (judged, lesson_steps)
        && n < lesson_steps
    {
        let scaled = (full as f64 * n as f64 / lesson_steps as f64).round() as u64;
        let scaled = scaled.max(QUICK_JUDGE_FLOOR).min(full);
        if scaled < full {
            eprintln!(
                "mllab: a quick try of {n} of the lesson's {lesson_steps} steps scores {scaled} samples instead of {full} (--set model.judge_samples={full} for the full score)"
            );
            overrides.push(Override::new("model.judge_samples", scaled));
        }
    }
}

/// Fewest samples a quick try scores: enough for the judge's class shares to mean something.
const QUICK_JUDGE_FLOOR: u64 = 50;

fn list(dir: &Path, json: bool) -> Result<ExitCode, Failure> {
    let entries = scan(dir).map_err(|e| {
        Failure::BadInput(format!(
            "mllab: cannot read the lessons directory {}: {e}",
            dir.display()
        ))
    })?;
    if json {
        let items: Vec<serde_json::Value> = entries
            .iter()
            .map(|e| match e {
                Entry::Ok(l) => serde_json::json!({
                    "id": l.id, "chapter": l.chapter, "order": l.order,
                    "chapter_title": {"en": chapter_name(l.chapter, Lang::En), "zh": chapter_name(l.chapter, Lang::Zh)},
                    "title": l.title, "model": l.model.kind_name(), "path": l.path().display().to_string(), "ok": true,
                }),
                Entry::Broken { path, errors } => serde_json::json!({
                    "path": path.display().to_string(), "ok": false,
                    "errors": errors.0.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
                }),
            })
            .collect();
        println!("{}", serde_json::Value::Array(items));
        return Ok(ExitCode::SUCCESS);
    }
    let lang = Lang::from_env();
    let mut chapter = None;
    for e in &entries {
        match e {
            Entry::Ok(l) => {
                if chapter != Some(l.chapter) {
                    chapter = Some(l.chapter);
                    println!("{} {}", l.chapter, chapter_name(l.chapter, lang));
                }
                println!("  {:<24} {}", l.id, l.title.get(lang));
            }
            Entry::Broken { path, errors } => {
                println!("  ✗ {:<22} {}", path.display(), errors.first_line());
            }
        }
    }
    if entries.is_empty() {
        println!("no lessons in {}", dir.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn check(files: &[PathBuf]) -> ExitCode {
    let mut bad_files = 0;
    let mut total_errors = 0;
    // The first file given for each id: two lessons may not share one (nor its saves folder).
    let mut ids: Vec<(String, PathBuf)> = Vec::new();
    for f in files {
        match Lesson::load_checked(f, &[]) {
            Ok(l) => {
                if let Some((_, first)) = ids.iter().find(|(id, _)| *id == l.id) {
                    bad_files += 1;
                    total_errors += 1;
                    eprintln!(
                        "error {}: `id` = {}: {} has the same id; two lessons would share a saves folder\n    fix: give one of them another id",
                        f.display(),
                        l.id,
                        first.display()
                    );
                    continue;
                }
                ids.push((l.id.clone(), f.clone()));
                println!(
                    "ok    {} ({}; memory plan {} MB)",
                    f.display(),
                    l.id,
                    l.model.memory(&l.data, &l.train).total() >> 20
                );
            }
            Err(errors) => {
                bad_files += 1;
                total_errors += errors.0.len();
                for e in &errors.0 {
                    eprintln!("error {e}");
                }
            }
        }
    }
    if bad_files > 0 {
        eprintln!(
            "{} of {} files have errors ({total_errors} in all)",
            bad_files,
            files.len()
        );
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
