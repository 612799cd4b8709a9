//! Plain English for the scenes: the same scene said in several words.
//!
//! A caption names each object's colour and shape, and maybe its size, its
//! place or how two objects sit. Each of those has synonyms ("big" and
//! "large", "in the middle" and "in the centre", "over" and "above", "next
//! to"), and articles are optional. A [`Wording`] picks one synonym for each;
//! a frame puts the words in order. The guides train on the
//! [`TRAINING_FRAMES`] in every wording; the test prompts of `generate-report`
//! also use [`TEST_FRAMES`], orders of the same words that training never
//! shows, so that the report measures prompts written the way a person might.

use rand::Rng;

use super::scenes::{Object, Position, Relation, Scene, Size, with_articles};

impl Size {
    /// The words for this size; the first is the canonical one.
    pub fn words(self) -> &'static [&'static str] {
        match self {
            Size::Small => &["small", "tiny", "little"],
            Size::Large => &["large", "big"],
        }
    }
}

impl Position {
    /// The phrases for this cell; the first is [`Position::phrase`].
    pub fn phrases(self) -> &'static [&'static str] {
        const PHRASES: [[&[&str]; 3]; 3] = [
            [
                &[
                    "at the top left",
                    "in the top left corner",
                    "in the top left",
                ],
                &["at the top", "in the top middle"],
                &[
                    "at the top right",
                    "in the top right corner",
                    "in the top right",
                ],
            ],
            [
                &["on the left", "at the left"],
                &["in the centre", "in the center", "in the middle"],
                &["on the right", "at the right"],
            ],
            [
                &[
                    "at the bottom left",
                    "in the bottom left corner",
                    "in the bottom left",
                ],
                &["at the bottom", "in the bottom middle"],
                &[
                    "at the bottom right",
                    "in the bottom right corner",
                    "in the bottom right",
                ],
            ],
        ];
        PHRASES[usize::from(self.row)][usize::from(self.column)]
    }
}

/// Two objects side by side, either way round: true of "left of" and "right
/// of" alike, so it says less than either.
pub const SIDE_BY_SIDE: [&str; 2] = ["next to", "beside"];

impl Relation {
    /// The phrases for this relation; the first is [`Relation::phrase`]. A
    /// left–right relation may also be said as [`SIDE_BY_SIDE`].
    pub fn phrases(self) -> &'static [&'static str] {
        match self {
            Relation::Above => &["above", "over"],
            Relation::Below => &["below", "under", "beneath"],
            Relation::LeftOf => &[
                "to the left of",
                "left of",
                "on the left of",
                "next to",
                "beside",
            ],
            Relation::RightOf => &[
                "to the right of",
                "right of",
                "on the right of",
                "next to",
                "beside",
            ],
        }
    }
}

// ANCHOR: wording
/// Which synonym a caption uses for each part: an index into
/// [`Size::words`], [`Position::phrases`] and [`Relation::phrases`] (taken
/// modulo their lengths, so that one wording fits every scene), and whether
/// objects get their article ("a red circle" or "red circle").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Wording {
    pub size: u8,
    pub place: u8,
    pub relation: u8,
    pub articles: bool,
}

impl Wording {
    /// The words of [`Scene::phrasings`]: the first synonym of each, articles kept.
    pub const CANONICAL: Wording = Wording {
        size: 0,
        place: 0,
        relation: 0,
        articles: true,
    };

    /// Each synonym equally likely; articles kept two times in three.
    pub fn random(rng: &mut impl Rng) -> Wording {
        Wording {
            size: rng.random_range(0..3),
            place: rng.random_range(0..3),
            relation: rng.random_range(0..5),
            articles: rng.random_bool(2.0 / 3.0),
        }
    }

    // ANCHOR_END: wording

    /// Every wording there is (90).
    pub fn all() -> impl Iterator<Item = Wording> {
        (0..3u8).flat_map(|size| {
            (0..3u8).flat_map(move |place| {
                (0..5u8).flat_map(move |relation| {
                    [true, false].map(|articles| Wording {
                        size,
                        place,
                        relation,
                        articles,
                    })
                })
            })
        })
    }

    fn size(&self, size: Size) -> &'static str {
        pick(size.words(), self.size)
    }

    fn place(&self, position: Position) -> &'static str {
        pick(position.phrases(), self.place)
    }

    fn relation(&self, relation: Relation) -> &'static str {
        pick(relation.phrases(), self.relation)
    }
}

fn pick(words: &'static [&'static str], choice: u8) -> &'static str {
    words[usize::from(choice) % words.len()]
}

// ANCHOR: frames
/// The frames training captions use, one list for one object and one for two.
/// `{a}` is the optional article; `{cs}` colour and shape; `{A}`, `{B}` the two
/// objects; `{rel}` how the first sits by the second, `{inv}` the other way.
pub const TRAINING_FRAMES: Frames = Frames {
    one: &[
        "{a}{cs}",
        "{a}{size} {cs}",
        "{a}{cs} {place}",
        "{a}{size} {cs} {place}",
        "{a}picture of {a}{cs}",
        "the {cs} is {place}",
    ],
    two: &[
        "{a}{A} {rel} {a}{B}",
        "{a}{B} {inv} {a}{A}",
        "{a}{A} and {a}{B}",
    ],
};

