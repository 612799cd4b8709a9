//! One whole VQGAN+CLIP guidance step against a PyTorch re-implementation of
//! the VQGAN+CLIP notebook's loop (`scripts/golden/make_vqgan_clip_step.py`):
//! the tiny VQGAN and the tiny CLIP fixtures, the same cutout boxes, and the
//! loss, the gradient at `z` and `z` after Adam's step and the clamp compared.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use clip_art::clip::Clip;
use clip_art::clip::openai::preprocess::normalise;
use clip_art::clip::openai::vit::{ClipConfig, ClipModel, weights};
use clip_art::guide::cutouts::{CutoutBox, Cutouts, Resampling, lanczos_matrix};
use clip_art::guide::engine::Guide;
use clip_art::guide::generators::Generator;
use clip_art::guide::prompts::Prompt;
use clip_art::guide::vqgan::VqganGenerator;
use clip_art::models::vqgan::VqGan;
use clip_art::nn::compare::assert_close;

/// The CPU, or the GPU `scripts/device-check.sh` names (`CLIP_ART_TEST_DEVICE`).
fn device() -> Device {
    clip_art::nn::device::test_device()
}

const TOLERANCE: f32 = 1e-4;

fn golden() -> HashMap<String, Tensor> {
    let path = Path::new("tests/fixtures/vqgan/step/golden.safetensors");
    candle_core::safetensors::load(path, &device()).unwrap()
}

/// The tiny CLIP fixture as a guide. Its folder has no tokenizer, so a
/// prompt's text is the row of the golden `input_ids` it stands for.
struct TinyClip {
    model: ClipModel,
    texts: Tensor,
    device: Device,
    /// What its weights are held in; pictures and embeddings are f32.
    dtype: DType,
}

impl TinyClip {
    fn load(input_ids: &Tensor, dtype: DType) -> TinyClip {
        let folder = Path::new("tests/fixtures/clip/tiny");
        let cfg = ClipConfig::from_file(&folder.join("config.json")).unwrap();
        let vb =
            weights(&folder.join("model.safetensors"), dtype, &device()).unwrap();
        let model = ClipModel::new(vb, &cfg).unwrap();
        let texts = model
            .text_features(&input_ids.to_dtype(DType::U32).unwrap())
            .unwrap()
            .to_dtype(DType::F32)
            .unwrap();
        TinyClip {
            model,
            texts,
            device: device(),
            dtype,
        }
    }
}

impl Clip for TinyClip {
    fn device(&self) -> &Device {
        &self.device
    }
    fn image_size(&self) -> usize {
        32
    }
    fn image_embeddings(&self, pictures: &Tensor) -> anyhow::Result<Tensor> {
        let pixels = normalise(pictures)?.to_dtype(self.dtype)?;
        Ok(self
            .model
            .image_features(&pixels)?
            .to_dtype(pictures.dtype())?)
    }
    fn text_embeddings(&self, texts: &[&str]) -> anyhow::Result<Tensor> {
        let rows: Vec<u32> = texts.iter().map(|t| t.parse().unwrap()).collect();
        let rows = Tensor::new(rows, &self.device)?;
        Ok(self.texts.index_select(&rows, 0)?)
    }
    fn logit_scale(&self) -> anyhow::Result<f32> {
        Ok(1.0)
    }
}

#[test]
fn the_classic_resampling_matches_the_notebooks() -> anyhow::Result<()> {
    let golden = golden();
    for (h, w, s) in [
        (64, 64, 32),
        (48, 40, 32),
        (37, 37, 32),
        (20, 20, 32),
        (33, 33, 7),
    ] {
        let name = format!("resample_{h}_{w}_to_{s}");
        let input = &golden[&format!("{name}_input")];
        let rows =
            Tensor::from_vec(lanczos_matrix(h, 0, h, s, false), (s, h), &device())?;
        let columns =
            Tensor::from_vec(lanczos_matrix(w, 0, w, s, false), (s, w), &device())?;
        let ours = rows
            .broadcast_matmul(&input.get(0)?)?
            .broadcast_matmul(&columns.t()?)?
            .unsqueeze(0)?;
        assert_close(&name, &ours, &golden[&name], 1e-5);
    }
    Ok(())
}

