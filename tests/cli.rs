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
    let missing = "no-such-folder/mini-clip.safetensors";
    let (ok, _, stderr) = clip_art(&["generate-report", "--weights", missing]);
    assert!(!ok);
    assert!(stderr.contains(missing), "{stderr}");
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
    let (ok, _, stderr) =
        clip_art(&["zero-shot", picture, "cat", "--clip", "nowhere"]);
    assert!(!ok && stderr.contains("nowhere/config.json"), "{stderr}");
    if !cfg!(feature = "hub") {
        let (ok, _, stderr) =
            clip_art(&["zero-shot", picture, "cat", "--clip", "hub"]);
        assert!(!ok && stderr.contains("--features hub"), "{stderr}");
    }
}

/// The "clip-art settings" text chunk of a PNG `generate` wrote.
fn png_settings(path: &std::path::Path) -> String {
    let text =
        clip_art::viz::picture::png_text(&std::fs::read(path).unwrap()).unwrap();
    let found = text.into_iter().find(|(key, _)| key == "clip-art settings");
    found.expect("a clip-art settings chunk").1
}

/// A short, fully seeded generation (few steps and starts: test speed).
fn quick_generate(out: &std::path::Path, extra: &[&str]) -> (bool, String, String) {
    let out = out.to_str().unwrap();
    let mut args = vec![
        "generate",
        "a red circle",
        "--steps",
        "4",
        "--restarts",
        "1",
        "--out",
        out,
    ];
    args.extend_from_slice(extra);
    clip_art(&args)
}

#[test]
fn generate_writes_a_png_that_remembers_its_settings_and_is_the_same_for_the_same_seed()
 {
    let folder = tempfile::tempdir().unwrap();
    let first = folder.path().join("first.png");
    let gif = folder.path().join("run.gif");
    let (ok, stdout, stderr) =
        quick_generate(&first, &["--gif", gif.to_str().unwrap()]);
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("judge:"), "{stdout}");
    let bytes = std::fs::read(&first).unwrap();
    let text = clip_art::viz::picture::png_text(&bytes).unwrap();
    let value =
        |key: &str| text.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    assert_eq!(value("Description").as_deref(), Some("a red circle"));
    let settings = value("clip-art settings").unwrap();
    // The default generates from noise: the layered generator, searched.
    assert!(
        settings.contains("generator=Layers")
            && settings.contains("starts=1 rounds=4")
            && settings.contains("seed=0")
            && settings.contains("clip=mini-ensemble"),
        "{settings}"
    );
    assert!(value("clip-art judge").is_some(), "{text:?}");
    assert_eq!(image::load_from_memory(&bytes).unwrap().width(), 256);
    assert!(gif.exists());
    // Same seed: the same bytes. Another seed: another picture.
    let second = folder.path().join("second.png");
    assert!(quick_generate(&second, &[]).0);
    assert_eq!(std::fs::read(&second).unwrap(), bytes);
    let third = folder.path().join("third.png");
    assert!(quick_generate(&third, &["--seed", "5"]).0);
    assert_ne!(std::fs::read(&third).unwrap(), bytes);
}

#[test]
fn generate_refuses_to_overwrite_and_names_bad_input() {
    let folder = tempfile::tempdir().unwrap();
    let existing = folder.path().join("mine.png");
    std::fs::write(&existing, b"precious").unwrap();
    let (ok, _, stderr) = quick_generate(&existing, &[]);
    assert!(!ok);
    assert!(
        stderr.contains("already exists") && stderr.contains("--force"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&existing).unwrap(), b"precious");
    let (ok, _, stderr) = clip_art(&["generate", "a red circle:0"]);
    assert!(!ok && stderr.contains("weight 0"), "{stderr}");
    let missing = folder.path().join("missing.png");
    let out = folder.path().join("edit.png");
    let (ok, _, stderr) =
        quick_generate(&out, &["--init", missing.to_str().unwrap()]);
    assert!(!ok && stderr.contains("missing.png"), "{stderr}");
    assert!(!out.exists(), "no output after a failed run");
    // The default guide is the shipped ensemble: weights of one's own need --clip mini.
    let (ok, _, stderr) =
        quick_generate(&out, &["--clip-weights", "mine.safetensors"]);
    assert!(!ok && stderr.contains("--clip mini"), "{stderr}");
}

