//! Fuzzing everything that parses outside input: prompts, the CLIP tokenizer,
//! file names made from prompts, image files, weight files and CLIP configs.
//! No input may panic or abort; each is read or refused with an error.
//!
//! `cargo test --test fuzz` runs each target on its corpus
//! (`tests/__fuzz__/…/corpus`) and on `FUZZ_CASES` random inputs (stable
//! toolchain; CI). The long run uses libFuzzer on nightly:
//! `cargo +nightly bolero test --test fuzz TARGET -T 10min` (after
//! `cargo install cargo-bolero`); new inputs it finds go to the corpus.

use std::collections::HashMap;
use std::path::Path;
use std::sync::LazyLock;

use bolero::{TypeGenerator, check};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;

use clip_art::basics::pixels::{MAX_SIDE, rgb_from_bytes};
use clip_art::clip::openai::tokenizer::Tokenizer;
use clip_art::clip::openai::vit::{ClipConfig, ClipModel};
use clip_art::files::name_from_text;
use clip_art::guide::prompts::{MAX_WEIGHT, Prompt};
use clip_art::nn::weights::checked_tensors;

/// Random inputs per target on top of its corpus, in CI.
const FUZZ_CASES: usize = 20_000;

fn repo(relative: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

static TOKENIZER: LazyLock<Tokenizer> = LazyLock::new(|| {
    Tokenizer::from_file(&repo("weights/clip/bpe_simple_vocab_16e6.txt.gz")).unwrap()
});

#[test]
fn prompts_parse_or_say_why() {
    check!()
        .with_type::<String>()
        .with_iterations(FUZZ_CASES)
        .for_each(|source| {
            let Ok(prompts) = Prompt::parse_all(source) else {
                return;
            };
            for prompt in prompts {
                assert!(!prompt.text.is_empty() && !prompt.text.contains('|'));
                assert!(prompt.weight != 0.0);
                assert!(f64::from(prompt.weight.abs()) <= MAX_WEIGHT);
                assert!(!prompt.stop.is_nan());
                if !prompt.text.contains(':') {
                    let again = Prompt::parse(&prompt.to_string(), 1).unwrap();
                    assert_eq!(again, prompt);
                }
            }
        });
}

#[test]
fn the_tokenizer_reads_any_text_and_its_decoding_encodes_the_same() {
    check!()
        .with_type::<String>()
        .with_iterations(FUZZ_CASES)
        .with_max_len(400)
        .for_each(|text| {
            let ids = TOKENIZER.encode(text);
            let again = TOKENIZER.encode(&TOKENIZER.decode(&ids));
            assert_eq!(again, ids, "{text:?}");
            let row = TOKENIZER.tokenize(text, true).unwrap();
            assert_eq!(row.len(), Tokenizer::CONTEXT);
            if ids.len() + 2 > Tokenizer::CONTEXT {
                assert!(TOKENIZER.tokenize(text, false).is_err());
            }
        });
}

#[test]
fn file_names_from_prompts_are_short_plain_and_never_empty() {
    check!()
        .with_type::<String>()
        .with_iterations(FUZZ_CASES)
        .for_each(|prompt| {
            let name = name_from_text(prompt, "generated");
            assert!(!name.is_empty() && name.chars().count() <= 80, "{name:?}");
            assert!(
                name.chars().all(|c| c.is_alphanumeric() || c == '-'),
                "{name:?}"
            );
            assert!(!name.starts_with('-') && !name.ends_with('-'), "{name:?}");
        });
}

/// Damage done to a valid file: bytes overwritten, or the file cut short.
#[derive(Debug, TypeGenerator)]
enum Damage {
    Byte { at: u32, value: u8 },
    Cut { at: u32 },
}

fn damaged(seed: &[u8], damage: &[Damage]) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    for d in damage {
        match *d {
            Damage::Byte { at, value } if !bytes.is_empty() => {
                let at = at as usize % bytes.len();
                bytes[at] = value;
            }
            Damage::Cut { at } => bytes.truncate(at as usize % (seed.len() + 1)),
            Damage::Byte { .. } => {}
        }
    }
    bytes
}

/// A small picture in each format the course reads.
static PICTURES: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| {
    let image = image::RgbImage::from_fn(12, 9, |x, y| {
        image::Rgb([x as u8 * 20, y as u8 * 25, 200])
    });
    [
        image::ImageFormat::Png,
        image::ImageFormat::Gif,
        image::ImageFormat::Jpeg,
        image::ImageFormat::Bmp,
        image::ImageFormat::WebP,
        image::ImageFormat::Tiff,
        image::ImageFormat::Pnm,
        image::ImageFormat::Qoi,
    ]
    .iter()
    .map(|&format| {
        let mut bytes = std::io::Cursor::new(Vec::new());
        image.write_to(&mut bytes, format).unwrap();
        bytes.into_inner()
    })
    .collect()
});

#[test]
fn damaged_pictures_decode_or_say_why() {
    check!()
        .with_type::<(u8, Vec<Damage>)>()
        .with_iterations(FUZZ_CASES)
        .for_each(|(format, damage)| {
            let seed = &PICTURES[*format as usize % PICTURES.len()];
            if let Ok(image) = rgb_from_bytes(&damaged(seed, damage)) {
                assert!(image.width() <= MAX_SIDE && image.height() <= MAX_SIDE);
            }
        });
}

