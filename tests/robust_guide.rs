//! The robust guide's attack and training: PGD raises mini-CLIP's loss far more than
//! random noise of the same size (the oracle), stays in its ball, and a short adversarial
//! training run still learns.

use candle_core::{Device, Tensor};
use clip_art::clip::Clip;
use clip_art::clip::loss::contrastive_loss_with_matches;
use clip_art::clip::mini::{self, MiniClip, caption_matches};
use clip_art::clip::robust::{Pgd, perturb};
use clip_art::nn::batch::images_to_batch;
use clip_art::world::scenes::{SceneBatch, Split};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

#[test]
fn pgd_raises_the_loss_far_more_than_random_noise_of_its_size() -> anyhow::Result<()>
{
    let device = Device::Cpu;
    let clip = MiniClip::shipped(&device)?;
    let batch = SceneBatch::draw(32, 32, Split::Train, 11);
    let pictures = images_to_batch(&batch.images, &device)?;
    let captions: Vec<&str> = batch.captions.iter().map(String::as_str).collect();
    let texts = clip.text_embeddings(&captions)?.detach();
    let matches = caption_matches(&batch, &device)?;
    let scale = Tensor::new(clip.logit_scale()?.ln(), &device)?;
    let loss = |p: &Tensor| {
        let images = clip.image_embeddings(p)?;
        Ok(contrastive_loss_with_matches(
            &images, &texts, &scale, &matches,
        )?)
    };
    let value = |p: &Tensor| -> anyhow::Result<f32> { Ok(loss(p)?.to_scalar()?) };
    let pgd = Pgd::new(8.0 / 255.0, 3);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let attacked = perturb(&pictures, loss, &pgd, &mut rng)?;
    let distance = (&attacked - &pictures)?
        .abs()?
        .max_all()?
        .to_scalar::<f32>()?;
    assert!(
        distance <= pgd.radius + 1e-6,
        "PGD left its ball: {distance}"
    );
    let signs = Tensor::rand(0f32, 1.0, pictures.shape(), &device)?.ge(0.5)?;
    let noise = (signs.to_dtype(candle_core::DType::F32)?.affine(2.0, -1.0)?
        * f64::from(pgd.radius))?;
    let noisy = (&pictures + noise)?.clamp(0f32, 1f32)?;
    let (clean, noisy, attacked) =
        (value(&pictures)?, value(&noisy)?, value(&attacked)?);
    assert!(
        attacked - clean > 5.0 * (noisy - clean).abs().max(0.01),
        "clean {clean}, random ±8/255 {noisy}, PGD {attacked}"
    );
    Ok(())
}

#[test]
fn a_short_adversarial_run_still_learns() -> anyhow::Result<()> {
    let cfg = mini::Config {
        image_size: 16,
        channels: [4, 8, 8],
        features: 16,
        embedding: 8,
        ..mini::Config::default()
    };
    let train = mini::TrainConfig {
        steps: 60,
        batch_size: 32,
        learning_rate: 3e-3,
        two_objects: 0.3,
        seed: 3,
        adversarial: Some(Pgd::new(8.0 / 255.0, 1)),
        from: None,
    };
    let (_, _, reports) = mini::train(&cfg, &train, &Device::Cpu, |_, _| {})?;
    let first = reports[0].loss;
    let last: f32 = reports[50..].iter().map(|r| r.loss).sum::<f32>() / 10.0;
    assert!(last < 0.85 * first, "loss {first} → {last}");
    Ok(())
}

#[test]
fn a_radius_that_does_not_ship_is_an_error_naming_those_that_do() {
    let Err(error) = mini::shipped_robust(3, &Device::Cpu) else {
        panic!("a robust mini-CLIP of radius 3/255 loaded");
    };
    let error = error.to_string();
    assert!(
        error.contains("3/255") && error.contains("2 or 8"),
        "{error}"
    );
}
