//! Bad input as a hostile but realistic user gives it: every case is a clear
//! error (or the right behaviour), never a panic, a clobbered file or a
//! misleading exit code. The book's appendix lists them with these tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn clip_art_in(folder: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_clip-art"))
        .current_dir(folder)
        .args(args)
        .output()
        .unwrap()
}

/// Exit code, stdout and stderr.
fn run(folder: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let output = clip_art_in(folder, args);
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A quick `generate` (few steps, retrieval from a small bank, by the VQ
/// decoder unless `extra` names a generator) with more flags.
fn generate(
    folder: &Path,
    prompt: &str,
    extra: &[&str],
) -> (Option<i32>, String, String) {
    let mut args = vec!["generate", prompt, "--steps", "2"];
    args.extend(["--start", "retrieve", "--bank", "16"]);
    if !extra.contains(&"--generator") {
        args.extend(["--generator", "vq"]);
    }
    args.extend_from_slice(extra);
    run(folder, &args)
}

fn files_in(folder: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

// 1. Prompts in any script make a default file name.
#[test]
fn a_prompt_in_any_script_names_its_file_without_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    for prompt in [
        "赤い円と青い四角と緑の三角と黄色い星と紫の十字と白い円".to_string(),
        format!(
            "un cercle rouge au-dessus d'un carré bleu, très élégant {}",
            "é".repeat(20)
        ),
    ] {
        let (code, _, stderr) = generate(dir.path(), &prompt, &[]);
        assert_eq!(code, Some(1), "{stderr}");
        assert!(stderr.contains("does not know the word"), "{stderr}");
    }
    let (code, stdout, stderr) = generate(
        dir.path(),
        &format!("a red circle:1 | {}:-0.01", "é".repeat(90)),
        &["--clip", "mini"],
    );
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

// 2. A config.json that cannot describe a CLIP names the field.
#[test]
fn a_clip_config_with_a_zero_patch_names_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let tiny =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/clip/tiny");
    for entry in std::fs::read_dir(&tiny).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    let config = dir.path().join("config.json");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("\"patch_size\": 8", "\"patch_size\": 0"),
    )
    .unwrap();
    let picture = scene_picture(dir.path());
    let clip = dir.path().to_str().unwrap();
    let (code, _, stderr) = run(
        dir.path(),
        &["zero-shot", &picture, "circle", "square", "--clip", clip],
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("vision_config.patch_size"), "{stderr}");
    let (code, _, stderr) = generate(dir.path(), "a red circle", &["--clip", clip]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("vision_config.patch_size"), "{stderr}");
}

/// A drawn red circle, as a PNG in `folder`.
fn scene_picture(folder: &Path) -> String {
    let path = folder.join("scene.png");
    let image = image::RgbImage::from_fn(64, 64, |x, y| {
        let inside = (x as i32 - 32).pow(2) + (y as i32 - 32).pow(2) < 200;
        image::Rgb(if inside {
            [220, 30, 30]
        } else {
            [255, 255, 255]
        })
    });
    image.save(&path).unwrap();
    path.to_str().unwrap().to_string()
}

// 3. Overwrite protection holds for symlinks, devices and folders.
#[cfg(unix)]
#[test]
fn outputs_never_replace_a_symlink_without_force_nor_a_folder_or_fifo_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| dir.path().join(name);
    std::os::unix::fs::symlink(at("nowhere.png"), at("dangling.png")).unwrap();
    let (code, _, stderr) =
        generate(dir.path(), "a red circle", &["--out", "dangling.png"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("already exists"), "{stderr}");
    assert!(!at("nowhere.png").exists());
    std::fs::create_dir(at("folder.png")).unwrap();
    assert!(
        Command::new("mkfifo")
            .arg(at("fifo.png"))
            .status()
            .unwrap()
            .success()
    );
    for name in ["folder.png", "fifo.png"] {
        let (code, _, stderr) =
            generate(dir.path(), "a red circle", &["--out", name, "--force"]);
        assert_eq!(code, Some(1), "{stderr}");
        assert!(stderr.contains("is not a regular file"), "{stderr}");
    }
}

// 3. Parallel runs without --force: one wins, the others are refused, at
// the start or when they publish, and the file is the winner's.
#[test]
fn parallel_runs_to_one_path_never_overwrite_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let children: Vec<_> = (0..3)
        .map(|seed| {
            Command::new(env!("CARGO_BIN_EXE_clip-art"))
                .current_dir(dir.path())
                .args(["generate", "a red circle", "--steps", "2", "--bank", "16"])
                .args(["--generator", "vq", "--start", "retrieve"])
                .args(["--out", "same.png", "--seed", &seed.to_string()])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|child| child.wait_with_output().unwrap())
        .collect();
    let winners: Vec<usize> =
        (0..3).filter(|&i| children[i].status.success()).collect();
    assert_eq!(winners.len(), 1, "exactly one run writes the file");
    for child in &children {
        if !child.status.success() {
            let stderr = String::from_utf8_lossy(&child.stderr);
            assert!(stderr.contains("--force"), "{stderr}");
        }
    }
    let png = std::fs::read(dir.path().join("same.png")).unwrap();
    let text = clip_art::viz::picture::png_text(&png).unwrap();
    let seed = format!("seed={}", winners[0]);
    assert!(text.iter().any(|(_, v)| v.contains(&seed)), "{text:?}");
    assert_eq!(files_in(dir.path()), ["same.png"]);
}

// 4. --gif and --out may not share a path; a bad --gif is found first.
#[test]
fn the_gif_may_not_replace_the_picture_and_a_bad_gif_path_fails_before_work() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = generate(
        dir.path(),
        "a red circle",
        &["--out", "a.png", "--gif", "./a.png"],
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("both be written"), "{stderr}");
    std::fs::write(dir.path().join("file"), b"").unwrap();
    let (code, stdout, stderr) = generate(
        dir.path(),
        "a red circle",
        &["--out", "b.png", "--gif", "file/run.gif"],
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("cannot create folder"), "{stderr}");
    assert!(!stdout.contains("wrote"), "{stdout}");
    assert_eq!(files_in(dir.path()), ["file"]);
}

