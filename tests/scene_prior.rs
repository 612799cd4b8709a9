//! Chapter 6's claim about the shipped scene prior, measured by the judge:
//! most of its N(0, 1) samples are scenes, and a seed fixes them.

use candle_core::Device;
use clip_art::eval::generation::is_valid_scene;
use clip_art::guide::prior::ScenePrior;
use clip_art::nn::batch::batch_to_images;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Samples drawn here, with a seed the training record does not use.
const SAMPLES: usize = 200;

/// The share the judge must accept: a little under what `train-prior`
/// measured on other samples (the book's table), so that a worse prior fails.
const AT_LEAST: f32 = 0.8;

#[test]
fn most_samples_of_the_shipped_prior_are_scenes_and_a_seed_fixes_them()
-> anyhow::Result<()> {
    let device = Device::Cpu;
    let prior = ScenePrior::shipped(&device)?;
    let samples = |seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        batch_to_images(&prior.sample(SAMPLES, &mut rng, &device)?)
    };
    let drawn = samples(21)?;
    let valid = drawn.iter().filter(|s| is_valid_scene(s)).count();
    let share = valid as f32 / SAMPLES as f32;
    assert!(share >= AT_LEAST, "{valid} of {SAMPLES} samples are scenes");
    assert!(drawn == samples(21)?, "the same seed gave other samples");
    Ok(())
}
