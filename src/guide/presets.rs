//! The generators CLIP can steer, by name, with the settings each works best
//! with: one place that the command line, the reports and the notebooks read.

use std::fmt;
use std::str::FromStr;

use candle_core::Device;
use rand::Rng;

use super::cutouts::{Cutouts, Resampling};
use super::generate::Settings;
use super::generators::{Fourier, Generator, PixelDraw, RawPixels};
use super::layers::SearchSettings;

/// Which generator guidance optimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeneratorKind {
    /// The VQ decoder trained on scenes (codebook + straight-through), started
    /// from the bank scenes the guide ranks best.
    Vq,
    /// Every pixel free.
    Pixels,
    /// Cosine-basis coefficients (smooth pictures).
    Fourier,
    /// PixelDraw: cells of 4×4 pixels, each a mix of a small palette.
    PixelDraw,
    /// A taming VQGAN (VQGAN+CLIP's generator), from random codes: its
    /// weights come from a folder ([`super::vqgan`]).
    Vqgan,
    /// The layered generator, from noise: searched, not stepped
    /// ([`super::layers::search`]).
    Layers,
    /// BigGAN-deep steered by Big Sleep's loop ([`super::biggan`]): its
    /// weights come from a folder.
    Biggan,
}

/// PixelDraw's cells are this many pixels wide.
const PIXEL_DRAW_CELL: usize = 4;
/// Fourier's coefficients per side.
const FOURIER_FREQUENCIES: usize = 16;

impl GeneratorKind {
    pub const ALL: [GeneratorKind; 7] = [
        GeneratorKind::Vq,
        GeneratorKind::Pixels,
        GeneratorKind::Fourier,
        GeneratorKind::PixelDraw,
        GeneratorKind::Vqgan,
        GeneratorKind::Layers,
        GeneratorKind::Biggan,
    ];