// 5. Numbers have bounds that --help states and errors give.
#[test]
fn sizes_counts_scales_and_weights_out_of_bounds_are_refused_with_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    for (flag, value, expected) in [
        ("--scale", "67108865", "must be from 1 to 16"),
        ("--scale", "1000", "would need 11.4 GB"),
        ("--size", "100000", "must be from 8 to 512"),
        (
            "--bank",
            "1000000",
            "at most 16384 scenes; 1000000 would need 45.8 GB",
        ),
        ("--steps", "0", "must be from 1 to 10000"),
        ("--cutouts", "100000", "must be from 0 to 128"),
    ] {
        let (code, _, stderr) =
            run(dir.path(), &["generate", "a red circle", flag, value]);
        assert_eq!(code, Some(2), "{flag} {value}: {stderr}");
        assert!(stderr.contains(expected), "{flag} {value}: {stderr}");
    }
    for weight in ["1e38", "1e39", "-101"] {
        let prompt = format!("a red circle:{weight}");
        let (code, _, stderr) = run(dir.path(), &["generate", &prompt]);
        assert_eq!(code, Some(1), "{stderr}");
        assert!(
            stderr.contains(&format!(
                "the weight must be from -100 to 100, got {weight}"
            )),
            "{stderr}"
        );
    }
    let (_, help, _) = run(dir.path(), &["generate", "--help"]);
    assert!(
        help.contains("1–16") && help.contains("at most 16,384"),
        "{help}"
    );
    assert!(files_in(dir.path()).is_empty());
}

// 6. Ctrl-C stops a run in any phase, saves what it has, and exits 130.
#[cfg(unix)]
#[test]
fn ctrl_c_while_the_bank_is_ranked_stops_the_run_with_130() {
    let dir = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let args = [
        "generate",
        "a red circle",
        "--generator",
        "vq",
        "--start",
        "retrieve",
        "--bank",
        "16384",
        "--out",
        "x.png",
    ];
    let (code, stderr) = interrupted_run(dir.path(), &args, 1500);
    assert_eq!(code, Some(130), "{stderr}");
    assert!(stderr.contains("interrupted by Ctrl-C"), "{stderr}");
    assert!(
        started.elapsed().as_secs_f32() < 12.0,
        "{:?}",
        started.elapsed()
    );
    // Stopped while ranking: nothing written. Stopped later: the last frame.
    let saved = stderr.contains("saved the last frame to x.png");
    assert_eq!(dir.path().join("x.png").exists(), saved, "{stderr}");
}

