//! Big Sleep's loop on the tiny random BigGAN of `tests/fixtures/biggan`,
//! guided by the shipped mini-CLIP: it raises the guide's similarity to the
//! prompt, keeps the latents' statistics, and repeats itself byte for byte.

use std::ops::ControlFlow;
use std::path::Path;

use candle_core::{Device, Tensor};

use clip_art::clip::mini::MiniClip;
use clip_art::guide::biggan::{BigSleep, BigSleepConfig, dream};
use clip_art::guide::engine::Guide;
use clip_art::guide::generators::Generator;
use clip_art::guide::prompts::Prompt;
use clip_art::models::biggan::BigGan;

fn tiny() -> BigGan {
    BigGan::from_folder(Path::new("tests/fixtures/biggan/tiny"), &Device::Cpu)
        .unwrap()
}

/// The guide's mean cosine similarity between the prompt and the picture,
/// seen whole.
fn similarity(guide: &Guide, picture: &Tensor, size: usize) -> f32 {
    let view = clip_art::guide::cutouts::resize(picture, size).unwrap();
    let loss = guide.cosine_loss_of_views(&view, 1.0).unwrap();
    -loss.to_scalar::<f32>().unwrap()
}

#[test]
fn big_sleep_raises_the_guides_similarity_and_repeats_itself() {
    let model = tiny();
    let clip = MiniClip::shipped(&Device::Cpu).unwrap();
    let guide =
        Guide::new(&clip, &Prompt::parse_all("a red circle").unwrap()).unwrap();
    let mut cfg = BigSleepConfig::new(32);
    cfg.steps = 40;
    cfg.cutouts.count = 8;
    let run = || {
        let mut sleep = BigSleep::new(&model, &cfg).unwrap();
        let before = sleep.averaged_picture().unwrap();
        let mut heard = 0;
        let losses = dream(&mut sleep, &guide, &cfg, |_, _, _| {
            heard += 1;
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!((losses.len(), heard), (40, 40));
        let latent = sleep.latent_losses().unwrap().to_scalar::<f32>().unwrap();
        (
            before,
            sleep.averaged_picture().unwrap(),
            sleep.render().unwrap(),
            latent,
        )
    };
    let (before, after, last, latent) = run();
    let (start, end) = (
        similarity(&guide, &before, 32),
        similarity(&guide, &after, 32),
    );
    eprintln!("similarity {start:.3} → {end:.3}; latent losses {latent:.2}");
    assert!(end > start + 0.05, "similarity {start} → {end}");
    // N(0, 1) pays about 4 (4 · max(mean square, 1)); drifting far would cost more.
    assert!(latent < 6.0, "latent losses {latent}");
    // The average lags the last step: they differ.
    assert!(clip_art::nn::compare::max_difference(&after, &last).unwrap() > 0.0);
    let again = run().1;
    let bytes = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert_eq!(bytes(&again), bytes(&after), "same seed, same picture");
}

#[test]
fn a_top_k_of_the_classes_runs_and_more_classes_than_there_are_is_refused() {
    let model = tiny();
    let mut cfg = BigSleepConfig::new(32);
    cfg.max_classes = Some(2);
    let sleep = BigSleep::new(&model, &cfg).unwrap();
    assert_eq!(sleep.render().unwrap().dims(), [1, 3, 64, 64]);
    cfg.max_classes = Some(11);
    let error = BigSleep::new(&model, &cfg).err().unwrap().to_string();
    assert!(error.contains("1 to 10, got 11"), "{error}");
}
