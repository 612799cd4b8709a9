//! # clip-art — how CLIP generates art, in Rust
//!
//! The crate behind the course: one module per idea of the lecture, in lecture
//! order. The book (`book/`) includes these sources, the notebooks (`notebooks/`)
//! call them, and the exercises (`exercises/`) test your own versions against them.
//!
//! | lecture part | module |
//! |---|---|
//! | 1. Representing data: images | [`pixels`] |
//! | 1. Representing data: text | [`one_hot`] |
//! | 2. Softmax and cross-entropy | [`softmax`] |
//! | 2. "224×224×3 pixels → 4 categories" | [`shapes`], [`classifier`] |
//! | 3. Encoders, decoders, autoencoders | [`autoencoder`] |
//! | 3. Generators: the VAE | [`vae`] |
//! | 4. Latent arithmetic | [`latent`] |
//! | 5. CLIP: contrastive loss, mini-CLIP, zero-shot, ViT-B/32 | [`clip`] |
//! | 6. CLIP-guided generation: loop, generators (VQ decoder), cutouts, prompts | [`guidance`] |
//! | 3–4. Procedural worlds with ground truth, and their judge | [`world`] |
//! | pictures and plots for people | [`picture`], [`plot`] |

pub mod autoencoder;
pub mod classifier;
pub mod clip;
pub mod device;
pub mod faces_report;
pub mod guidance;
pub mod latent;
pub mod one_hot;
pub mod picture;
pub mod pixels;
pub mod plot;
pub mod shapes;
pub mod softmax;
pub mod vae;
pub mod world;

/// Every book chapter's Rust blocks run as doc-tests with the crate's real
/// dependencies (`cargo test --doc`). Listings included from `src/` with
/// `{{#include}}` are marked `rs` in the book: they are this crate's own, compiled
/// and unit-tested code.
#[cfg(doctest)]
pub mod book {
    macro_rules! chapters {
        ($($name:ident => $file:literal),* $(,)?) => {
            $(#[doc = include_str!(concat!("../book/src/", $file))] pub struct $name;)*
        };
    }
    chapters! {
        Introduction => "introduction.md",
        RepresentingData => "ch01-representing-data.md",
        SoftmaxCrossEntropy => "ch02-softmax-cross-entropy.md",
        AutoencodersGenerators => "ch03-autoencoders-generators.md",
        LatentArithmetic => "ch04-latent-arithmetic.md",
        Clip => "ch05-clip.md",
        GuidedGeneration => "ch06-guided-generation.md",
        EditingPromptsTricks => "ch07-editing-prompts-tricks.md",
    }
}
