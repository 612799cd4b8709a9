//! Captioned scenes: one or two coloured shapes with an English caption generated
//! from the true attributes ("a small red circle at the top left", "a green
//! triangle above a blue star").
//!
//! CLIP (chapter 5) learns from these image–caption pairs and the guided
//! generator (chapter 6) draws from their captions. A few colour–shape pairs are
//! kept out of training ([`HELD_OUT`]) so that zero-shot generalisation to unseen
//! combinations can be measured.

use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tiny_skia::{Color, Pixmap};

use super::requests::Request;
use super::wording::{TRAINING_FRAMES, Wording};
use crate::world::shapes::{Shape, ShapeSpec};

/// Named colours, far apart so that a colour word means one thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Colour {
    Red,
    Orange,
    Yellow,
    Green,
    Blue,
    Purple,
}

impl Colour {
    pub const ALL: [Colour; 6] = [
        Colour::Red,
        Colour::Orange,
        Colour::Yellow,
        Colour::Green,
        Colour::Blue,
        Colour::Purple,
    ];

    pub fn rgb(self) -> [u8; 3] {
        match self {
            Colour::Red => [225, 35, 35],
            Colour::Orange => [245, 140, 20],
            Colour::Yellow => [240, 225, 40],
            Colour::Green => [40, 185, 60],
            Colour::Blue => [45, 95, 235],
            Colour::Purple => [160, 60, 210],
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Colour::Red => "red",
            Colour::Orange => "orange",
            Colour::Yellow => "yellow",
            Colour::Green => "green",
            Colour::Blue => "blue",
            Colour::Purple => "purple",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Size {
    Small,
    Large,
}

impl Size {
    fn other(self) -> Size {
        match self {
            Size::Small => Size::Large,
            Size::Large => Size::Small,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Size::Small => "small",
            Size::Large => "large",
        }
    }

    /// The range of radii, as a fraction of the canvas.
    fn radii(self) -> std::ops::Range<f32> {
        match self {
            Size::Small => 0.09..0.12,
            Size::Large => 0.17..0.21,
        }
    }
}

/// Where an object sits: a cell of a 3×3 grid over the canvas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Position {
    /// 0 = left, 1 = middle, 2 = right.
    pub column: u8,
    /// 0 = top, 1 = middle, 2 = bottom.
    pub row: u8,
}

impl Position {
    /// All nine cells, row by row.
    pub fn all() -> impl Iterator<Item = Position> {
        (0..3).flat_map(|row| (0..3).map(move |column| Position { column, row }))
    }

    /// "at the top left", "on the right", "in the centre", …
    pub fn phrase(self) -> &'static str {
        const PHRASES: [[&str; 3]; 3] = [
            ["at the top left", "at the top", "at the top right"],
            ["on the left", "in the centre", "on the right"],
            ["at the bottom left", "at the bottom", "at the bottom right"],
        ];
        PHRASES[usize::from(self.row)][usize::from(self.column)]
    }

    /// The cell's anchor point, as a fraction of the canvas.
    fn anchor(self) -> (f32, f32) {
        let at = |i: u8| 0.22 + 0.28 * f32::from(i);
        (at(self.column), at(self.row))
    }
}

/// How the first object of a two-object scene sits relative to the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Relation {
    Above,
    Below,
    LeftOf,
    RightOf,
}

impl Relation {
    pub const ALL: [Relation; 4] = [
        Relation::Above,
        Relation::Below,
        Relation::LeftOf,
        Relation::RightOf,
    ];

    pub fn phrase(self) -> &'static str {
        match self {
            Relation::Above => "above",
            Relation::Below => "below",
            Relation::LeftOf => "to the left of",
            Relation::RightOf => "to the right of",
        }
    }

    /// The same arrangement seen from the other object.
    pub fn inverse(self) -> Relation {
        match self {
            Relation::Above => Relation::Below,
            Relation::Below => Relation::Above,
            Relation::LeftOf => Relation::RightOf,
            Relation::RightOf => Relation::LeftOf,
        }
    }
}

