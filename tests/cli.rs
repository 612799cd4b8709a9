//! The `clip-art` command as a student meets it: right output, clear errors.

use std::process::Command;

fn clip_art(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_clip-art"))
        .args(args)
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn one_hot_prints_the_lecture_table() {
    let (ok, stdout, _) = clip_art(&["one-hot", "LUKAS"]);
    assert!(ok);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 6, "{stdout}");
    assert!(lines[0].trim_start().starts_with("A B C"), "{stdout}");
    // row L: a single 1, in the 12th column
    let cells: Vec<&str> = lines[1].split_whitespace().skip(2).collect();
    assert_eq!(cells.len(), 26);
    assert_eq!(cells.iter().position(|&c| c == "1"), Some(11));
    assert_eq!(cells.iter().filter(|&&c| c == "1").count(), 1);
}

#[test]
fn tokens_use_the_lecture_vocabulary() {
    let (ok, stdout, _) = clip_art(&["one-hot", "--tokens", "king", "queen"]);
    assert!(ok);
    let king: Vec<&str> = stdout
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .skip(2)
        .collect();
    assert_eq!(king, ["0", "0", "0", "0", "0", "0", "0", "1", "0"]);
}

#[test]
fn bad_input_is_an_error_that_names_it() {
    let (ok, _, stderr) = clip_art(&["one-hot", "R2D2"]);
    assert!(!ok);
    assert!(stderr.contains("character '2' at position 1"), "{stderr}");
    let (ok, _, stderr) = clip_art(&["one-hot", "--tokens", "king", "jester"]);
    assert!(!ok);
    assert!(
        stderr.contains("\"jester\"") && stderr.contains("position 1"),
        "{stderr}"
    );
    let (ok, _, stderr) = clip_art(&["train-shapes", "--image-size", "2"]);
    assert!(!ok);
    assert!(stderr.contains("--image-size"), "{stderr}");
    let (ok, _, stderr) = clip_art(&["train-shapes", "--device", "tpu"]);
    assert!(!ok);
    assert!(stderr.contains("tpu"), "{stderr}");
}

#[test]
fn zero_shot_ranks_the_true_label_of_a_drawn_scene_first() {
    use clip_art::world::scenes::{SceneBatch, Split};
    let dir = tempfile::tempdir().unwrap();
    let scene = SceneBatch::draw(1, 64, Split::Train, 11);
    let object = scene.scenes[0].objects[0];
    let truth = format!("{} {}", object.colour.name(), object.shape.name());
    let path = dir.path().join("scene.png");
    scene.images[0].save(&path).unwrap();
    let path = path.to_str().unwrap();
    let (ok, stdout, stderr) = clip_art(&[
        "zero-shot",
        path,
        "purple heart",
        &truth,
        "orange cross",
        "--truth",
        &truth,
    ]);
    assert!(ok, "{stderr}");
    let first = stdout.lines().next().unwrap();
    assert!(
        first.starts_with(&truth) && first.ends_with("Ranked 1 out of 3 labels"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("✓ a picture of a {truth}")),
        "{stdout}"
    );

    let (ok, _, stderr) = clip_art(&["zero-shot", path, "cat"]);
    assert!(
        !ok && stderr.contains("does not know the word \"cat\""),
        "{stderr}"
    );
    let (ok, _, stderr) = clip_art(&["zero-shot", "missing.png", "red circle"]);
    assert!(!ok && stderr.contains("missing.png"), "{stderr}");
}

#[test]
fn zero_shot_with_the_real_clip_says_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let picture = dir.path().join("p.png");
    image::RgbImage::new(8, 8).save(&picture).unwrap();
    let picture = picture.to_str().unwrap();
    // The tiny reference CLIP's folder has config.json and model.safetensors, no merges.txt.
    let (ok, _, stderr) = clip_art(&[
        "zero-shot",
        picture,
        "cat",
        "--clip",
        "tests/fixtures/clip/tiny",
    ]);
    assert!(!ok && stderr.contains("merges.txt"), "{stderr}");
    let (ok, _, stderr) = clip_art(&["zero-shot", picture, "cat", "--clip", "nowhere"]);
    assert!(!ok && stderr.contains("nowhere/config.json"), "{stderr}");
    if !cfg!(feature = "hub") {
        let (ok, _, stderr) = clip_art(&["zero-shot", picture, "cat", "--clip", "hub"]);
        assert!(!ok && stderr.contains("--features hub"), "{stderr}");
    }
}