#[test]
fn generate_with_init_recolours_a_red_circle_in_place() {
    use clip_art::eval::editing::{EditCase, edit_cases};
    use clip_art::world::judge::scenes::judge_scene;
    use clip_art::world::scenes::Colour;
    use clip_art::world::shapes::Shape;

    let folder = tempfile::tempdir().unwrap();
    let mut scene = edit_cases(1, 0).remove(0).scene;
    scene.objects[0].colour = Colour::Red;
    scene.objects[0].shape = Shape::Circle;
    let red = folder.path().join("red.png");
    scene.draw(64).save(&red).unwrap();
    let case = EditCase {
        scene,
        target: Colour::Blue,
        prompt: "a blue circle".into(),
    };
    let out = folder.path().join("blue.png");
    let (ok, stdout, stderr) = clip_art(&[
        "generate",
        "a blue circle",
        "--init",
        red.to_str().unwrap(),
        "--steps",
        "5",
        "--scale",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{stdout}{stderr}");
    let edited = image::open(&out).unwrap().to_rgb8();
    assert_eq!(case.verdict(&judge_scene(&edited)), Ok(()), "{stdout}");
    let settings = png_settings(&out);
    assert!(
        settings.contains("keep=Layout") && settings.contains("init_weight=5"),
        "{settings}"
    );
}

#[test]
fn generate_from_an_image_prompt_alone_and_names_a_missing_one() {
    let folder = tempfile::tempdir().unwrap();
    let scene = folder.path().join("scene.png");
    let scenes = clip_art::world::scenes::SceneBatch::draw(
        1,
        64,
        clip_art::world::scenes::Split::Train,
        5,
    );
    scenes.images[0].save(&scene).unwrap();
    let out = folder.path().join("from-image.png");
    let prompt = format!("{}:2", scene.display());
    let (ok, stdout, stderr) = clip_art(&[
        "generate",
        "--image-prompt",
        &prompt,
        "--steps",
        "2",
        "--restarts",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{stdout}{stderr}");
    let settings = png_settings(&out);
    assert!(settings.contains("scene.png:2"), "{settings}");
    let (ok, _, stderr) = clip_art(&["generate", "--image-prompt", "nowhere.png"]);
    assert!(!ok && stderr.contains("nowhere.png"), "{stderr}");
    let (ok, _, stderr) = clip_art(&["generate"]);
    assert!(!ok && stderr.contains("<PROMPT>"), "{stderr}");
}

#[test]
fn generate_retrieves_drawn_scenes_only_when_asked_and_says_what_a_bank_can_be() {
    let folder = tempfile::tempdir().unwrap();
    let out = folder.path().join("retrieved.png");
    let vq = ["--generator", "vq", "--bank", "32"];
    let (ok, _, stderr) = quick_generate(&out, &vq);
    assert!(!ok && stderr.contains("--start retrieve"), "{stderr}");
    let (ok, stdout, stderr) =
        quick_generate(&out, &[&vq[..], &["--start", "retrieve"]].concat());
    assert!(ok, "{stdout}{stderr}");
    let settings = png_settings(&out);
    assert!(
        settings.contains("generator=Vq")
            && settings.contains("start=retrieve bank=32"),
        "{settings}"
    );
    let refused = folder.path().join("refused.png");
    let (ok, _, stderr) = quick_generate(&refused, &["--start", "retrieve"]);
    assert!(
        !ok && stderr.contains("--generator vq") && stderr.contains("layers starts"),
        "{stderr}"
    );
    let (ok, _, stderr) = clip_art(&["generate", "a red circle", "--bank", "lots"]);
    assert!(
        !ok && stderr.contains("every-kind") && stderr.contains("lots"),
        "{stderr}"
    );
}

#[test]
fn a_prompt_in_plain_english_is_drawn_and_judged_and_a_misspelt_word_is_named() {
    let folder = tempfile::tempdir().unwrap();
    let out = folder.path().join("plain.png");
    let path = out.to_str().unwrap();
    let prompt = "big red circle in the top right corner";
    let (ok, stdout, stderr) = clip_art(&["generate", prompt, "--out", path]);
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("judge: ✓"), "{stdout}");
    let misspelt = folder.path().join("misspelt.png");
    let (ok, _, stderr) = clip_art(&[
        "generate",
        "a big red cirle",
        "--out",
        misspelt.to_str().unwrap(),
    ]);
    assert!(!ok && stderr.contains("did you mean circle"), "{stderr}");
    assert!(!misspelt.exists(), "no output after a refused prompt");
}

#[test]
fn a_prompt_the_judge_cannot_read_is_said_to_be_unjudged_not_passed() {
    let folder = tempfile::tempdir().unwrap();
    let out = folder.path().join("three.png");
    let (ok, stdout, stderr) = clip_art(&[
        "generate",
        "a red circle and a blue square and a green star",
        "--steps",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stdout.contains("judge: ? the judge cannot check this prompt"),
        "{stdout}"
    );
    let text =
        clip_art::viz::picture::png_text(&std::fs::read(&out).unwrap()).unwrap();
    let verdict = text.iter().find(|(key, _)| key == "clip-art judge");
    assert!(
        verdict.is_some_and(|(_, v)| v.starts_with("? ")),
        "{text:?}"
    );
}

#[test]
fn train_clip_says_what_a_share_of_two_object_scenes_is() {
    let (ok, _, stderr) = clip_art(&["train-clip", "--two-objects", "1.5"]);
    assert!(
        !ok && stderr.contains("--two-objects") && stderr.contains("1.5"),
        "{stderr}"
    );
}

#[test]
fn train_clip_names_a_missing_start() {
    let folder = tempfile::tempdir().unwrap();
    let weights = folder.path().to_str().unwrap();
    let args = [
        "train-clip",
        "--from",
        "no-such-guide.safetensors",
        "--weights",
        weights,
    ];
    let (ok, _, stderr) = clip_art(&args);
    assert!(
        !ok && stderr.contains("no-such-guide.safetensors"),
        "{stderr}"
    );
    let written = std::fs::read_dir(folder.path()).unwrap().count();
    assert_eq!(written, 0, "nothing is written when training cannot start");
}

#[test]
fn generate_with_a_vqgan_folder_runs_vqgan_clip_end_to_end() {
    let folder = tempfile::tempdir().unwrap();
    let tiny = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/vqgan/tiny");
    let run = |name: &str| {
        let out = folder.path().join(name);
        let args = ["--generator", "vqgan", "--vqgan", tiny, "--size", "32"];
        let (ok, stdout, stderr) = quick_generate(&out, &args);
        assert!(ok, "{stdout}{stderr}");
        std::fs::read(&out).unwrap()
    };
    let first = run("first.png");
    assert_eq!(run("second.png"), first, "same seed, same bytes");
    let settings = png_settings(&folder.path().join("first.png"));
    assert!(settings.contains("generator=Vqgan vqgan="), "{settings}");
    let (ok, _, stderr) =
        clip_art(&["generate", "a red circle", "--generator", "vqgan"]);
    assert!(!ok && stderr.contains("needs --vqgan DIR"), "{stderr}");
    // The VQGAN's weights in f16: the run works and says so in the PNG; bf16
    // needs a GPU.
    let half = folder.path().join("half.png");
    let args = [
        "--generator",
        "vqgan",
        "--vqgan",
        tiny,
        "--size",
        "32",
        "--precision",
        "f16",
    ];
    let (ok, stdout, stderr) = quick_generate(&half, &args);
    assert!(ok, "{stdout}{stderr}");
    assert!(png_settings(&half).contains("precision=F16"));
    let (ok, _, stderr) = quick_generate(
        &folder.path().join("bf16.png"),
        &[
            "--generator",
            "vqgan",
            "--vqgan",
            tiny,
            "--size",
            "32",
            "--precision",
            "bf16",
            "--device",
            "cpu",
        ],
    );
    assert!(!ok && stderr.contains("bf16 needs a GPU"), "{stderr}");
    let (ok, _, stderr) =
        clip_art(&["generate", "a red circle", "--precision", "f16"]);
    assert!(
        !ok && stderr.contains("--precision is for the real models"),
        "{stderr}"
    );
}

#[test]
fn generate_with_a_biggan_folder_runs_big_sleep_end_to_end() {
    let folder = tempfile::tempdir().unwrap();
    let tiny = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/biggan/tiny");
    let run = |name: &str, extra: &[&str]| {
        let out = folder.path().join(name);
        let gif = folder.path().join(format!("{name}.gif"));
        let mut args = vec!["--generator", "biggan", "--biggan", tiny];
        args.extend_from_slice(&["--gif", gif.to_str().unwrap()]);
        args.extend_from_slice(extra);
        let (ok, stdout, stderr) = quick_generate(&out, &args);
        assert!(ok, "{stdout}{stderr}");
        assert!(stdout.contains("5 frames"), "{stdout}");
        std::fs::read(&out).unwrap()
    };
    let first = run("first.png", &[]);
    assert_eq!(run("second.png", &[]), first, "same seed, same bytes");
    let settings = png_settings(&folder.path().join("first.png"));
    assert!(
        settings.contains("generator=Biggan biggan=")
            && settings.contains("max_classes=none (sigmoid)")
            && settings.contains("lr=0.07"),
        "{settings}"
    );
    run("top-k.png", &["--max-classes", "3", "--precision", "f16"]);
    let settings = png_settings(&folder.path().join("top-k.png"));
    assert!(
        settings.contains("max_classes=3 precision=F16"),
        "{settings}"
    );
    for (extra, message) in [
        (&["--generator", "biggan"][..], "needs --biggan DIR"),
        (
            &["--biggan", tiny][..],
            "are for --generator biggan, not layers",
        ),
        (
            &["--generator", "biggan", "--biggan", tiny, "--cutouts", "0"][..],
            "--cutouts must be at least 1",
        ),
    ] {
        let mut args = vec!["generate", "a red circle"];
        args.extend_from_slice(extra);
        let (ok, _, stderr) = clip_art(&args);
        assert!(!ok && stderr.contains(message), "{stderr}");
    }
}

#[test]
fn weights_are_listed_and_a_fetch_without_downloads_says_what_to_get_by_hand() {
    let cache = tempfile::tempdir().unwrap();
    let cache_flag = cache.path().to_str().unwrap();
    let (ok, stdout, _) = clip_art(&["weights", "list", "--cache", cache_flag]);
    assert!(ok);
    for name in [
        "clip-vit-b-32",
        "vqgan-imagenet-f16-16384",
        "vqgan-gumbel-f8",
    ] {
        assert!(stdout.contains(name), "{stdout}");
    }
    assert!(stdout.contains("not fetched"), "{stdout}");
    // A folder with every file counts as cached, with the flag that takes it.
    let folder = cache.path().join("vqgan-gumbel-f8");
    std::fs::create_dir_all(&folder).unwrap();
    for file in ["model.yaml", "last.ckpt"] {
        std::fs::write(folder.join(file), "").unwrap();
    }
    let (_, stdout, _) = clip_art(&["weights", "list", "--cache", cache_flag]);
    assert!(stdout.contains("cached: --vqgan"), "{stdout}");

    let (ok, _, stderr) =
        clip_art(&["weights", "fetch", "vqgan", "--cache", cache_flag]);
    assert!(!ok);
    assert!(stderr.contains("known: clip-vit-b-32"), "{stderr}");
    if !cfg!(feature = "hub") {
        let (ok, _, stderr) =
            clip_art(&["weights", "fetch", "clip-vit-b-32", "--cache", cache_flag]);
        assert!(!ok);
        for part in [
            "--features hub",
            "by hand",
            "model.safetensors",
            "huggingface.co",
        ] {
            assert!(stderr.contains(part), "{part:?} not in {stderr}");
        }
    }
}

#[test]
fn noise_prompts_and_the_views_resampling_and_distortions_are_taken_and_recorded() {
    let folder = tempfile::tempdir().unwrap();
    let alone = folder.path().join("noise.png");
    let (ok, stdout, stderr) = clip_art(&[
        "generate",
        "--noise-prompt",
        "3:0.5",
        "--generator",
        "pixels",
        "--size",
        "16",
        "--steps",
        "3",
        "--out",
        alone.to_str().unwrap(),
    ]);
    assert!(ok, "{stdout}{stderr}");
    assert!(png_settings(&alone).contains("noise_prompts=[(3, 0.5)]"));
    // The views resampled as nerdyrodent's 'latest' cutouts.
    let pooled = folder.path().join("pooled.png");
    let (ok, stdout, stderr) = quick_generate(
        &pooled,
        &[
            "--generator",
            "pixels",
            "--size",
            "48",
            "--resampling",
            "pooled",
            "--distort",
        ],
    );
    assert!(ok, "{stdout}{stderr}");
    let settings = png_settings(&pooled);
    assert!(
        settings.contains("resampling=Pooled")
            && settings.contains("distort=nerdyrodent"),
        "{settings}"
    );
    let whole = folder.path().join("whole.png");
    for views in [&["--resampling", "pooled"][..], &["--distort"]] {
        let (ok, _, stderr) =
            quick_generate(&whole, &[views, &["--cutouts", "0"]].concat());
        assert!(!ok && stderr.contains("--cutouts 0 has none"), "{stderr}");
    }
    let (ok, _, stderr) =
        clip_art(&["generate", "a red circle", "--noise-prompt", "3:0"]);
    assert!(!ok && stderr.contains("non-zero"), "{stderr}");
}

#[test]
fn generate_from_noise_with_the_layered_generator_is_judged_and_seeded() {
    let folder = tempfile::tempdir().unwrap();
    let run = |name: &str, extra: &[&str]| {
        let out = folder.path().join(name);
        let mut args = vec!["generate", "a small yellow star at the top left"];
        args.extend_from_slice(&[
            "--generator",
            "layers",
            "--out",
            out.to_str().unwrap(),
        ]);
        args.extend_from_slice(extra);
        let (ok, stdout, stderr) = clip_art(&args);
        assert!(ok, "{stdout}{stderr}");
        (stdout, std::fs::read(&out).unwrap(), png_settings(&out))
    };
    let gif = folder.path().join("search.gif");
    let (stdout, bytes, settings) =
        run("first.png", &["--gif", gif.to_str().unwrap()]);
    // The judge, not the guide, says the search found what was asked.
    assert!(stdout.contains("judge: ✓"), "{stdout}");
    assert!(
        settings.contains("generator=Layers samples=256 starts=4 rounds=10"),
        "{settings}"
    );
    let frames = image::codecs::gif::GifDecoder::new(std::io::Cursor::new(
        std::fs::read(&gif).unwrap(),
    ))
    .unwrap();
    assert!(image::AnimationDecoder::into_frames(frames).count() >= 2);
    assert_eq!(run("again.png", &[]).1, bytes, "same seed, same bytes");
    let (ok, _, stderr) = clip_art(&[
        "generate",
        "a red circle",
        "--generator",
        "layers",
        "--lr",
        "0.1",
        "--out",
        folder.path().join("lr.png").to_str().unwrap(),
    ]);
    assert!(!ok && stderr.contains("layers is searched"), "{stderr}");
}
