//! The exercise checker: `cargo run -p clip-art-exercises`.
//!
//! Runs each exercise's checks (`cargo test --test NAME`) and shows which pass; the first
//! one that fails prints its test output and a hint.
//!
//! `--solutions` runs the checks against `solutions/` instead. `--verify` (used by CI)
//! proves every exercise fails as shipped and passes with its solution.

use std::process::{Command, ExitCode};

struct Exercise {
    name: &'static str,
    chapter: &'static str,
    hint: &'static str,
}

/// In course order. Each has `exercises/NAME.rs`, `solutions/NAME.rs`, `checks/NAME.rs`
/// and a `[[test]]` target in Cargo.toml.
const EXERCISES: &[Exercise] = &[
    Exercise {
        name: "char_one_hot",
        chapter: "1 · Representing data",
        hint: "Start from Array2::zeros((number of characters, 26)). For each (position, character) \
               of word.chars().enumerate(), upper-case it; its column is (upper as u8 - b'A'). \
               Check is_ascii_uppercase() first and return Err(format!(..)) naming the character \
               and the position otherwise.",
    },
    Exercise {
        name: "stable_softmax",
        chapter: "2 · Softmax and cross-entropy",
        hint: "Work row by row (rows_mut). Subtract the row's maximum before exp: \
               e^(y-max) / Σ e^(y-max) is the same fraction, and the largest term is e^0 = 1, \
               so nothing overflows.",
    },
    Exercise {
        name: "cross_entropy_grad",
        chapter: "2 · Softmax and cross-entropy",
        hint: "ln softmax(y)_i = (y_i - max) - ln Σ_j e^(y_j - max). For the gradient, differentiate \
               -Σ t_i ln p_i for one example: you get p - t. The loss is a mean over the batch, \
               so divide by the number of rows.",
    },
    Exercise {
        name: "mse_loss",
        chapter: "3 · Autoencoders and generators",
        hint: "Subtract, square (sqr), then mean_all(): candle averages over every number of every \
               picture, which is the lecture's 1/n Σ (x − x̂)².",
    },
    Exercise {
        name: "reparameterise",
        chapter: "3 · Autoencoders and generators",
        hint: "σ = exp(½ log σ²): multiply the log-variance by 0.5, exp() it, multiply by the noise \
               and add the mean. Tensor ops (+, *) on &Tensor return Result, hence the ?s.",
    },
    Exercise {
        name: "latent_homework",
        chapter: "4 · Latent arithmetic (homework)",
        hint: "Collect the row indices where has_attribute is true, latents.select(Axis(0), &rows) \
               and mean_axis(Axis(0)); the same for false; subtract (with − without). To apply, \
               add &(direction * strength) to the latents: ndarray broadcasts the row to every face.",
    },
    Exercise {
        name: "contrastive_loss",
        chapter: "5 · CLIP",
        hint: "Normalise with x.broadcast_div(&x.sqr()?.sum_keepdim(1)?.sqrt()?). logits = \
               I_e.matmul(&T_e.t()?)?.broadcast_mul(&temperature.exp()?). labels = arange(n) as \
               one-hot rows is Tensor::eye(n, ..): −Σ eye · log_softmax(logits, dim), summed over \
               dim and averaged, for dim 0 and dim 1; the loss is their mean. Write log_softmax \
               from max_keepdim, exp, sum_keepdim and log so candle can differentiate every step.",
    },
    Exercise {
        name: "zero_shot_ranking",
        chapter: "5 · CLIP",
        hint: "clip_art::clip::zero_shot::fill_template(template, label) for every label; \
               clip.text_embeddings(&sentences)? \
               is [labels, d], clip.image_embeddings(picture)? is [1, d]. Normalise both, \
               image.matmul(&texts.t()?)? times clip.logit_scale()? as f64, \
               candle_nn::ops::softmax_last_dim, squeeze(0)?.to_vec1::<f32>()?, zip with the \
               labels and sort_by(|a, b| b.1.total_cmp(&a.1)). Use ? on every CLIP call.",
    },
    Exercise {
        name: "spherical_loss",
        chapter: "6 · CLIP-guided generation",
        hint: "Normalise both with x.broadcast_div(&x.sqr()?.sum_keepdim(1)?.sqrt()?). The squared \
               chords are a.matmul(&b.t()?)?.affine(-2.0, 2.0)? (x·(−2) + 2), then \
               .clamp(0.0, 4.0)? so that rounding never hands sqrt a negative number. sqrt(), \
               divide by 2.0, arcsin(&..)?, sqr(), multiply by 2.0: [n, m] with no loop.",
    },
    Exercise {
        name: "cutouts",
        chapter: "6 · CLIP-guided generation",
        hint: "let s = size as f64 / out as f64; start with vec![0f32; out * full]. For each o in \
               0..out the interval is [o·s, (o+1)·s); for each i in 0..size the overlap is \
               end.min(i + 1) − start.max(i), used only when positive. Store overlap / s at \
               row * full + offset + i, where row is o, or out − 1 − o when flipping.",
    },
];

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
        exercise.name,
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
    for exercise in EXERCISES {
        let (ok, output) = run_checks(exercise, solutions);
        println!(
            "  {} {:<20} chapter {}",
            if ok { "✓" } else { "✗" },
            exercise.name,
            exercise.chapter
        );
        if ok {
            passed += 1;
        } else if first_failure.is_none() {
            first_failure = Some((exercise, output));
        }
    }
    println!("\n{passed} of {} exercises pass.", EXERCISES.len());
    match first_failure {
        None => {
            println!("All done — well done!");
            ExitCode::SUCCESS
        }
        Some((exercise, output)) => {
            println!(
                "\nNext: {source}/{}.rs (its checks: checks/{}.rs)\n",
                exercise.name, exercise.name
            );
            println!("{}\n", essentials(&output));
            println!("Hint: {}", exercise.hint);
            ExitCode::FAILURE
        }
    }
}

/// CI: each exercise must fail as shipped (the TODO is real) and pass with its solution.
fn verify_all() -> ExitCode {
    let (mut passed, mut failed) = (0, 0);
    for exercise in EXERCISES {
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
    fn every_exercise_has_its_files_and_test_target() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
        for exercise in EXERCISES {
            for folder in ["exercises", "solutions", "checks"] {
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
            assert!(
                manifest.contains(&format!("name = \"{}\"", exercise.name)),
                "no [[test]] target for {}",
                exercise.name
            );
        }
        let listed = std::fs::read_dir(root.join("exercises")).unwrap().count();
        assert_eq!(
            listed,
            EXERCISES.len(),
            "every file in exercises/ must be listed in EXERCISES"
        );
    }

    #[test]
    fn essentials_keep_the_panic_message() {
        let output = "running 1 test\ntest x ... FAILED\n---- x stdout ----\nthread 'x' panicked at checks/a.rs:3:5:\nnot yet implemented\nnote: run with `RUST_BACKTRACE=1`";
        let shown = essentials(output);
        assert!(shown.contains("panicked") && shown.contains("not yet implemented"));
        assert!(!shown.contains("RUST_BACKTRACE"));
    }
}