/// One drawn object with its true attributes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Object {
    pub shape: Shape,
    pub colour: Colour,
    pub size: Size,
    pub position: Position,
    /// Exact centre and radius, as fractions of the canvas.
    pub centre: (f32, f32),
    pub radius: f32,
}

/// Colour–shape pairs never shown in training, to measure generalisation.
pub const HELD_OUT: [(Colour, Shape); 4] = [
    (Colour::Yellow, Shape::Star),
    (Colour::Blue, Shape::Triangle),
    (Colour::Green, Shape::Circle),
    (Colour::Purple, Shape::Square),
];

/// One way a [`Scene::counterfactual`] differs from its scene.
enum Change {
    SwapColours,
    SwapShapes,
    SwapPlaces,
    Recolour,
    Reshape,
    Resize,
    Move,
}

/// Which colour–shape pairs a scene may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// Every pair except [`HELD_OUT`].
    Train,
    /// Single objects whose pair is one of [`HELD_OUT`].
    HeldOut,
}

/// A picture's ground truth: one object, or two objects and how they relate.
#[derive(Debug, Clone, PartialEq)]
pub struct Scene {
    pub objects: Vec<Object>,
    /// For two objects: where the first sits relative to the second.
    pub relation: Option<Relation>,
    /// Grey level of the dark background.
    pub background: u8,
}

impl Scene {
    /// A random scene: one object (70%) or two objects in a relation (30%).
    pub fn random(split: Split, rng: &mut impl Rng) -> Scene {
        Scene::random_mixed(split, 0.3, rng)
    }

    /// A random scene with two objects in a relation with probability
    /// `two_objects`, else one object. Held-out scenes always have one.
    pub fn random_mixed(
        split: Split,
        two_objects: f64,
        rng: &mut impl Rng,
    ) -> Scene {
        let background = rng.random_range(0..40);
        if split == Split::HeldOut || rng.random_bool(1.0 - two_objects) {
            let pair = pair(split, rng);
            let size = if rng.random_bool(0.5) {
                Size::Small
            } else {
                Size::Large
            };
            let position = Position {
                column: rng.random_range(0..3),
                row: rng.random_range(0..3),
            };
            return Scene::single(pair, size, position, background, rng);
        }
        let relation = *Relation::ALL.choose(rng).expect("relations");
        let (mut first, mut second) = (pair(split, rng), pair(split, rng));
        while second.0 == first.0 {
            second = pair(split, rng);
        }
        if rng.random_bool(0.5) {
            std::mem::swap(&mut first, &mut second);
        }
        Scene::two(first, second, relation, background, rng)
    }

    /// One object of the colour–shape `pair`, of `size`, in the cell `position`
    /// (moved a little at random).
    pub fn single(
        (colour, shape): (Colour, Shape),
        size: Size,
        position: Position,
        background: u8,
        rng: &mut impl Rng,
    ) -> Scene {
        Scene {
            objects: vec![place(shape, colour, size, position, 0.04, rng)],
            relation: None,
            background,
        }
    }

    /// Two small objects in two cells of one row or column (chosen at random),
    /// the first `relation` the second.
    pub fn two(
        first: (Colour, Shape),
        second: (Colour, Shape),
        relation: Relation,
        background: u8,
        rng: &mut impl Rng,
    ) -> Scene {
        // Two cells in one line: the first object is above/below/left/right of the second.
        let (a, b) = {
            let mut cells = [0u8, 1, 2];
            cells.shuffle(rng);
            let (low, high) = (cells[0].min(cells[1]), cells[0].max(cells[1]));
            match relation {
                Relation::Above | Relation::LeftOf => (low, high),
                Relation::Below | Relation::RightOf => (high, low),
            }
        };
        let line = rng.random_range(0..3);
        let (pa, pb) = match relation {
            Relation::Above | Relation::Below => (
                Position {
                    column: line,
                    row: a,
                },
                Position {
                    column: line,
                    row: b,
                },
            ),
            Relation::LeftOf | Relation::RightOf => (
                Position {
                    column: a,
                    row: line,
                },
                Position {
                    column: b,
                    row: line,
                },
            ),
        };
        Scene {
            objects: vec![
                place(first.1, first.0, Size::Small, pa, 0.02, rng),
                place(second.1, second.0, Size::Small, pb, 0.02, rng),
            ],
            relation: Some(relation),
            background,
        }
    }

