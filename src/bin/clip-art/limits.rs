//! Bounds on every size, count and scale a command takes. Each is stated in
//! `--help`; a number outside is refused before any work, with the bound and,
//! where memory grows with it, what the request would need.

/// For a flag whose memory grows with it: the bytes a value needs, and what
/// they hold.
type Need = (fn(u64) -> u64, &'static str);

/// A whole number from `min` to `max`.
fn within(
    text: &str,
    (min, max): (u64, u64),
    bytes: Option<Need>,
) -> Result<u64, String> {
    let value: u64 = text.trim().parse().map_err(|_| {
        format!("{text:?} is not a whole number from {min} to {max}")
    })?;
    if (min..=max).contains(&value) {
        return Ok(value);
    }
    let need = match bytes {
        Some((bytes, what)) => format!(
            " ({value} would need {} for {what})",
            in_words(bytes(value))
        ),
        None => String::new(),
    };
    Err(format!("must be from {min} to {max}{need}"))
}

/// Bytes as a person reads them.
fn in_words(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GB", b as f64 / (1u64 << 30) as f64),
        b => format!("{:.1} MB", b as f64 / (1u64 << 20) as f64),
    }
}

/// `--scale`: 1–16 (a 1024×1024 PNG from the 64² picture).
pub fn scale(text: &str) -> Result<u32, String> {
    let enlarged = |s: u64| (64 * s).saturating_pow(2).saturating_mul(3);
    within(
        text,
        (1, 16),
        Some((enlarged, "the enlarged picture alone")),
    )
    .map(|s| s as u32)
}

/// `--size`: 8–512 pixels.
pub fn size(text: &str) -> Result<usize, String> {
    // The picture, its gradient and Adam's two moments, in f32.
    let tensors = |s: u64| s.saturating_pow(2).saturating_mul(3 * 4 * 4);
    within(
        text,
        (8, 512),
        Some((tensors, "the picture and its optimiser")),
    )
    .map(|s| s as usize)
}

/// `--steps` of guidance: 1–10,000.
pub fn guidance_steps(text: &str) -> Result<usize, String> {
    within(text, (1, 10_000), None).map(|s| s as usize)
}

/// `--restarts`: 1–64.
pub fn restarts(text: &str) -> Result<usize, String> {
    within(text, (1, 64), None).map(|s| s as usize)
}

/// `--cutouts`: 0–128 views per step (Big Sleep takes 128).
pub fn cutouts(text: &str) -> Result<usize, String> {
    within(text, (0, 128), None).map(|s| s as usize)
}

/// `--steps` of training: 1–1,000,000.
pub fn training_steps(text: &str) -> Result<usize, String> {
    within(text, (1, 1_000_000), None).map(|s| s as usize)
}

/// `--batch-size` of training: 1–1,024 (each command also has its minimum).
pub fn batch_size(text: &str) -> Result<usize, String> {
    within(text, (1, 1_024), None).map(|s| s as usize)
}

/// `--count` of a report (prompts, edits, scenes or faces): 1–10,000.
pub fn count(text: &str) -> Result<usize, String> {
    within(text, (1, 10_000), None).map(|s| s as usize)
}

/// `--ablation-count`: 0–1,000 (0 skips the ablation).
pub fn ablation_count(text: &str) -> Result<usize, String> {
    within(text, (0, 1_000), None).map(|s| s as usize)
}

/// `--top` prompts listed: 1–1,000.
pub fn top(text: &str) -> Result<usize, String> {
    within(text, (1, 1_000), None).map(|s| s as usize)
}

/// `--image-size` of train-shapes: 8–256 pixels.
pub fn image_size(text: &str) -> Result<u32, String> {
    within(text, (8, 256), None).map(|s| s as u32)
}

/// `--test-images` of train-shapes: 1–100,000.
pub fn test_images(text: &str) -> Result<usize, String> {
    within(text, (1, 100_000), None).map(|n| n as usize)
}

/// `--noise-prompt`: `SEED` or `SEED:weight`, the weight non-zero and
/// within ±100 like a text prompt's.
pub fn noise_prompt(text: &str) -> Result<(u64, f32), String> {
    let (seed, weight) = text.split_once(':').unwrap_or((text, "1"));
    let seed = seed.trim().parse().map_err(|_| {
        format!(
            "expected SEED or SEED:weight with a whole-number seed, got {text:?}"
        )
    })?;
    let max = clip_art::guide::prompts::MAX_WEIGHT;
    match weight.trim().parse::<f64>() {
        Ok(w) if w != 0.0 && w.abs() <= max => Ok((seed, w as f32)),
        _ => Err(format!(
            "the weight must be a non-zero number from -{max} to {max}, got {weight:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_number_out_of_bounds_names_the_bounds_and_the_memory() {
        assert_eq!(super::scale("4"), Ok(4));
        assert_eq!(
            super::scale("1000"),
            Err(
                "must be from 1 to 16 (1000 would need 11.4 GB for the enlarged \
                 picture alone)"
                    .into()
            )
        );
        let wrapped = super::scale("67108865").unwrap_err();
        assert!(wrapped.starts_with("must be from 1 to 16"), "{wrapped}");
        assert!(super::cutouts("0").is_ok() && super::restarts("0").is_err());
        assert_eq!(super::noise_prompt("7"), Ok((7, 1.0)));
        assert_eq!(super::noise_prompt("7:-0.5"), Ok((7, -0.5)));
        for bad in ["x", "7:0", "7:1e3", "-1", "7:w"] {
            assert!(super::noise_prompt(bad).is_err(), "{bad}");
        }
        assert_eq!(
            super::count("-3"),
            Err("\"-3\" is not a whole number from 1 to 10000".into())
        );
    }
}
