//! What a caption asks for, and whether a picture gives it.
//!
//! A prompt in the scenes' language ("a small red circle at the top left",
//! "a green triangle above a blue star") is read into a [`Request`]; the
//! [`super::judge::scenes`] reads a picture; [`Request::verdict`] compares the two.
//! This is how generated pictures are graded: by the judge, never by the CLIP
//! that guided them.

use super::judge::scenes::SeenObject;
use super::scenes::{Colour, Position, Relation, Scene, Size, with_articles};
use super::wording::SIDE_BY_SIDE;
use crate::world::shapes::Shape;

/// One object a prompt asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Wanted {
    pub colour: Colour,
    pub shape: Shape,
    pub size: Option<Size>,
    pub position: Option<Position>,
}

/// How a prompt asks two objects to sit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrangement {
    /// The first object is in this relation to the second.
    Exactly(Relation),
    /// In one row, either way round ("next to", "beside").
    SideBySide,
}

impl Arrangement {
    fn phrase(self) -> &'static str {
        match self {
            Arrangement::Exactly(relation) => relation.phrase(),
            Arrangement::SideBySide => SIDE_BY_SIDE[0],
        }
    }

    fn holds(self, a: Position, b: Position) -> bool {
        match self {
            Arrangement::Exactly(Relation::Above) => a.row < b.row,
            Arrangement::Exactly(Relation::Below) => a.row > b.row,
            Arrangement::Exactly(Relation::LeftOf) => a.column < b.column,
            Arrangement::Exactly(Relation::RightOf) => a.column > b.column,
            Arrangement::SideBySide => a.row == b.row && a.column != b.column,
        }
    }
}

/// Everything a prompt asks for: one object, or two and (maybe) how they sit.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub objects: Vec<Wanted>,
    /// Where the first object sits relative to the second.
    pub relation: Option<Arrangement>,
}

impl Request {
    /// Reads a prompt in the scenes' language, in any of its wordings
    /// ([`crate::world::wording`]); `None` when it is not one (the judge
    /// cannot grade "a cat in space").
    pub fn parse(prompt: &str) -> Option<Request> {
        let text = prompt.trim().trim_end_matches('.').to_lowercase();
        let words: Vec<&str> =
            text.split([' ', ',']).filter(|w| !w.is_empty()).collect();
        let mut objects = Vec::new();
        for (i, pair) in words.windows(2).enumerate() {
            let colour = Colour::ALL.into_iter().find(|c| c.name() == pair[0]);
            let shape = Shape::ALL.into_iter().find(|s| s.name() == pair[1]);
            if let (Some(colour), Some(shape)) = (colour, shape) {
                let size = i.checked_sub(1).and_then(|k| {
                    [Size::Small, Size::Large]
                        .into_iter()
                        .find(|s| s.words().contains(&words[k]))
                });
                objects.push(Wanted {
                    colour,
                    shape,
                    size,
                    position: None,
                });
            }
        }
        let joined = format!(" {} ", words.join(" "));
        // "left of" is part of "to the left of", "at the top" of "at the top
        // left": the longest phrase wins. The relation is read first, so that
        // "on the left of" is not also a place.
        let relation = Relation::ALL
            .into_iter()
            .flat_map(|r| r.phrases().iter().map(move |p| (r, *p)))
            .filter(|(_, p)| joined.contains(&format!(" {p} ")))
            .max_by_key(|(_, p)| p.len());
        let rest = match relation {
            Some((_, phrase)) => joined.replacen(&format!(" {phrase} "), " | ", 1),
            None => joined.clone(),
        };
        let relation = relation.map(|(r, phrase)| {
            if SIDE_BY_SIDE.contains(&phrase) {
                Arrangement::SideBySide
            } else {
                Arrangement::Exactly(r)
            }
        });
        let position = Position::all()
            .flat_map(|p| p.phrases().iter().map(move |phrase| (p, *phrase)))
            .filter(|(_, phrase)| rest.contains(&format!(" {phrase} ")))
            .max_by_key(|(_, phrase)| phrase.len())
            .map(|(p, _)| p);
        match (objects.as_mut_slice(), relation) {
            ([one], None) => {
                one.position = position;
                Some(Request {
                    objects,
                    relation: None,
                })
            }
            ([_, _], relation) if position.is_none() => {
                let both = relation.is_some() || joined.contains(" and ");
                both.then_some(Request { objects, relation })
            }
            _ => None,
        }
    }

    /// `Ok` when the judged objects give what was asked (and nothing more);
    /// otherwise what is wrong, in words.
    pub fn verdict(&self, seen: &[SeenObject]) -> Result<(), String> {
        if seen.len() != self.objects.len() {
            return Err(format!(
                "asked for {} object(s), the judge sees {}: {}",
                self.objects.len(),
                seen.len(),
                describe(seen)
            ));
        }
        let mut found = Vec::new();
        for wanted in &self.objects {
            let name = format!("{} {}", wanted.colour.name(), wanted.shape.name());
            let Some(object) = seen.iter().find(|o| o.colour == wanted.colour)
            else {
                return Err(format!("no {name}: the judge sees {}", describe(seen)));
            };
            if object.shape != wanted.shape {
                return Err(with_articles(&format!(
                    "the {} object is a {}, not a {name}",
                    object.colour.name(),
                    object.shape.name()
                )));
            }
            if let Some(size) = wanted.size.filter(|&s| s != object.size) {
                return Err(format!(
                    "the {name} is {}, not {}",
                    object.size.name(),
                    size.name()
                ));
            }
            if let Some(position) = wanted.position.filter(|&p| p != object.position)
            {
                return Err(format!(
                    "the {name} is {}, not {}",
                    object.position.phrase(),
                    position.phrase()
                ));
            }
            found.push(*object);
        }
        if let (Some(relation), [a, b]) = (self.relation, found.as_slice())
            && !relation.holds(a.position, b.position)
        {
            return Err(format!(
                "the {} {} is not {} the {} {}",
                a.colour.name(),
                a.shape.name(),
                relation.phrase(),
                b.colour.name(),
                b.shape.name()
            ));
        }
        Ok(())
    }