    /// One scene of every kind a caption can describe: each training
    /// colour–shape pair at each size in each cell, each ordered couple of
    /// them (different colours) in each relation, and last each held-out pair
    /// at each size in each cell (as the held-out split draws them: alone).
    /// The world can draw those though no model was trained on them. Layout
    /// details and backgrounds are random. Every caption of a scene of either
    /// split is true of at least one of them.
    pub fn every_kind(rng: &mut impl Rng) -> Vec<Scene> {
        let pairs: Vec<(Colour, Shape)> = Colour::ALL
            .into_iter()
            .flat_map(|c| Shape::ALL.into_iter().map(move |s| (c, s)))
            .filter(|p| !HELD_OUT.contains(p))
            .collect();
        let mut scenes = each_alone(&pairs, rng);
        for &first in &pairs {
            for &second in pairs.iter().filter(|p| p.0 != first.0) {
                for relation in Relation::ALL {
                    let background = rng.random_range(0..40);
                    scenes
                        .push(Scene::two(first, second, relation, background, rng));
                }
            }
        }
        scenes.extend(each_alone(&HELD_OUT, rng));
        scenes
    }

    /// Renders the scene, anti-aliased, on a `size`×`size` canvas.
    pub fn draw(&self, size: u32) -> image::RgbImage {
        let mut pixmap =
            Pixmap::new(size, size).expect("canvas size must be positive");
        let grey = self.background;
        pixmap.fill(Color::from_rgba8(grey, grey, grey, 255));
        let s = size as f32;
        for object in &self.objects {
            let spec = ShapeSpec {
                shape: object.shape,
                centre: (object.centre.0 * s, object.centre.1 * s),
                radius: object.radius * s,
                colour: object.colour.rgb(),
                background: [grey; 3],
            };
            spec.paint_on(&mut pixmap);
        }
        super::pixmap_to_rgb(&pixmap)
    }

    /// One of the training frames, as a caption true of the scene picks it.
    pub fn pick_frame(&self, rng: &mut impl Rng) -> Phrasing {
        let frames = TRAINING_FRAMES.for_objects(self.objects.len());
        Phrasing {
            frame: rng.random_range(0..frames.len()),
            wording: Wording::CANONICAL,
        }
    }

    /// The caption `phrasing` makes of this scene.
    pub fn caption(&self, phrasing: Phrasing) -> String {
        self.worded(&TRAINING_FRAMES, phrasing.wording)[phrasing.frame].clone()
    }

    /// The same scene with one thing changed: the two objects swap colours,
    /// shapes or places, or one object gets another colour, shape, size or
    /// place. Only colour–shape pairs of `split` appear. Its captions are the
    /// hard negatives of training ([`hard_negative`]).
    pub fn counterfactual(&self, split: Split, rng: &mut impl Rng) -> Scene {
        use Change::*;
        let changes: &[Change] = match self.objects.len() {
            2 => &[SwapColours, SwapShapes, SwapPlaces, Recolour, Reshape],
            _ => &[Recolour, Reshape, Resize, Move],
        };
        let allowed = |o: &Object| {
            (split == Split::HeldOut) == HELD_OUT.contains(&(o.colour, o.shape))
        };
        loop {
            let mut changed = self.clone();
            let objects = &mut changed.objects;
            let k = rng.random_range(0..objects.len());
            let o = objects[k];
            match changes.choose(rng).expect("changes") {
                SwapColours => {
                    (objects[0].colour, objects[1].colour) =
                        (objects[1].colour, objects[0].colour)
                }
                SwapShapes => {
                    (objects[0].shape, objects[1].shape) =
                        (objects[1].shape, objects[0].shape)
                }
                SwapPlaces => {
                    let (a, b) = (objects[0], objects[1]);
                    (objects[0].centre, objects[0].position) =
                        (b.centre, b.position);
                    (objects[1].centre, objects[1].position) =
                        (a.centre, a.position);
                    changed.relation = changed.relation.map(Relation::inverse);
                }
                Recolour => {
                    objects[k].colour = *Colour::ALL.choose(rng).expect("colours")
                }
                Reshape => {
                    objects[k].shape = *Shape::ALL.choose(rng).expect("shapes")
                }
                Resize => {
                    objects[k] = place(
                        o.shape,
                        o.colour,
                        o.size.other(),
                        o.position,
                        0.04,
                        rng,
                    )
                }
                Move => {
                    let position = Position::all()
                        .nth(rng.random_range(0..9))
                        .expect("nine cells");
                    objects[k] =
                        place(o.shape, o.colour, o.size, position, 0.04, rng);
                }
            }
            let colours_differ = changed.objects.len() == 1
                || changed.objects[0].colour != changed.objects[1].colour;
            if changed != *self
                && changed.objects.iter().all(allowed)
                && colours_differ
            {
                return changed;
            }
        }
    }

