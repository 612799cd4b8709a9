//! Exercise (chapter 5): zero-shot classification with a CLIP.
//!
//! No classifier is trained: every label becomes a sentence, and the labels are
//! ranked by how well their sentences fit the picture.
//!
//! 1. fill the template with each label: "a picture of a {}" and "red circle" give
//!    "a picture of a red circle" (`clip_art::clip::zero_shot::fill_template`, which also
//!    writes "an orange circle" rather than "a orange circle");
//! 2. embed the sentences (`clip.text_embeddings`, `[labels, d]`) and the picture
//!    (`clip.image_embeddings`, `[1, d]`); the picture is a batch of one, `[1, 3, s, s]`;
//! 3. scale every embedding to length 1, so that dot products are cosine similarities;
//! 4. logits = cosine similarities × `clip.logit_scale()` (CLIP's learned e^t);
//! 5. softmax over the labels gives their probabilities;
//! 6. return (label, probability) pairs, most probable first.
//!
//! The CLIP may refuse a sentence (mini-CLIP only knows the words of its scenes):
//! return its error with `?`, do not unwrap it.
//!
//! Check your work: `cargo run -p clip-art-exercises` (the tests are in tests/zero_shot_ranking.rs).

use candle_core::Tensor;
use clip_art::clip::Clip;

pub fn rank_labels(
    clip: &dyn Clip,
    picture: &Tensor,
    labels: &[&str],
    template: &str,
) -> anyhow::Result<Vec<(String, f32)>> {
    // TODO: one sentence per label, embed both sides, normalise, cosine similarities
    // × logit scale, softmax over the labels, sort most probable first.
    todo!(
        "rank {} labels with {template:?} for a picture {:?} on a CLIP seeing {}×{} pictures",
        labels.len(),
        picture.dims(),
        clip.image_size(),
        clip.image_size()
    )
}