/// The golden step's cutout boxes.
fn boxes(golden: &HashMap<String, Tensor>) -> anyhow::Result<Vec<CutoutBox>> {
    Ok(golden["boxes"]
        .to_dtype(DType::U32)?
        .to_vec2::<u32>()?
        .into_iter()
        .map(|b| CutoutBox {
            y: b[0] as usize,
            x: b[1] as usize,
            side: b[2] as usize,
            flip: false,
        })
        .collect())
}

#[test]
fn pooled_cutouts_and_their_gradient_match_pytorchs_adaptive_pooling()
-> anyhow::Result<()> {
    // nerdyrodent's 'latest' cutouts: (adaptive average + adaptive max) / 2,
    // here of a 30-pixel crop pooled to 7, whose bins overlap.
    let golden = golden();
    let input = candle_core::Var::from_tensor(&golden["pool_input"])?;
    let [y, x, side] =
        golden["pool_box"].to_dtype(DType::U32)?.to_vec1::<u32>()?[..]
    else {
        panic!("pool_box holds y, x and side");
    };
    let cutout = CutoutBox {
        y: y as usize,
        x: x as usize,
        side: side as usize,
        flip: false,
    };
    let cutouts = Cutouts {
        resampling: Resampling::Pooled,
        ..Cutouts::plain(1, 7)
    };
    let pooled = cutouts.cut_boxes(
        input.as_tensor(),
        &[cutout],
        &mut ChaCha8Rng::seed_from_u64(0),
    )?;
    assert_close("pooled", &pooled, &golden["pooled"], 1e-6);
    let grads = (pooled * &golden["pool_weights"])?.sum_all()?.backward()?;
    let grad = grads
        .get(input.as_tensor())
        .expect("a gradient at the picture");
    assert_close(
        "d pooled / d picture",
        grad,
        &golden["grad_pool_input"],
        1e-6,
    );
    Ok(())
}

#[test]
fn one_guidance_step_matches_the_notebooks_loop() -> anyhow::Result<()> {
    let golden = golden();
    let folder = Path::new("tests/fixtures/vqgan/tiny");
    let vqgan = VqGan::from_folder(folder, &device())?;
    let clip = TinyClip::load(&golden["input_ids"], DType::F32);
    let stop = golden["stop"].to_vec1::<f32>()?[0];
    let prompts = Prompt::parse_all(&format!("0:1|1:-0.5:{stop:?}"))?;
    let guide = Guide::new(&clip, &prompts)?;

    let generator = VqganGenerator::from_latents(&vqgan, &golden["z"])?;
    let z = generator.variables()[0].clone();
    let picture = generator.render()?;
    assert_close("picture", &picture, &golden["picture"], TOLERANCE);

    let boxes = boxes(&golden)?;
    let cutouts = Cutouts::classic(boxes.len(), clip.image_size());
    let views =
        cutouts.cut_boxes(&picture, &boxes, &mut ChaCha8Rng::seed_from_u64(0))?;
    assert_close("cutouts", &views, &golden["cutouts"], TOLERANCE);

    let loss = guide.loss_of_views(&picture, &views)?;
    assert_close("loss", &loss.reshape(1)?, &golden["loss"], TOLERANCE);
    let grads = loss.backward()?;
    // Gradients are small: each is compared relative to its largest value.
    // The picture's gradient alone first (CLIP and the cutouts), then z's
    // (the decoder and the quantiser too).
    let relative = |name: &str, ours: &Tensor| -> anyhow::Result<()> {
        let theirs = &golden[name];
        let scale = f64::from(theirs.abs()?.max_all()?.to_scalar::<f32>()?);
        assert!(
            scale > 1e-6,
            "{name}: the golden gradient vanishes ({scale})"
        );
        assert_close(
            &format!("{name} / max |{name}|"),
            &(ours / scale)?,
            &(theirs / scale)?,
            TOLERANCE,
        );
        Ok(())
    };
    let picture_alone = candle_core::Var::from_tensor(&picture.detach())?;
    let views_of_it = cutouts.cut_boxes(
        picture_alone.as_tensor(),
        &boxes,
        &mut ChaCha8Rng::seed_from_u64(0),
    )?;
    let picture_grads = guide
        .loss_of_views(picture_alone.as_tensor(), &views_of_it)?
        .backward()?;
    relative(
        "grad_picture",
        picture_grads
            .get(picture_alone.as_tensor())
            .expect("a gradient at the picture"),
    )?;
    relative("grad_z", grads.get(z.as_tensor()).expect("a gradient at z"))?;

    // Adam's first step moves each number by lr · g / (|g| + 1e-8): where g is
    // near 0, a rounding difference of 1e-11 in g moves z by 1e-4. So Adam and
    // the clamp take the notebook's own gradient here; ours is compared above.
    let mut grads = grads;
    grads.insert(z.as_tensor(), golden["grad_z"].clone());
    let mut adam = clip_art::nn::train::adam(vec![z.clone()], 0.1)?;
    candle_nn::Optimizer::step(&mut adam, &grads)?;
    generator.after_step()?;
    assert_close("z after the step", z.as_tensor(), &golden["z_next"], 1e-6);
    Ok(())
}