    /// Every phrasing [`Scene::caption`] picks from: the training frames in
    /// the canonical wording ([`super::wording`]).
    pub fn phrasings(&self) -> Vec<String> {
        self.worded(&TRAINING_FRAMES, Wording::CANONICAL)
    }

    /// The canonical captions true of this scene: its phrasings, and "a X and
    /// a Y" in either order. Tests check the request parser against them;
    /// training matches captions by meaning (`clip::mini::text_matches`).
    #[cfg(test)]
    pub(crate) fn true_captions(&self) -> Vec<String> {
        let mut captions = self.phrasings();
        if let ([a, b], Some(_)) = (self.objects.as_slice(), self.relation) {
            captions.push(with_articles(&format!(
                "a {} {} and a {} {}",
                b.colour.name(),
                b.shape.name(),
                a.colour.name(),
                a.shape.name()
            )));
        }
        captions
    }
}

/// Which training frame a caption uses, in which words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phrasing {
    pub frame: usize,
    pub wording: Wording,
}

/// Scenes with one caption each.
#[derive(Debug, Clone)]
pub struct SceneBatch {
    pub scenes: Vec<Scene>,
    pub captions: Vec<String>,
    /// How each caption is phrased.
    pub phrasings: Vec<Phrasing>,
    pub images: Vec<image::RgbImage>,
}

impl SceneBatch {
    /// `count` random scenes of `size`×`size` pixels, the same for the same seed.
    pub fn draw(count: usize, size: u32, split: Split, seed: u64) -> SceneBatch {
        SceneBatch::draw_mixed(count, size, split, 0.3, seed)
    }

    /// As [`SceneBatch::draw`], with a share `two_objects` of two-object
    /// scenes ([`Scene::random_mixed`]).
    pub fn draw_mixed(
        count: usize,
        size: u32,
        split: Split,
        two_objects: f64,
        seed: u64,
    ) -> SceneBatch {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let scenes: Vec<Scene> = (0..count)
            .map(|_| Scene::random_mixed(split, two_objects, &mut rng))
            .collect();
        let phrasings: Vec<Phrasing> =
            scenes.iter().map(|s| s.pick_frame(&mut rng)).collect();
        let images = super::map_on_every_core(&scenes, |s| s.draw(size));
        SceneBatch {
            captions: captions(&scenes, &phrasings),
            scenes,
            phrasings,
            images,
        }
    }

    /// The same scenes and frames with each caption in a random wording
    /// ([`Wording::random`]): synonyms, articles optional.
    pub fn reworded(mut self, seed: u64) -> SceneBatch {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(7); // not the streams that drew the scenes or negatives
        for phrasing in &mut self.phrasings {
            phrasing.wording = Wording::random(&mut rng);
        }
        self.captions = captions(&self.scenes, &self.phrasings);
        self
    }
}

fn captions(scenes: &[Scene], phrasings: &[Phrasing]) -> Vec<String> {
    scenes
        .iter()
        .zip(phrasings)
        .map(|(s, &p)| s.caption(p))
        .collect()
}