#[test]
fn a_picture_that_claims_to_be_huge_is_refused_before_decoding() {
    let mut png = PICTURES[0].clone();
    // IHDR's width and height: 100,000 × 100,000, with its checksum.
    png[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    png[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    let mut crc = flate2::Crc::new();
    crc.update(&png[12..29]);
    png[29..33].copy_from_slice(&crc.sum().to_be_bytes());
    let error = format!("{:#}", rgb_from_bytes(&png).unwrap_err());
    assert!(error.contains("limit"), "{error}");
}

/// A change to one tensor's entry in a safetensors header.
#[derive(Debug, TypeGenerator)]
enum HeaderChange {
    Shape { tensor: u8, dims: Vec<u32> },
    Dtype { tensor: u8, dtype: u8 },
    Offsets { tensor: u8, start: u32, end: u32 },
    Remove { tensor: u8 },
}

const DTYPES: [&str; 8] =
    ["F32", "F16", "BF16", "F64", "I64", "U8", "BOOL", "F8_E4M3"];

/// The tiny CLIP fixture's weights with its header changed, re-serialised.
fn changed_weights(seed: &[u8], changes: &[HeaderChange]) -> Vec<u8> {
    let header_len = u64::from_le_bytes(seed[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&seed[8..8 + header_len]).unwrap();
    let mut names: Vec<String> = header
        .keys()
        .filter(|k| *k != "__metadata__")
        .cloned()
        .collect();
    names.sort();
    for change in changes {
        let pick = |i: u8| names[i as usize % names.len()].clone();
        let (name, field, value) = match change {
            HeaderChange::Shape { tensor, dims } => {
                let dims: Vec<u32> = dims.iter().take(6).copied().collect();
                (pick(*tensor), "shape", dims.into())
            }
            HeaderChange::Dtype { tensor, dtype } => {
                let dtype = DTYPES[*dtype as usize % DTYPES.len()];
                (pick(*tensor), "dtype", dtype.into())
            }
            HeaderChange::Offsets { tensor, start, end } => {
                (pick(*tensor), "data_offsets", vec![*start, *end].into())
            }
            HeaderChange::Remove { tensor } => {
                header.remove(&pick(*tensor));
                continue;
            }
        };
        if let Some(entry) = header.get_mut(&name) {
            entry[field] = value;
        }
    }
    let header = serde_json::to_vec(&header).unwrap();
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend(header);
    bytes.extend(&seed[8 + header_len..]);
    bytes
}

static TINY: LazyLock<(Vec<u8>, ClipConfig)> = LazyLock::new(|| {
    let folder = repo("tests/fixtures/clip/tiny");
    (
        std::fs::read(folder.join("model.safetensors")).unwrap(),
        ClipConfig::from_file(&folder.join("config.json")).unwrap(),
    )
});

/// Loads weights as `clip-art` does and, if they load, runs the model.
fn load_and_run(bytes: &[u8], cfg: &ClipConfig) {
    let Ok(tensors) = checked_tensors(bytes, "fuzzed", &Device::Cpu) else {
        return;
    };
    let vb = VarBuilder::from_tensors(tensors, DType::F32, &Device::Cpu);
    let Ok(model) = ClipModel::new(vb, cfg) else {
        return;
    };
    let side = cfg.vision_config.image_size;
    let picture =
        Tensor::zeros((1, 3, side, side), DType::F32, &Device::Cpu).unwrap();
    let _ = model.image_features(&picture);
    let ids = Tensor::new(&[[49406u32, 320, 49407]], &Device::Cpu).unwrap();
    let _ = model.text_features(&ids);
}

#[test]
fn damaged_weight_files_load_or_name_the_problem() {
    check!()
        .with_type::<(Vec<HeaderChange>, Vec<Damage>)>()
        .with_iterations(FUZZ_CASES)
        .for_each(|(changes, damage)| {
            let (seed, cfg) = &*TINY;
            load_and_run(&damaged(&changed_weights(seed, changes), damage), cfg);
        });
}

/// A CLIP config with every size drawn.
#[derive(Debug, TypeGenerator)]
struct Sizes {
    hidden: [u16; 2],
    intermediate: [u16; 2],
    layers: [u8; 2],
    heads: [u8; 2],
    eps: f64,
    vocab: u32,
    positions: u16,
    image: u16,
    patch: u16,
    projection: u16,
}

#[test]
fn clip_configs_are_checked_before_a_model_is_built() {
    check!()
        .with_type::<Sizes>()
        .with_iterations(FUZZ_CASES)
        .for_each(|s| {
            let tower = |i: usize| {
                serde_json::json!({
                    "hidden_size": s.hidden[i], "intermediate_size": s.intermediate[i],
                    "num_hidden_layers": s.layers[i], "num_attention_heads": s.heads[i],
                    "layer_norm_eps": if s.eps.is_finite() { s.eps } else { -1.0 },
                    "vocab_size": s.vocab, "max_position_embeddings": s.positions,
                    "image_size": s.image, "patch_size": s.patch,
                })
            };
            let json = serde_json::json!({
                "text_config": tower(0), "vision_config": tower(1),
                "projection_dim": s.projection,
            });
            let cfg: ClipConfig = serde_json::from_value(json).unwrap();
            if cfg.check().is_ok() {
                load_and_run(&TINY.0, &cfg);
            }
        });
}

#[test]
fn the_fixtures_themselves_load_and_run() {
    // The seeds of the damage above are valid: a fuzz target that only ever
    // sees errors would prove nothing.
    let (bytes, cfg) = &*TINY;
    let tensors: HashMap<String, Tensor> =
        checked_tensors(bytes, "tiny", &Device::Cpu).unwrap();
    let vb = VarBuilder::from_tensors(tensors, DType::F32, &Device::Cpu);
    assert!(ClipModel::new(vb, cfg).is_ok());
    for picture in PICTURES.iter() {
        assert_eq!(rgb_from_bytes(picture).unwrap().dimensions(), (12, 9));
    }
}
