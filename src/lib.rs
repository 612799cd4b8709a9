//! # clip-art — how CLIP generates art, in Rust
//!
//! The crate behind the course: one module per idea of the lecture, in lecture
//! order. The book (`book/`) includes these sources, the notebooks (`notebooks/`)
//! call them, and the exercises (`exercises/`) test your own versions against them.
//!
//! | lecture part | module |
//! |---|---|
//! | 1. Representing data: images and text | [`basics::pixels`], [`basics::one_hot`] |
//! | 2. Softmax and cross-entropy | [`basics::softmax`] |
//! | 2. "224×224×3 pixels → 4 categories" | [`world::shapes`], [`models::classifier`] |
//! | 3. Encoders, decoders, autoencoders | [`models::autoencoder`] |
//! | 3. Generators: the VAE | [`models::vae`] |
//! | 4. Latent arithmetic | [`models::latent`] |
//! | 5. CLIP: contrastive loss, mini-CLIP, zero-shot | [`clip`] |
//! | 5. The real CLIP: ViT-B/32, tokenizer, preprocessing | [`clip::openai`] |
//! | 6–7. CLIP-guided generation, editing, prompts | [`guide`] |
//! | The real generator of VQGAN+CLIP: the taming VQGAN | [`models::vqgan`] |
//!
//! Around the lessons: [`world`] draws the procedural worlds with ground truth
//! and holds their independent [`world::judge`]; [`nn`] is the toolbox every
//! model shares; [`eval`] measures everything the book claims; [`viz`] makes
//! pictures and plots; [`files`] writes every output safely; [`published`] knows
//! where the real models' weights are and fetches them; [`prelude`] is what a
//! notebook cell needs.

pub mod basics;
pub mod clip;
pub mod eval;
pub mod files;
pub mod guide;
pub mod models;
pub mod nn;
pub mod prelude;
pub mod published;
pub mod viz;
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
        VqganClip => "ch08-vqgan-clip.md",
        LabNotebook => "lab-notebook.md",
        Reliability => "reliability.md",
    }
}