/// "an" for every "a" before a vowel: "a orange circle" becomes "an orange
/// circle". Captions, prompt templates and edit prompts all go through it.
pub fn with_articles(text: &str) -> String {
    let words: Vec<&str> = text.split(' ').collect();
    let mut fixed = Vec::with_capacity(words.len());
    for (i, &word) in words.iter().enumerate() {
        let before_vowel = words
            .get(i + 1)
            .and_then(|next| next.chars().next())
            .is_some_and(|c| "aeiouAEIOU".contains(c));
        fixed.push(match word {
            "a" if before_vowel => "an",
            "A" if before_vowel => "An",
            _ => word,
        });
    }
    fixed.join(" ")
}

/// A caption phrased as `phrasing` that is false of `scene`: the same
/// phrasing of a [`Scene::counterfactual`]. NegCLIP (Yuksekgonul et al.,
/// 2023) trains CLIP with such captions so that it cannot read a caption as a
/// bag of words: "a red circle above a blue square" and "a blue circle above a
/// red square" hold the same words. `None` when no change shows in the words
/// ("a red circle" says nothing of the size, "next to" nothing of the side).
pub fn hard_negative(
    scene: &Scene,
    phrasing: Phrasing,
    split: Split,
    rng: &mut impl Rng,
) -> Option<String> {
    (0..8)
        .map(|_| scene.counterfactual(split, rng).caption(phrasing))
        .find(|negative| {
            Request::parse(negative).is_some_and(|r| !r.holds_for(scene))
        })
}

/// Every word any caption can use, sorted: the vocabulary of a word-level text
/// encoder.
pub fn vocabulary() -> Vec<&'static str> {
    let mut words = super::wording::words();
    words.extend(Colour::ALL.map(Colour::name));
    words.extend(Shape::ALL.map(Shape::name));
    words.sort_unstable();
    words.dedup();
    words
}

fn pair(split: Split, rng: &mut impl Rng) -> (Colour, Shape) {
    match split {
        Split::HeldOut => *HELD_OUT.choose(rng).expect("held-out pairs"),
        Split::Train => loop {
            let candidate = (
                *Colour::ALL.choose(rng).expect("colours"),
                *Shape::ALL.choose(rng).expect("shapes"),
            );
            if !HELD_OUT.contains(&candidate) {
                break candidate;
            }
        },
    }
}

/// Each pair alone, at each size in each cell ([`Scene::every_kind`]).
fn each_alone(pairs: &[(Colour, Shape)], rng: &mut impl Rng) -> Vec<Scene> {
    let mut scenes = Vec::new();
    for &pair in pairs {
        for size in [Size::Small, Size::Large] {
            for position in Position::all() {
                let background = rng.random_range(0..40);
                scenes.push(Scene::single(pair, size, position, background, rng));
            }
        }
    }
    scenes
}

