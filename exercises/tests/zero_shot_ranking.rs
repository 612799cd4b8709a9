//! Checks for the `zero_shot_ranking` exercise: against the crate's zero-shot
//! ranking and, above all, against the scenes' ground truth.

#[cfg_attr(not(feature = "solutions"), path = "../exercises/zero_shot_ranking.rs")]
#[cfg_attr(feature = "solutions", path = "../solutions/zero_shot_ranking.rs")]
mod exercise;

use std::collections::HashMap;

use candle_core::{Device, Tensor};
use clip_art::clip::Clip;
use clip_art::clip::mini::MiniClip;
use clip_art::clip::zero_shot::{MINI_TEMPLATES, Ranking, colour_shape_labels};
use clip_art::nn::batch::images_to_batch;
use clip_art::world::scenes::{SceneBatch, Split};
use exercise::rank_labels;

const TEMPLATE: &str = "a picture of a {}";

fn mini_clip() -> MiniClip {
    MiniClip::shipped(&Device::Cpu)
        .expect("the course's trained mini-CLIP should load")
}

/// `count` training-split scenes drawn from `seed`, each as a `[1, 3, s, s]` picture.
fn pictures(clip: &dyn Clip, count: usize, seed: u64) -> (SceneBatch, Vec<Tensor>) {
    let batch =
        SceneBatch::draw(count, clip.image_size() as u32, Split::Train, seed);
    let pictures = batch
        .images
        .iter()
        .map(|image| {
            images_to_batch(std::slice::from_ref(image), clip.device()).unwrap()
        })
        .collect();
    (batch, pictures)
}

fn all_labels() -> Vec<String> {
    colour_shape_labels()
}

/// The ranking is a probability distribution over exactly the given labels, sorted.
fn assert_well_formed(ranked: &[(String, f32)], labels: &[&str]) {
    assert_eq!(
        ranked.len(),
        labels.len(),
        "return one (label, probability) pair per label"
    );
    let mut returned: Vec<&str> = ranked.iter().map(|(l, _)| l.as_str()).collect();
    let mut given = labels.to_vec();
    returned.sort();
    given.sort();
    assert_eq!(
        returned, given,
        "return the labels themselves (\"red circle\"), each once, not the filled-in sentences"
    );
    let total: f32 = ranked.iter().map(|(_, p)| p).sum();
    assert!(
        (total - 1.0).abs() < 1e-4,
        "the probabilities sum to {total}, not 1: softmax over the labels (one picture, all labels)"
    );
    assert!(
        ranked.iter().all(|(_, p)| (0.0..=1.0).contains(p)),
        "every probability must lie in [0, 1]: {ranked:?}"
    );
    for pair in ranked.windows(2) {
        assert!(
            pair[0].1 >= pair[1].1,
            "not sorted most probable first: {:?} ({}) comes before {:?} ({})",
            pair[0].0,
            pair[0].1,
            pair[1].0,
            pair[1].1
        );
    }
}

#[test]
fn a_sorted_probability_distribution_over_the_labels() {
    let clip = mini_clip();
    let (_, pictures) = pictures(&clip, 3, 11);
    let labels = all_labels();
    let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
    for picture in &pictures {
        let ranked = rank_labels(&clip, picture, &labels, TEMPLATE).unwrap();
        assert_well_formed(&ranked, &labels);
    }
}

#[test]
fn equals_the_crates_zero_shot_ranking() {
    let clip = mini_clip();
    let (batch, pictures) = pictures(&clip, 4, 12);
    let labels = all_labels();
    let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
    for template in MINI_TEMPLATES {
        for (caption, picture) in batch.captions.iter().zip(&pictures) {
            let yours = rank_labels(&clip, picture, &labels, template).unwrap();
            assert_well_formed(&yours, &labels);
            let theirs = Ranking::of(&clip, picture, &labels, &[template]).unwrap();
            let their_p: HashMap<&str, f32> = theirs
                .ranked
                .iter()
                .map(|(l, _, p)| (l.as_str(), *p))
                .collect();
            for (label, p) in &yours {
                let expected = *their_p.get(label.as_str()).unwrap_or_else(|| {
                    panic!(
                        "your ranking has {label:?}, which is not one of the labels: return the \
                         labels themselves (\"red circle\"), not the filled-in sentences"
                    )
                });
                assert!(
                    (p - expected).abs() < 1e-5,
                    "picture of {caption:?}, template {template:?}: P({label}) is {expected}, \
                     yours is {p}. Fill the template given, normalise both embeddings, multiply \
                     the cosine similarities by clip.logit_scale() and softmax over the labels."
                );
            }
            for (k, ((yours, _), (theirs, _, p))) in
                yours.iter().zip(&theirs.ranked).enumerate()
            {
                assert!(
                    yours == theirs || (their_p[yours.as_str()] - p).abs() < 1e-5,
                    "picture of {caption:?}, template {template:?}: place {} should be {theirs:?}, \
                     yours has {yours:?}",
                    k + 1
                );
            }
        }
    }
}

#[test]
fn top_label_matches_the_ground_truth() {
    // The scenes know what they show: the oracle here is the world, not a model.
    let clip = mini_clip();
    let (batch, pictures) = pictures(&clip, 80, 2718);
    let labels = all_labels();
    let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
    let mut right = 0;
    let mut wrong = Vec::new();
    let mut singles = 0;
    for (scene, picture) in batch.scenes.iter().zip(&pictures) {
        if scene.objects.len() != 1 {
            continue;
        }
        singles += 1;
        let object = scene.objects[0];
        let truth = format!("{} {}", object.colour.name(), object.shape.name());
        let ranked = rank_labels(&clip, picture, &labels, TEMPLATE).unwrap();
        assert_well_formed(&ranked, &labels);
        if ranked[0].0 == truth {
            right += 1;
        } else {
            wrong.push(format!("{truth} taken for {}", ranked[0].0));
        }
    }
    assert!(singles >= 40, "only {singles} single-object scenes drawn");
    let accuracy = right as f32 / singles as f32;
    assert!(
        accuracy >= 0.8,
        "your top label is right for {right} of {singles} single-object scenes ({:.0}%, need 80%); \
         e.g. {:?}",
        100.0 * accuracy,
        &wrong[..wrong.len().min(5)]
    );
}

#[test]
fn an_unknown_word_is_an_error_not_a_panic() {
    let clip = mini_clip();
    let (_, pictures) = pictures(&clip, 1, 13);
    let labels = ["red circle", "purple unicorn"];
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rank_labels(&clip, &pictures[0], &labels, TEMPLATE)
    }));
    match result {
        Ok(Ok(ranked)) => panic!(
            "mini-CLIP does not know \"unicorn\", yet rank_labels returned {ranked:?}: pass the \
             CLIP's error on"
        ),
        Ok(Err(error)) => assert!(
            format!("{error:#}").contains("unicorn"),
            "return the CLIP's own error (it names the unknown word), got: {error:#}"
        ),
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!(
                "rank_labels panicked ({message}) where mini-CLIP refused the word \"unicorn\": \
                 return the error with ? instead of unwrap()"
            )
        }
    }
}