    /// The name `--generator` takes.
    pub fn flag(self) -> &'static str {
        match self {
            GeneratorKind::Vq => "vq",
            GeneratorKind::Pixels => "pixels",
            GeneratorKind::Fourier => "fourier",
            GeneratorKind::PixelDraw => "pixel-draw",
            GeneratorKind::Vqgan => "vqgan",
            GeneratorKind::Layers => "layers",
            GeneratorKind::Biggan => "biggan",
        }
    }

    /// The name the measured tables print.
    pub fn name(self) -> &'static str {
        match self {
            GeneratorKind::Vq => "VQ decoder",
            GeneratorKind::Pixels => "raw pixels",
            GeneratorKind::Fourier => "Fourier",
            GeneratorKind::PixelDraw => "PixelDraw (16×16 cells)",
            GeneratorKind::Vqgan => "VQGAN (taming)",
            GeneratorKind::Layers => "layered generator (searched)",
            GeneratorKind::Biggan => "BigGAN-deep (Big Sleep)",
        }
    }

    /// The settings this generator is run with by default, for a guide that
    /// sees `clip_size`×`clip_size` pictures. The VQ decoder takes small steps
    /// from good starts ([`Settings::new`]); free generators start from noise
    /// and need many large ones: 150 steps at 0.1. The VQGAN takes the
    /// notebooks' learning rate, 0.1, for 100 steps, and their resampling
    /// of the views ([`Resampling::Lanczos`]); BigGAN takes Big Sleep's, 0.07,
    /// for 100 steps, and its nearest-neighbour views.
    pub fn settings(self, clip_size: usize) -> Settings {
        self.tuned(&Settings::new(clip_size))
    }

    /// `base` with this generator's steps, learning rate and starts; its
    /// views and seed stay. The layered generator's steps are the search's
    /// rounds and its restarts the starts it searches from.
    pub fn tuned(self, base: &Settings) -> Settings {
        let search = SearchSettings::default();
        let (steps, learning_rate, restarts) = match self {
            GeneratorKind::Vq => {
                let vq = Settings::new(0);
                (vq.steps, vq.learning_rate, 1)
            }
            GeneratorKind::Vqgan => (100, 0.1, 1),
            GeneratorKind::Biggan => (100, 0.07, 1),
            GeneratorKind::Layers => {
                (search.rounds, base.learning_rate, search.starts)
            }
            _ => (150, 0.1, 1),
        };
        // The real generators' views are resampled as their notebooks do.
        let cutouts = base.cutouts.clone().map(|cutouts| match self {
            GeneratorKind::Vqgan => Cutouts {
                resampling: Resampling::Lanczos,
                ..cutouts
            },
            GeneratorKind::Biggan => Cutouts {
                resampling: Resampling::Nearest,
                ..cutouts
            },
            _ => cutouts,
        });
        Settings {
            steps,
            learning_rate,
            restarts,
            cutouts,
            ..base.clone()
        }
    }

    /// A fresh generator of pictures `size`×`size`, drawn from `rng`. The VQ
    /// decoder is a trained model and starts from a bank instead
    /// ([`super::generate::generate`]), so it is not made here.
    pub fn fresh(
        self,
        size: usize,
        rng: &mut impl Rng,
        device: &Device,
    ) -> anyhow::Result<Box<dyn Generator>> {
        Ok(match self {
            GeneratorKind::Vq => {
                anyhow::bail!("the VQ decoder starts from a bank, not from noise")
            }
            GeneratorKind::Vqgan => {
                anyhow::bail!("the VQGAN needs its weights: see guide::vqgan")
            }
            GeneratorKind::Biggan => {
                anyhow::bail!("BigGAN needs its weights: see guide::biggan")
            }
            GeneratorKind::Layers => {
                anyhow::bail!("the layered generator is searched: see guide::layers")
            }
            GeneratorKind::Pixels => Box::new(RawPixels::new(size, rng, device)?),
            GeneratorKind::Fourier => {
                Box::new(Fourier::new(size, FOURIER_FREQUENCIES, rng, device)?)
            }
            GeneratorKind::PixelDraw => {
                anyhow::ensure!(
                    size % PIXEL_DRAW_CELL == 0,
                    "pixel-draw needs a size divisible by {PIXEL_DRAW_CELL}, got {size}"
                );
                Box::new(PixelDraw::new(
                    size / PIXEL_DRAW_CELL,
                    PIXEL_DRAW_CELL,
                    None,
                    rng,
                    device,
                )?)
            }
        })
    }
}

impl fmt::Display for GeneratorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.flag())
    }
}

impl FromStr for GeneratorKind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        GeneratorKind::ALL
            .into_iter()
            .find(|kind| kind.flag() == text)
            .ok_or_else(|| {
                let names: Vec<&str> =
                    GeneratorKind::ALL.iter().map(|k| k.flag()).collect();
                format!(
                    "unknown generator {text:?}: choose one of {}",
                    names.join(", ")
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn names_round_trip_and_unknown_ones_are_refused() {
        for kind in GeneratorKind::ALL {
            assert_eq!(kind.flag().parse::<GeneratorKind>(), Ok(kind));
        }
        let error = "stylegan".parse::<GeneratorKind>().unwrap_err();
        assert!(
            error.contains("vq, pixels, fourier, pixel-draw, vqgan, layers, biggan"),
            "{error}"
        );
    }

    #[test]
    fn free_generators_draw_pictures_of_the_asked_size() -> anyhow::Result<()> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        for kind in [
            GeneratorKind::Pixels,
            GeneratorKind::Fourier,
            GeneratorKind::PixelDraw,
        ] {
            let picture = kind.fresh(32, &mut rng, &Device::Cpu)?.render()?;
            assert_eq!(picture.dims(), [1, 3, 32, 32], "{kind}");
            assert_eq!(kind.settings(64).steps, 150);
        }
        assert!(
            GeneratorKind::PixelDraw
                .fresh(30, &mut rng, &Device::Cpu)
                .is_err()
        );
        assert!(GeneratorKind::Vq.fresh(64, &mut rng, &Device::Cpu).is_err());
        assert_eq!(GeneratorKind::Vq.settings(64), Settings::new(64));
        Ok(())
    }
}