/// An object of the given kind in its cell, moved by up to `jitter` and kept
/// inside the canvas.
fn place(
    shape: Shape,
    colour: Colour,
    size: Size,
    position: Position,
    jitter: f32,
    rng: &mut impl Rng,
) -> Object {
    let radius = rng.random_range(size.radii());
    let (ax, ay) = position.anchor();
    let inside = |v: f32| v.clamp(radius + 0.02, 1.0 - radius - 0.02);
    Object {
        shape,
        colour,
        size,
        position,
        centre: (
            inside(ax + rng.random_range(-jitter..=jitter)),
            inside(ay + rng.random_range(-jitter..=jitter)),
        ),
        radius,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_holds_a_true_scene_for_every_caption() {
        use crate::world::requests::Request;
        let kinds = Scene::every_kind(&mut ChaCha8Rng::seed_from_u64(3));
        // 32 pairs × 2 sizes × 9 cells, 852 ordered couples × 4 relations,
        // then the 4 held-out pairs × 2 sizes × 9 cells.
        assert_eq!(kinds.len(), 32 * 2 * 9 + 852 * 4 + 4 * 2 * 9);
        let (trained, held_out) = kinds.split_at(kinds.len() - 72);
        let pair = |o: &Object| (o.colour, o.shape);
        assert!(
            trained
                .iter()
                .flat_map(|k| &k.objects)
                .all(|o| !HELD_OUT.contains(&pair(o)))
        );
        assert!(held_out.iter().all(
            |k| k.objects.len() == 1 && HELD_OUT.contains(&pair(&k.objects[0]))
        ));
        let fresh = SceneBatch::draw(300, 8, Split::Train, 31);
        let fresh_held_out = SceneBatch::draw(100, 8, Split::HeldOut, 32);
        for scene in fresh.scenes.iter().chain(&fresh_held_out.scenes) {
            for caption in scene.true_captions() {
                let request =
                    Request::parse(&caption).expect("a caption is a request");
                assert!(
                    kinds.iter().any(|k| request.holds_for(k)),
                    "no scene of every_kind shows {caption:?}"
                );
            }
        }
    }

    #[test]
    fn captions_use_the_vocabulary_and_name_what_is_drawn() {
        let vocabulary = vocabulary();
        let batch = SceneBatch::draw(300, 64, Split::Train, 1).reworded(1);
        for (scene, caption) in batch.scenes.iter().zip(&batch.captions) {
            for word in caption.split(' ') {
                assert!(vocabulary.contains(&word), "{word:?} in {caption:?}");
            }
            for object in &scene.objects {
                assert!(caption.contains(object.colour.name()), "{caption}");
                assert!(caption.contains(object.shape.name()), "{caption}");
            }
        }
        assert_eq!(vocabulary.len(), 43, "{vocabulary:?}");
    }

    #[test]
    fn a_mixed_batch_has_its_share_of_two_object_scenes_and_the_default_one_is_draw()
    {
        let two = |batch: &SceneBatch| {
            batch.scenes.iter().filter(|s| s.objects.len() == 2).count()
        };
        let mixed = SceneBatch::draw_mixed(2000, 16, Split::Train, 0.4, 9);
        assert!((720..880).contains(&two(&mixed)), "{}", two(&mixed));
        let default = SceneBatch::draw(300, 16, Split::Train, 9);
        let same = SceneBatch::draw_mixed(300, 16, Split::Train, 0.3, 9);
        assert_eq!(default.scenes, same.scenes);
        let held_out = SceneBatch::draw_mixed(100, 16, Split::HeldOut, 1.0, 9);
        assert_eq!(two(&held_out), 0, "held-out scenes have one object");
    }

    #[test]
    fn true_captions_include_the_drawn_one_and_both_orders_of_and() {
        let batch = SceneBatch::draw(100, 16, Split::Train, 6);
        for (scene, caption) in batch.scenes.iter().zip(&batch.captions) {
            let truths = scene.true_captions();
            assert!(truths.contains(caption), "{caption:?} not in {truths:?}");
            if let [a, b] = scene.objects.as_slice() {
                let name =
                    |o: &Object| format!("{} {}", o.colour.name(), o.shape.name());
                for (x, y) in [(a, b), (b, a)] {
                    let and =
                        with_articles(&format!("a {} and a {}", name(x), name(y)));
                    assert!(truths.contains(&and), "{and:?} not in {truths:?}");
                }
            }
        }
    }

    #[test]
    fn the_object_colour_is_at_its_centre_and_the_background_is_dark() {
        let batch = SceneBatch::draw(200, 64, Split::Train, 2);
        for (scene, image) in batch.scenes.iter().zip(&batch.images) {
            for object in &scene.objects {
                // Every shape covers its centre except the heart's notch; test a
                // point a little below the centre, inside all of them.
                let (x, y) = (
                    object.centre.0 * 64.0,
                    (object.centre.1 + 0.2 * object.radius) * 64.0,
                );
                assert_eq!(
                    image.get_pixel(x as u32, y as u32).0,
                    object.colour.rgb(),
                    "{scene:?}"
                );
            }
            assert!(image.get_pixel(0, 0).0.iter().all(|&v| v < 40));
        }
    }

    #[test]
    fn relations_hold_in_the_geometry() {
        let batch = SceneBatch::draw(400, 64, Split::Train, 3);
        let pairs: Vec<&Scene> = batch
            .scenes
            .iter()
            .filter(|s| s.relation.is_some())
            .collect();
        assert!(pairs.len() > 80, "{} two-object scenes", pairs.len());
        for scene in pairs {
            let [a, b] = [scene.objects[0], scene.objects[1]];
            let gap = a.radius + b.radius;
            let (dx, dy) = (b.centre.0 - a.centre.0, b.centre.1 - a.centre.1);
            let holds = match scene.relation.expect("relation") {
                Relation::Above => dy > gap,
                Relation::Below => -dy > gap,
                Relation::LeftOf => dx > gap,
                Relation::RightOf => -dx > gap,
            };
            assert!(holds, "{scene:?}");
            assert_ne!(a.colour, b.colour);
        }
    }

    #[test]
    fn held_out_pairs_stay_out_of_training() {
        let train = SceneBatch::draw(1000, 16, Split::Train, 4);
        for object in train.scenes.iter().flat_map(|s| &s.objects) {
            assert!(!HELD_OUT.contains(&(object.colour, object.shape)));
        }
        let held_out = SceneBatch::draw(50, 16, Split::HeldOut, 4);
        for scene in &held_out.scenes {
            let o = scene.objects[0];
            assert!(HELD_OUT.contains(&(o.colour, o.shape)));
        }
    }

    #[test]
    fn a_hard_negative_is_a_caption_false_of_its_scene() {
        // The request parser and `holds_for` (the judge's reading of a prompt)
        // are the oracle: the caption holds for the scene, its negative not.
        let batch = SceneBatch::draw(400, 16, Split::Train, 10);
        let mut rng = ChaCha8Rng::seed_from_u64(10);
        let mut made = [0; 2];
        let reworded = batch.clone().reworded(10);
        for (scene, &phrasing) in batch
            .scenes
            .iter()
            .chain(&reworded.scenes)
            .zip(batch.phrasings.iter().chain(&reworded.phrasings))
        {
            let Some(negative) =
                hard_negative(scene, phrasing, Split::Train, &mut rng)
            else {
                continue;
            };
            made[scene.objects.len() - 1] += 1;
            let request = crate::world::requests::Request::parse(&negative)
                .expect("a scene caption");
            assert!(!request.holds_for(scene), "{negative:?} for {phrasing:?}");
            for word in negative.split(' ') {
                assert!(vocabulary().contains(&word), "{word:?} in {negative:?}");
            }
        }
        // Most captions have a negative; "a red circle" has none by size.
        assert!(made[0] > 400 && made[1] > 150, "{made:?}");
    }

    #[test]
    fn a_counterfactual_changes_one_thing_and_keeps_to_its_split() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for split in [Split::Train, Split::HeldOut] {
            for scene in SceneBatch::draw(300, 16, split, 11).scenes {
                let changed = scene.counterfactual(split, &mut rng);
                assert_ne!(changed, scene);
                assert_eq!(changed.objects.len(), scene.objects.len());
                for o in &changed.objects {
                    let held_out = HELD_OUT.contains(&(o.colour, o.shape));
                    assert_eq!(held_out, split == Split::HeldOut, "{changed:?}");
                }
                if let [a, b] = changed.objects.as_slice() {
                    assert_ne!(a.colour, b.colour);
                }
            }
        }
    }

    #[test]
    fn an_comes_before_vowels() {
        assert_eq!(with_articles("a orange circle"), "an orange circle");
        assert_eq!(
            with_articles("a picture of a orange star above a red heart"),
            "a picture of an orange star above a red heart"
        );
        assert_eq!(with_articles("A orange cross"), "An orange cross");
        assert_eq!(with_articles("a red circle"), "a red circle");
    }

    #[test]
    fn same_seed_same_scenes_and_captions() {
        let a = SceneBatch::draw(20, 32, Split::Train, 9);
        let b = SceneBatch::draw(20, 32, Split::Train, 9);
        assert_eq!(a.images, b.images);
        assert_eq!(a.captions, b.captions);
        assert_ne!(
            a.captions,
            SceneBatch::draw(20, 32, Split::Train, 10).captions
        );
    }
}
