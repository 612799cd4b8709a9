//! The exercise checker: `cargo run -p clip-art-exercises`.
//!
//! Runs each exercise's checks (`cargo test --test NAME`) and shows which pass; the first
//! one that fails prints its test output and a hint.
//!
//! `--solutions` runs the checks against `solutions/` instead. `--verify` (used by CI)
//! proves every exercise fails as shipped and passes with its solution.

use std::process::{Command, ExitCode};

/// One exercise, as `info.toml` lists it.
#[derive(Debug, serde::Deserialize)]
struct Exercise {
    name: String,
    /// The book chapter's file, e.g. `ch01-representing-data.md`.
    chapter: String,
    /// The heading of the section that teaches it.
    section: String,
    /// A question that points the way.
    hint: String,
}

#[derive(serde::Deserialize)]
struct Info {
    exercises: Vec<Exercise>,
}

/// The exercises in course order, from `info.toml` (built into the checker).
fn exercises() -> Vec<Exercise> {
    toml::from_str::<Info>(include_str!("../info.toml"))
        .expect("info.toml is checked by the checker's tests")
        .exercises
}

impl Exercise {
    /// "chapter 1 › Text: character one-hot".
    fn where_taught(&self) -> String {
        let number = self.chapter[2..4].trim_start_matches('0');
        format!("chapter {number} › {}", self.section)
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Student,
    Solutions,
    Verify,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = match args.first().map(String::as_str) {
        None => Mode::Student,
        Some("--solutions") => Mode::Solutions,
        Some("--verify") => Mode::Verify,
        Some(other) => {
            eprintln!(
                "unknown option {other:?}\nusage: cargo run -p clip-art-exercises [--solutions | --verify]"
            );
            return ExitCode::from(2);
        }
    };
    match mode {
        Mode::Student | Mode::Solutions => check_all(mode == Mode::Solutions),
        Mode::Verify => verify_all(),
    }
}

/// The outcome of one exercise's checks: passed, and what the test run printed.
fn run_checks(exercise: &Exercise, solutions: bool) -> (bool, String) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command.args([
        "test",
        "--quiet",
        "-p",
        "clip-art-exercises",
        "--test",
        &exercise.name,
    ]);
    if solutions {
        command.args(["--features", "solutions"]);
    }
    match command.output() {
        Ok(output) => {
            let text = String::from_utf8_lossy(&output.stdout).into_owned()
                + &String::from_utf8_lossy(&output.stderr);
            (output.status.success(), text)
        }
        Err(error) => (false, format!("could not run cargo: {error}")),
    }
}

/// The lines of a failed test run worth showing a student: panics, assertions, compile errors.
fn essentials(output: &str) -> String {
    let useful: Vec<&str> = output
        .lines()
        .filter(|line| {
            let line = line.trim();
            let noise = [
                "note:",
                "test ",
                "running ",
                "failures:",
                "error: test failed",
            ];
            !line.is_empty() && !noise.iter().any(|n| line.starts_with(n))
        })
        .take(30)
        .collect();
    useful.join("\n")
}

fn check_all(solutions: bool) -> ExitCode {
    let source = if solutions { "solutions" } else { "exercises" };
    println!("Checking {source}/ …\n");
    let mut first_failure = None;
    let mut passed = 0;
    let exercises = exercises();
    for exercise in &exercises {
        let (ok, output) = run_checks(exercise, solutions);
        println!(
            "  {} {:<20} {}",
            if ok { "✓" } else { "✗" },
            exercise.name,
            exercise.where_taught()
        );
        if ok {
            passed += 1;
        } else if first_failure.is_none() {
            first_failure = Some((exercise, output));
        }
    }
    println!("\n{passed} of {} exercises pass.", exercises.len());
    match first_failure {
        None => {
            println!("All done — well done!");
            ExitCode::SUCCESS
        }
        Some((exercise, output)) => {
            println!(
                "\nNext: {source}/{}.rs (its checks: tests/{}.rs)\n",
                exercise.name, exercise.name
            );
            println!("{}\n", essentials(&output));
            println!("Hint: {}", exercise.hint);
            println!(
                "Read: the book, {} (book/src/{})",
                exercise.where_taught(),
                exercise.chapter
            );
            ExitCode::FAILURE
        }
    }
}

/// CI: each exercise must fail as shipped (the TODO is real) and pass with its solution.
fn verify_all() -> ExitCode {
    let (mut passed, mut failed) = (0, 0);
    for exercise in &exercises() {
        let (unsolved_passes, _) = run_checks(exercise, false);
        let (solved_passes, output) = run_checks(exercise, true);
        let ok = !unsolved_passes && solved_passes;
        println!(
            "{} {}: unsolved {}, solution {}",
            if ok { "ok  " } else { "FAIL" },
            exercise.name,
            if unsolved_passes {
                "PASSES (the exercise has nothing to do)"
            } else {
                "fails"
            },
            if solved_passes { "passes" } else { "FAILS" },
        );
        if !solved_passes {
            println!("{}", essentials(&output));
        }
        if ok {
            passed += 1;
        } else {
            failed += 1;
        }
    }
    println!("exercises: {passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn every_exercise_has_its_files_and_its_section() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let exercises = exercises();
        for exercise in &exercises {
            for folder in ["exercises", "solutions", "tests"] {
                let file = root.join(folder).join(format!("{}.rs", exercise.name));
                assert!(file.exists(), "missing {}", file.display());
            }
            let exercise_text = std::fs::read_to_string(
                root.join("exercises").join(format!("{}.rs", exercise.name)),
            )
            .unwrap();
            assert!(
                exercise_text.contains("// TODO"),
                "{} has no // TODO",
                exercise.name
            );
            let chapter = root.join("../book/src").join(&exercise.chapter);
            let book = std::fs::read_to_string(&chapter).unwrap_or_else(|e| {
                panic!("{}: {}: {e}", exercise.name, chapter.display())
            });
            assert!(
                book.lines()
                    .any(|l| l.trim_start_matches('#').trim() == exercise.section),
                "{}: {} has no heading {:?}",
                exercise.name,
                exercise.chapter,
                exercise.section
            );
            assert!(
                exercise.hint.contains('?'),
                "{}: a hint asks a question",
                exercise.name
            );
        }
        for folder in ["exercises", "solutions", "tests"] {
            let files = std::fs::read_dir(root.join(folder)).unwrap().count();
            assert_eq!(
                files,
                exercises.len(),
                "every file in {folder}/ must be listed in info.toml"
            );
        }
    }

    #[test]
    fn essentials_keep_the_panic_message() {
        let output = "running 1 test\ntest x ... FAILED\n---- x stdout ----\nthread 'x' panicked at tests/a.rs:3:5:\nnot yet implemented\nnote: run with `RUST_BACKTRACE=1`";
        let shown = essentials(output);
        assert!(shown.contains("panicked") && shown.contains("not yet implemented"));
        assert!(!shown.contains("RUST_BACKTRACE"));
    }
}