/// Frames no training caption uses, built from the same words: the test
/// prompts' paraphrases.
pub const TEST_FRAMES: Frames = Frames {
    one: &[
        "{a}picture of the {cs}",
        "{a}picture of {a}{size} {cs}",
        "{a}picture of {a}{cs} {place}",
        "the {size} {cs} is {place}",
    ],
    two: &[
        "the {A} is {rel} the {B}",
        "{a}picture of {a}{A} and {a}{B}",
    ],
};

// ANCHOR_END: frames

/// Caption frames for scenes of one object and of two.
#[derive(Debug, Clone, Copy)]
pub struct Frames {
    pub one: &'static [&'static str],
    pub two: &'static [&'static str],
}

impl Frames {
    /// The frames for a scene of `objects` objects.
    pub fn for_objects(&self, objects: usize) -> &'static [&'static str] {
        if objects == 2 { self.two } else { self.one }
    }
}

impl Scene {
    /// The scene said in each of `frames`, in `wording`.
    pub fn worded(&self, frames: &Frames, wording: Wording) -> Vec<String> {
        if self.objects.is_empty() {
            return vec![String::from("an empty picture")];
        }
        let name = |o: &Object| format!("{} {}", o.colour.name(), o.shape.name());
        let article = if wording.articles { "a " } else { "" };
        let fill = |frame: &str| -> String {
            let mut text = frame.replace("{a}", article);
            match (self.objects.as_slice(), self.relation) {
                ([a, b], Some(relation)) => {
                    text = text
                        .replace("{A}", &name(a))
                        .replace("{B}", &name(b))
                        .replace("{rel}", wording.relation(relation))
                        .replace("{inv}", wording.relation(relation.inverse()));
                }
                ([o], _) => {
                    text = text
                        .replace("{cs}", &name(o))
                        .replace("{size}", wording.size(o.size))
                        .replace("{place}", wording.place(o.position));
                }
                _ => unreachable!("a scene holds one or two objects"),
            }
            with_articles(&text)
        };
        frames
            .for_objects(self.objects.len())
            .iter()
            .map(|f| fill(f))
            .collect()
    }
}

/// Every word a caption in any frame and wording can use, unsorted.
pub fn words() -> Vec<&'static str> {
    let mut words = vec!["a", "an", "and", "picture", "of", "is", "the"];
    for size in [Size::Small, Size::Large] {
        words.extend(size.words());
    }
    for phrase in Position::all().flat_map(|p| p.phrases().iter()) {
        words.extend(phrase.split(' '));
    }
    for phrase in Relation::ALL.iter().flat_map(|r| r.phrases().iter()) {
        words.extend(phrase.split(' '));
    }
    words
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::world::requests::Request;
    use crate::world::scenes::{SceneBatch, Split, vocabulary};

    fn scenes() -> Vec<Scene> {
        let mut scenes =
            SceneBatch::draw_mixed(200, 8, Split::Train, 0.5, 41).scenes;
        scenes.extend(SceneBatch::draw(40, 8, Split::HeldOut, 42).scenes);
        scenes
    }

    #[test]
    fn the_canonical_wording_is_the_scenes_phrasings() {
        for scene in scenes() {
            assert_eq!(
                scene.worded(&TRAINING_FRAMES, Wording::CANONICAL),
                scene.phrasings()
            );
        }
    }

    #[test]
    fn the_judge_reads_every_wording_of_every_frame_and_it_is_true() {
        let vocabulary = vocabulary();
        for scene in scenes() {
            for wording in Wording::all() {
                for frames in [TRAINING_FRAMES, TEST_FRAMES] {
                    for text in scene.worded(&frames, wording) {
                        let request = Request::parse(&text)
                            .unwrap_or_else(|| panic!("unreadable: {text:?}"));
                        assert!(request.holds_for(&scene), "{text:?} vs {scene:?}");
                        assert!(text.split(' ').count() <= 12, "{text:?}");
                        for word in text.split(' ') {
                            assert!(
                                vocabulary.contains(&word),
                                "{word:?} in {text:?}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn no_test_prompt_is_a_training_caption() {
        for scene in scenes() {
            let training: HashSet<String> = Wording::all()
                .flat_map(|w| scene.worded(&TRAINING_FRAMES, w))
                .collect();
            for wording in Wording::all() {
                for text in scene.worded(&TEST_FRAMES, wording) {
                    assert!(
                        !training.contains(&text),
                        "{text:?} is a training caption"
                    );
                }
            }
        }
    }

    #[test]
    fn random_wordings_use_every_synonym() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let drawn: HashSet<Wording> =
            (0..2000).map(|_| Wording::random(&mut rng)).collect();
        assert_eq!(drawn.len(), Wording::all().count());
    }
}