#[test]
fn with_weights_in_f16_the_step_follows_the_notebooks_direction()
-> anyhow::Result<()> {
    // On a GPU the weights may be held in f16 (or bf16, which candle's CPU
    // matrix product lacks) to halve the memory; z, the picture, the loss
    // and Adam stay in f32. f16 sums are coarse, so the gradient is compared
    // by its direction, which is what the optimiser follows.
    let golden = golden();
    let stop = golden["stop"].to_vec1::<f32>()?[0];
    let prompts = Prompt::parse_all(&format!("0:1|1:-0.5:{stop:?}"))?;
    let boxes = boxes(&golden)?;
    let folder = Path::new("tests/fixtures/vqgan/tiny");
    let vqgan = VqGan::from_folder_in(folder, DType::F16, &device())?;
    let clip = TinyClip::load(&golden["input_ids"], DType::F16);
    let guide = Guide::new(&clip, &prompts)?;
    let generator = VqganGenerator::from_latents(&vqgan, &golden["z"])?;
    let z = generator.variables()[0].clone();
    let picture = generator.render()?;
    assert_eq!((z.dtype(), picture.dtype()), (DType::F32, DType::F32));
    assert_close("picture (f16)", &picture, &golden["picture"], 1e-2);
    let cutouts = Cutouts::classic(boxes.len(), clip.image_size());
    let views =
        cutouts.cut_boxes(&picture, &boxes, &mut ChaCha8Rng::seed_from_u64(0))?;
    let loss = guide.loss_of_views(&picture, &views)?;
    assert_close("loss (f16)", &loss.reshape(1)?, &golden["loss"], 1e-3);
    let grads = loss.backward()?;
    let ours = grads.get(z.as_tensor()).expect("a gradient at z");
    let theirs = &golden["grad_z"];
    let norm = |t: &Tensor| -> anyhow::Result<f32> {
        Ok(t.sqr()?.sum_all()?.sqrt()?.to_scalar()?)
    };
    let cosine = (ours * theirs)?.sum_all()?.to_scalar::<f32>()?
        / (norm(ours)? * norm(theirs)?);
    eprintln!("grad_z (f16): cosine similarity {cosine:.4}");
    assert!(
        cosine > 0.95,
        "the f16 gradient at z points elsewhere: cosine {cosine}"
    );
    Ok(())
}
