//! The shipped mini-CLIP, measured on freshly drawn scenes (their ground truth is
//! the oracle), and its weight file's failure modes.

use candle_core::Device;
use clip_art::clip::mini::{Config, MiniClip, shipped_ensemble};
use clip_art::eval::clip::evaluate;

#[test]
fn the_shipped_mini_clip_classifies_fresh_scenes_zero_shot() -> anyhow::Result<()> {
    let clip = MiniClip::shipped(&Device::Cpu)?;
    let measured = evaluate(&clip, 300, 2)?;
    assert!(measured.zero_shot_top1 >= 0.95, "{}", measured.table());
    // Held-out colour–shape pairs are harder (82% in chapter 5; the course's target is 80%).
    assert!(measured.held_out_top1 >= 0.65, "{}", measured.table());
    assert!(
        measured.image_to_text_recall[1] >= 0.95,
        "{}",
        measured.table()
    );
    assert!(
        measured.text_to_image_recall[1] >= 0.95,
        "{}",
        measured.table()
    );
    // 71% of 200 in chapter 5 (seed 1); the linear-head mini-CLIP got 46%.
    assert!(measured.two_object_search.0 >= 0.6, "{}", measured.table());
    Ok(())
}

#[test]
fn the_three_shipped_mini_clips_together_find_two_object_scenes_more_often()
-> anyhow::Result<()> {
    let measured = evaluate(&shipped_ensemble(&Device::Cpu)?, 300, 2)?;
    // Chapter 5 (seed 1): 75% together, 67.5–72% for each alone.
    assert!(measured.two_object_search.0 >= 0.75, "{}", measured.table());
    assert!(measured.zero_shot_top1 >= 0.95, "{}", measured.table());
    Ok(())
}

#[test]
fn bad_weight_files_are_named() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let cfg = Config::default();
    let missing = dir.path().join("missing.safetensors");
    let error = MiniClip::load(&missing, &cfg, &Device::Cpu)
        .err()
        .expect("missing");
    assert!(
        format!("{error:#}").contains("missing.safetensors"),
        "{error:#}"
    );

    let truncated = dir.path().join("truncated.safetensors");
    let shipped = std::fs::read("weights/mini-clip.safetensors")?;
    std::fs::write(&truncated, &shipped[..shipped.len() / 2])?;
    let error = MiniClip::load(&truncated, &cfg, &Device::Cpu)
        .err()
        .expect("truncated");
    assert!(
        format!("{error:#}").contains("truncated.safetensors"),
        "{error:#}"
    );

    let smaller = Config {
        embedding: 32,
        ..Config::default()
    };
    let error = MiniClip::load(
        "weights/mini-clip.safetensors".as_ref(),
        &smaller,
        &Device::Cpu,
    )
    .err()
    .expect("wrong shape");
    let message = format!("{error:#}");
    assert!(
        message.contains("image_projection.weight") && message.contains("32"),
        "{message}"
    );
    Ok(())
}
