//! Several CLIPs guiding as one, as pixray and Disco Diffusion guide with
//! ViT-B/32, ViT-B/16 and RN50 together: what one model gets wrong the others
//! often do not.

use anyhow::{bail, ensure};
use candle_core::{Device, Tensor};

use super::Clip;
use super::loss::l2_normalize;

// ANCHOR: ensemble
/// CLIPs that see pictures of the same size, scored together. An embedding is
/// every member's unit embedding, side by side, divided by √n: the cosine of
/// two such embeddings is the mean of the members' cosines. The members share
/// one type rather than being boxed trait objects: evcxr compiles each notebook
/// cell with its own copy of candle, and a trait object made in an earlier cell
/// would number its tensors with that copy's counter, clashing in backprop.
pub struct Ensemble<C> {
    members: Vec<C>,
}

impl<C: Clip> Ensemble<C> {
    pub fn new(members: Vec<C>) -> anyhow::Result<Ensemble<C>> {
        let Some(first) = members.first() else {
            bail!("an ensemble needs at least one CLIP");
        };
        for (k, member) in members.iter().enumerate() {
            ensure!(
                member.image_size() == first.image_size(),
                "CLIP {k} of the ensemble sees {0}×{0} pictures, \
                 CLIP 0 sees {1}×{1}",
                member.image_size(),
                first.image_size()
            );
            ensure!(
                member.device().same_device(first.device()),
                "CLIP {k} of the ensemble is on another device than CLIP 0"
            );
        }
        Ok(Ensemble { members })
    }

    /// Every member's unit embedding of the same input, side by side, over √n.
    fn side_by_side(
        &self,
        embed: impl Fn(&C) -> anyhow::Result<Tensor>,
    ) -> anyhow::Result<Tensor> {
        let parts = self
            .members
            .iter()
            .map(|m| Ok(l2_normalize(&embed(m)?)?))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let scale = (self.members.len() as f64).sqrt().recip();
        Ok(Tensor::cat(&parts, 1)?.affine(scale, 0.0)?)
    }
}
// ANCHOR_END: ensemble

// ANCHOR: ensemble_clip
impl<C: Clip> Clip for Ensemble<C> {
    fn device(&self) -> &Device {
        self.members[0].device()
    }

    fn image_size(&self) -> usize {
        self.members[0].image_size()
    }

    fn image_embeddings(&self, pictures: &Tensor) -> anyhow::Result<Tensor> {
        self.side_by_side(|m| m.image_embeddings(pictures))
    }

    fn text_embeddings(&self, texts: &[&str]) -> anyhow::Result<Tensor> {
        self.side_by_side(|m| m.text_embeddings(texts))
    }

    /// The members' mean.
    fn logit_scale(&self) -> anyhow::Result<f32> {
        let scales = self
            .members
            .iter()
            .map(|m| m.logit_scale())
            .collect::<anyhow::Result<Vec<f32>>>()?;
        Ok(scales.iter().sum::<f32>() / scales.len() as f32)
    }

    fn picture(&self, image: &image::DynamicImage) -> anyhow::Result<Tensor> {
        self.members[0].picture(image)
    }
}
// ANCHOR_END: ensemble_clip

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clip::mini::{Config, MiniClip};
    use crate::nn::weights::seed_weights;
    use candle_core::{DType, Var};
    use candle_nn::{VarBuilder, VarMap};

    fn member(image_size: usize, seed: u64) -> anyhow::Result<MiniClip> {
        let varmap = VarMap::new();
        let cfg = Config {
            image_size,
            channels: [4, 8, 8],
            features: 16,
            embedding: 8,
            ..Config::default()
        };
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        let model = MiniClip::new(vb, &cfg)?;
        seed_weights(&varmap, seed)?;
        Ok(model)
    }

    fn cosine(
        clip: &dyn Clip,
        pictures: &Tensor,
        text: &str,
    ) -> anyhow::Result<Tensor> {
        let image = l2_normalize(&clip.image_embeddings(pictures)?)?;
        let text = l2_normalize(&clip.text_embeddings(&[text])?)?;
        Ok(image.matmul(&text.t()?)?.squeeze(1)?)
    }

    #[test]
    fn scores_and_gradients_are_the_members_means() -> anyhow::Result<()> {
        let pictures = Var::rand(0f32, 1.0, (2, 3, 16, 16), &Device::Cpu)?;
        let text = "a red circle above a blue square";
        let members = [member(16, 1)?, member(16, 2)?, member(16, 3)?];
        let each = members
            .iter()
            .map(|m| cosine(m, &pictures, text))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mean = (Tensor::stack(&each, 0)?.sum(0)? / 3.0)?;
        let member_gradient = mean.sum_all()?.backward()?;
        let gap = |a: &Tensor, b: &Tensor| crate::nn::compare::max_difference(a, b);
        let ensemble = Ensemble::new(members.into())?;
        let together = cosine(&ensemble, &pictures, text)?;
        // Already unit length: the plain dot product is the mean cosine too.
        let norms = ensemble
            .image_embeddings(&pictures)?
            .sqr()?
            .sum(1)?
            .sqrt()?;
        assert!(gap(&norms, &norms.ones_like()?)? < 1e-6, "{norms}");
        let gradient = together.sum_all()?.backward()?;
        assert!(gap(&together, &mean)? < 1e-6, "{together} vs {mean}");
        let (a, b) = (
            gradient.get(&pictures).expect("gradient"),
            member_gradient.get(&pictures).expect("gradient"),
        );
        let largest = b.abs()?.max_all()?.to_scalar::<f32>()?;
        assert!(largest > 0.0 && gap(a, b)? < 1e-5 * largest, "{a} vs {b}");
        Ok(())
    }

    #[test]
    fn members_must_see_the_same_pictures() -> anyhow::Result<()> {
        let error = Ensemble::new(vec![member(16, 1)?, member(24, 2)?])
            .err()
            .expect("sizes differ")
            .to_string();
        assert!(
            error.contains("24×24") && error.contains("16×16"),
            "{error}"
        );
        assert!(Ensemble::<MiniClip>::new(Vec::new()).is_err());
        Ok(())
    }
}