/// Runs `args` in `folder`, sends Ctrl-C after `after_ms`, and returns its
/// exit code and stderr.
#[cfg(unix)]
fn interrupted_run(
    folder: &Path,
    args: &[&str],
    after_ms: u64,
) -> (Option<i32>, String) {
    let child = Command::new(env!("CARGO_BIN_EXE_clip-art"))
        .current_dir(folder)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(after_ms));
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let output = child.wait_with_output().unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[cfg(unix)]
#[test]
fn ctrl_c_during_training_saves_the_weights_so_far_and_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let (code, stderr) = interrupted_run(
        dir.path(),
        &["train-clip", "--steps", "1000000", "--weights", "w"],
        2000,
    );
    assert_eq!(code, Some(130), "{stderr}");
    assert!(
        stderr
            .contains("saved the weights trained so far to w/mini-clip.safetensors"),
        "{stderr}"
    );
    assert!(
        started.elapsed().as_secs_f32() < 15.0,
        "{:?}",
        started.elapsed()
    );
    assert_eq!(files_in(&dir.path().join("w")), ["mini-clip.safetensors"]);
    let weights = dir.path().join("w/mini-clip.safetensors");
    let tensors =
        candle_core::safetensors::load(&weights, &candle_core::Device::Cpu);
    assert!(tensors.unwrap().contains_key("temperature"));
}

// 7. Input that would silently mean nothing is refused.
#[test]
fn zero_shot_refuses_labels_and_templates_that_cannot_be_ranked() {
    let dir = tempfile::tempdir().unwrap();
    let picture = scene_picture(dir.path());
    for (args, expected) in [
        (vec!["red circle", ""], "label 2 is empty"),
        (
            vec!["red circle", "blue square", "--template", "a picture"],
            "has no {}",
        ),
        (
            vec!["red circle", "blue square", "--truth", "green star"],
            "is not among the labels",
        ),
        (vec!["red circle", "red circle"], "given twice"),
    ] {
        let mut all = vec!["zero-shot", picture.as_str()];
        all.extend(args);
        let (code, _, stderr) = run(dir.path(), &all);
        assert_eq!(code, Some(1), "{stderr}");
        assert!(stderr.contains(expected), "{expected}: {stderr}");
    }
}

/// A copy of shipped weights with one tensor full of NaN.
fn poisoned(folder: &Path, shipped: &str, tensor: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("weights")
        .join(shipped);
    let mut tensors =
        candle_core::safetensors::load(&path, &candle_core::Device::Cpu).unwrap();
    let nan = (tensors[tensor].ones_like().unwrap() * f64::NAN).unwrap();
    tensors.insert(tensor.to_string(), nan);
    let out = folder.join(format!("nan-{shipped}"));
    candle_core::safetensors::save(&tensors, &out).unwrap();
    out
}

#[test]
fn weights_with_nan_name_the_tensor_and_flags_that_do_nothing_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let picture = scene_picture(dir.path());
    let clip = poisoned(dir.path(), "mini-clip.safetensors", "temperature");
    let clip = clip.to_str().unwrap();
    let (code, _, stderr) = run(
        dir.path(),
        &[
            "zero-shot",
            &picture,
            "red circle",
            "blue square",
            "--weights",
            clip,
        ],
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("tensor temperature has 1 of 1 values that are not finite"),
        "{stderr}"
    );
    let vq = poisoned(dir.path(), "scenes-vq.safetensors", "codebook");
    let vq = vq.to_str().unwrap();
    let (code, _, stderr) =
        generate(dir.path(), "a red circle", &["--vq-weights", vq]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("tensor codebook has 16384 of 16384 values"),
        "{stderr}"
    );
    let (code, _, stderr) = generate(
        dir.path(),
        "a red circle",
        &["--generator", "pixels", "--vq-weights", vq],
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("--vq-weights is for --generator vq"),
        "{stderr}"
    );
}

#[test]
fn one_hot_reads_each_argument_as_a_word_and_long_prompts_are_not_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, _) = run(dir.path(), &["one-hot", "LUKAS", "ANNA"]);
    assert_eq!(code, Some(0));
    assert_eq!(stdout.matches("A B C D").count(), 2, "{stdout}");
    let (code, _, stderr) = run(dir.path(), &["one-hot", "A B"]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("not in the alphabet"), "{stderr}");
    let essay = "a red circle ".repeat(400);
    let (code, _, stderr) = generate(dir.path(), &essay, &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.len() < 600, "{} bytes: {stderr}", stderr.len());
    assert!(stderr.contains("(5199 characters)"), "{stderr}");
}