    /// The verdict on a scene's true attributes (no pixels involved): the
    /// oracle the judged verdict is tested against.
    pub fn holds_for(&self, scene: &Scene) -> bool {
        let truth: Vec<SeenObject> = scene
            .objects
            .iter()
            .map(|o| SeenObject {
                colour: o.colour,
                shape: o.shape,
                size: o.size,
                position: o.position,
                overlap: 1.0,
            })
            .collect();
        self.verdict(&truth).is_ok()
    }
}

/// "a small red circle at the top left and a large blue star in the centre".
fn describe(seen: &[SeenObject]) -> String {
    if seen.is_empty() {
        return "nothing".into();
    }
    let each: Vec<String> = seen
        .iter()
        .map(|o| {
            format!(
                "a {} {} {} {}",
                o.size.name(),
                o.colour.name(),
                o.shape.name(),
                o.position.phrase()
            )
        })
        .collect();
    each.join(" and ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::judge::scenes::judge_scene;
    use crate::world::scenes::{SceneBatch, Split};

    #[test]
    fn every_phrasing_parses_and_holds_for_its_scene() {
        let batch = SceneBatch::draw(300, 64, Split::Train, 21);
        for scene in &batch.scenes {
            for phrasing in scene.true_captions() {
                let request = Request::parse(&phrasing)
                    .unwrap_or_else(|| panic!("{phrasing:?}"));
                assert!(request.holds_for(scene), "{phrasing:?} vs {scene:?}");
                assert_eq!(
                    request.objects.len(),
                    scene.objects.len(),
                    "{phrasing:?}"
                );
            }
        }
    }

    #[test]
    fn the_judged_verdict_agrees_with_the_truth() {
        // Requests of one scene checked against the pixels of another: the
        // judge must say yes exactly when the true attributes say yes.
        let batch = SceneBatch::draw(400, 64, Split::Train, 22);
        let (mut agree, mut yes, mut total) = (0, 0, 0);
        for (i, scene) in batch.scenes.iter().enumerate() {
            let seen = judge_scene(&batch.images[i]);
            for other in [
                &batch.scenes[i],
                &batch.scenes[(i + 1) % 400],
                &batch.scenes[(i + 7) % 400],
            ] {
                for phrasing in other.phrasings() {
                    let request = Request::parse(&phrasing).expect("a phrasing");
                    let truth = request.holds_for(scene);
                    agree += usize::from(request.verdict(&seen).is_ok() == truth);
                    yes += usize::from(truth);
                    total += 1;
                }
            }
        }
        assert!(agree as f32 >= 0.99 * total as f32, "{agree}/{total}");
        assert!(yes > total / 4 && yes < total * 3 / 4, "{yes}/{total} true");
    }

    #[test]
    fn reads_sizes_positions_relations_and_refuses_other_text() {
        let request =
            Request::parse("A large purple heart at the top.").expect("parses");
        assert_eq!(request.objects[0].size, Some(Size::Large));
        assert_eq!(
            request.objects[0].position,
            Some(Position { column: 1, row: 0 })
        );
        let request = Request::parse("a red circle to the left of a blue square")
            .expect("parses");
        assert_eq!(
            request.relation,
            Some(Arrangement::Exactly(Relation::LeftOf))
        );
        assert_eq!(request.objects[1].shape, Shape::Square);
        let request = Request::parse("big red circle in the top right corner")
            .expect("parses");
        assert_eq!(request.objects[0].size, Some(Size::Large));
        assert_eq!(
            request.objects[0].position,
            Some(Position { column: 2, row: 0 })
        );
        let request = Request::parse("a red circle on the left of a blue square")
            .expect("a relation, not a place");
        assert_eq!(
            request.relation,
            Some(Arrangement::Exactly(Relation::LeftOf))
        );
        let request = Request::parse("red circle beside blue star").expect("parses");
        assert_eq!(request.relation, Some(Arrangement::SideBySide));
        let at = |column, row| Position { column, row };
        assert!(Arrangement::SideBySide.holds(at(2, 1), at(0, 1)));
        assert!(!Arrangement::SideBySide.holds(at(1, 0), at(1, 2)));
        for text in [
            "a cat in space",
            "a red circle a blue square",
            "a red circle above",
            "a red circle and a blue star at the top",
            "",
        ] {
            assert_eq!(Request::parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn a_failed_verdict_says_what_is_wrong() {
        let request =
            Request::parse("a red circle at the top left").expect("parses");
        let seen = |shape, row| SeenObject {
            colour: Colour::Red,
            shape,
            size: Size::Small,
            position: Position { column: 0, row },
            overlap: 0.9,
        };
        assert!(request.verdict(&[seen(Shape::Circle, 0)]).is_ok());
        let wrong_shape = request.verdict(&[seen(Shape::Star, 0)]).unwrap_err();
        assert!(wrong_shape.contains("star"), "{wrong_shape}");
        let wrong_place = request.verdict(&[seen(Shape::Circle, 2)]).unwrap_err();
        assert!(wrong_place.contains("at the bottom left"), "{wrong_place}");
        let nothing = request.verdict(&[]).unwrap_err();
        assert!(nothing.contains("nothing"), "{nothing}");
    }
}
