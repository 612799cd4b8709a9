//! The PyTorch side of a bench: a script of `scripts/bench/` run with the
//! Python in CLIP_ART_TORCH_PYTHON (default python3), its lines printed after
//! candle's. Without PyTorch the bench says so and skips it.

use std::process::Command;

/// Runs `scripts/bench/SCRIPT ARGS…` and prints each line it prints.
pub fn run_reference(script: &str, args: &[String]) {
    let python =
        std::env::var("CLIP_ART_TORCH_PYTHON").unwrap_or_else(|_| "python3".into());
    let path = format!("{}/scripts/bench/{script}", env!("CARGO_MANIFEST_DIR"));
    match Command::new(&python).arg(path).args(args).output() {
        Ok(out) if out.status.success() => {
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                println!("PyTorch {line}");
            }
        }
        Ok(out) => println!(
            "PyTorch: skipped ({python} could not run the reference: {})",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ),
        Err(e) => println!("PyTorch: skipped (cannot start {python}: {e})"),
    }
}
