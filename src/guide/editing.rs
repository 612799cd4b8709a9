//! Editing (chapter 7): start from a picture and steer it with text. The
//! objective is the prompts' loss plus an init weight times a distance to the
//! picture ([`Keep`]); it is minimised like chapter 6's, by ranking drawn
//! scenes and then by gradient steps, or by gradient steps from the picture
//! alone. [`crate::eval::editing`] measures each way with the judge.

use candle_core::Tensor;

use super::engine::{Guide, Keep};
use super::generate::{Bank, Settings, Start, generate};
use super::generators::{Generator, RawPixels};
use super::prompts::Prompt;
use super::vq::VqModel;
use crate::clip::Clip;

/// The init weight of `clip-art generate --init` with [`Keep::Layout`]
/// (`clip-art edit-report`, 20 edits: weight 1 → 40% right, 5 and 20 → 85%).
pub const EDIT_WEIGHT: f64 = 5.0;

/// How an edit is searched for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EditMethod {
    /// Rank the bank by the whole objective (prompt + init weight · distance),
    /// then optimise the best with the VQ decoder: `clip-art generate --init`.
    Bank(Keep, f64),
    /// Gradient steps on the VQ decoder from the picture's own encoding.
    FromPicture(Keep, f64),
    /// Gradient steps on every pixel from the picture.
    RawPixels(Keep, f64),
}

impl EditMethod {
    pub fn name(&self) -> String {
        let (how, keep, weight) = match self {
            EditMethod::Bank(k, w) => {
                ("bank scenes ranked by the objective, then VQ steps", k, w)
            }
            EditMethod::FromPicture(k, w) => {
                ("VQ steps from the picture's own codes", k, w)
            }
            EditMethod::RawPixels(k, w) => {
                ("raw-pixel steps from the picture", k, w)
            }
        };
        let keep = match keep {
            Keep::Pixels => "pixels",
            Keep::Layout => "layout",
        };
        format!("{how}; keep {keep}, init weight {weight}")
    }
}

// ANCHOR: edit
/// Edits `init` `[1, 3, s, s]` towards `prompts` with `method`.
pub fn edit(
    clip: &dyn Clip,
    vq: &VqModel,
    bank: &Bank,
    init: &Tensor,
    prompts: &[Prompt],
    method: EditMethod,
    settings: &Settings,
) -> anyhow::Result<Tensor> {
    let (EditMethod::Bank(keep, weight)
    | EditMethod::FromPicture(keep, weight)
    | EditMethod::RawPixels(keep, weight)) = method;
    let guide = Guide::new(clip, prompts)?.anchored(init, keep, weight);
    let start = match method {
        EditMethod::Bank(..) => Start::Bank(bank),
        _ => Start::Picture(init),
    };
    Ok(match method {
        EditMethod::Bank(..) | EditMethod::FromPicture(..) => {
            generate(&guide, vq, start, settings, |_| {
                std::ops::ControlFlow::Continue(())
            })?
            .picture
        }
        EditMethod::RawPixels(..) => {
            let generator = RawPixels::from_picture(init)?;
            guide.run(
                &generator,
                &settings.guide_config(settings.seed),
                |_, _| std::ops::ControlFlow::Continue(()),
            )?;
            generator.render()?.detach()
        }
    })
}
// ANCHOR_END: edit

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clip::mini::MiniClip;
    use candle_core::Device;

    #[test]
    fn an_image_prompt_pulls_towards_its_picture() -> anyhow::Result<()> {
        // Scored against itself an image prompt is the best picture there is:
        // its spherical distance to its own embedding is zero.
        let device = Device::Cpu;
        let clip = MiniClip::shipped(&device)?;
        let bank = Bank::draw(16, 64, 7, &device)?;
        let target = bank.pictures.narrow(0, 3, 1)?;
        let guide =
            Guide::new(&clip, &[])?.with_image_prompt("scene 3", &target, 1.0)?;
        let scores = guide.scores(&bank.pictures)?;
        assert!(scores[3].abs() < 1e-3, "{scores:?}");
        let best = (0..16).min_by(|&a, &b| scores[a].total_cmp(&scores[b]));
        assert_eq!(best, Some(3));
        let bad =
            Guide::new(&clip, &[])?.with_image_prompt("grey", &bank.pictures, 1.0);
        assert!(bad.err().unwrap().to_string().contains("[1, 3, h, w]"));
        Ok(())
    }
}
