//! What the page may ask for, checked before a job is queued. The client
//! chooses among names the server offers; it never names a file.

use std::path::PathBuf;

use clap::Parser;
use serde::{Deserialize, Serialize};

use clip_art::clip::mini::MiniClip;
use clip_art::guide::engine::Guide;
use clip_art::guide::prompts::Prompt;

use crate::generate::GenerateArgs;

/// The longest prompt the page takes, in characters.
pub const MAX_PROMPT_CHARS: usize = 300;
/// The most search rounds (layers) a job may ask for.
pub const MAX_ROUNDS: usize = 50;
/// The most optimiser steps (the other generators) a job may ask for.
pub const MAX_STEPS: usize = 500;

/// A request from the page (JSON).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub prompt: String,
    #[serde(default = "default_generator")]
    pub generator: String,
    #[serde(default = "default_guide")]
    pub guide: String,
    #[serde(default)]
    pub seed: u64,
    /// Rounds of the search (layers) or optimiser steps; the generator's
    /// preset when left out.
    #[serde(default)]
    pub steps: Option<usize>,
}

fn default_generator() -> String {
    "layers".into()
}

fn default_guide() -> String {
    "mini-ensemble".into()
}

/// A choice the page shows: the value sent back and its label.
#[derive(Debug, Clone, Serialize)]
pub struct Choice {
    pub value: &'static str,
    pub label: &'static str,
}

/// What this server can run: the shipped models, and the real ones whose
/// folders were given on its command line.
pub struct Offer {
    pub vqgan: Option<PathBuf>,
    pub biggan: Option<PathBuf>,
    pub clip: Option<PathBuf>,
    /// The shipped mini-CLIP, to check a prompt's words before queuing it.
    vocabulary: MiniClip,
}

impl Offer {
    pub fn new(
        vqgan: Option<PathBuf>,
        biggan: Option<PathBuf>,
        clip: Option<PathBuf>,
    ) -> anyhow::Result<Offer> {
        let vocabulary = MiniClip::shipped(&candle_core::Device::Cpu)?;
        Ok(Offer {
            vqgan,
            biggan,
            clip,
            vocabulary,
        })
    }

    pub fn generators(&self) -> Vec<Choice> {
        let mut choices = vec![
            Choice {
                value: "layers",
                label: "layered generator, from noise (default)",
            },
            Choice {
                value: "vq",
                label: "VQ decoder, from random codes",
            },
            Choice {
                value: "retrieve",
                label: "retrieval: VQ decoder from the best drawn scene",
            },
            Choice {
                value: "pixels",
                label: "raw pixels (no prior: fools the guide)",
            },
            Choice {
                value: "fourier",
                label: "Fourier coefficients (no prior)",
            },
            Choice {
                value: "pixel-draw",
                label: "PixelDraw, 4×4 cells (no prior)",
            },
        ];
        if self.vqgan.is_some() {
            choices.push(Choice {
                value: "vqgan",
                label: "VQGAN+CLIP: the taming VQGAN given to the server",
            });
        }
        if self.biggan.is_some() {
            choices.push(Choice {
                value: "biggan",
                label: "Big Sleep: the BigGAN-deep given to the server",
            });
        }
        choices
    }

    pub fn guides(&self) -> Vec<Choice> {
        let mut choices = vec![
            Choice {
                value: "mini-ensemble",
                label: "three mini-CLIPs together (default)",
            },
            Choice {
                value: "mini",
                label: "one mini-CLIP",
            },
        ];
        if self.clip.is_some() {
            choices.push(Choice {
                value: "openai",
                label: "OpenAI's CLIP, given to the server",
            });
        }
        choices
    }

    /// The request as `clip-art generate`'s flags, or what is wrong with it
    /// (a sentence for the page).
    pub fn check(&self, request: &Request) -> Result<GenerateArgs, String> {
        let prompt = request.prompt.trim();
        if prompt.is_empty() {
            return Err("the prompt is empty: say what to draw, e.g. \"a red circle above a blue square\"".into());
        }
        let length = prompt.chars().count();
        if length > MAX_PROMPT_CHARS {
            return Err(format!(
                "the prompt has {length} characters; at most {MAX_PROMPT_CHARS} are taken"
            ));
        }
        let prompts = Prompt::parse_all(prompt).map_err(|e| e.to_string())?;
        let mut flags: Vec<String> = vec!["generate".into()];
        flags.extend(self.generator_flags(&request.generator)?);
        flags.extend(self.guide_flags(&request.guide, &prompts)?);
        if let Some(steps) = request.steps {
            let (what, most) = match request.generator.as_str() {
                "layers" => ("search rounds", MAX_ROUNDS),
                _ => ("steps", MAX_STEPS),
            };
            if !(1..=most).contains(&steps) {
                return Err(format!("{what} must be from 1 to {most}, got {steps}"));
            }
            flags.extend(["--steps".into(), steps.to_string()]);
        }
        flags.extend(["--seed".into(), request.seed.to_string()]);
        flags.extend(["--".into(), prompt.into()]);
        let parsed = Flags::try_parse_from(&flags).map_err(|e| {
            let message = e.to_string();
            let first = message.lines().next().unwrap_or_default();
            first.trim_start_matches("error: ").to_string()
        })?;
        Ok(parsed.args)
    }

    /// `--generator …` for a generator this server offers.
    fn generator_flags(&self, generator: &str) -> Result<Vec<String>, String> {
        let flags: Vec<&str> = match generator {
            "retrieve" => vec!["--generator", "vq", "--start", "retrieve"],
            "vqgan" | "biggan" => {
                let (folder, missing) = match generator {
                    "vqgan" => (
                        &self.vqgan,
                        "this server has no VQGAN: start it with --vqgan DIR to offer VQGAN+CLIP",
                    ),
                    _ => (
                        &self.biggan,
                        "this server has no BigGAN: start it with --biggan DIR to offer Big Sleep",
                    ),
                };
                let folder = folder.as_ref().ok_or(missing)?;
                return Ok(vec![
                    "--generator".into(),
                    generator.into(),
                    format!("--{generator}"),
                    path(folder),
                ]);
            }
            kind if self.generators().iter().any(|c| c.value == kind) => {
                vec!["--generator", kind]
            }
            other => {
                let offered: Vec<&str> =
                    self.generators().iter().map(|c| c.value).collect();
                return Err(format!(
                    "unknown generator {other:?}: this server offers {}",
                    offered.join(", ")
                ));
            }
        };
        Ok(flags.into_iter().map(String::from).collect())
    }

    /// `--clip …` for a guide this server offers; a mini-CLIP must know
    /// every word (refused now, not after a wait in line).
    fn guide_flags(
        &self,
        guide: &str,
        prompts: &[Prompt],
    ) -> Result<Vec<String>, String> {
        match guide {
            "mini-ensemble" | "mini" => {
                Guide::new(&self.vocabulary, prompts).map_err(|e| e.to_string())?;
                Ok(vec!["--clip".into(), guide.into()])
            }
            "openai" => {
                let folder = self.clip.as_ref().ok_or(
                    "this server has no OpenAI CLIP: start it with --clip DIR to offer it",
                )?;
                Ok(vec!["--clip".into(), path(folder)])
            }
            other => {
                let offered: Vec<&str> =
                    self.guides().iter().map(|c| c.value).collect();
                Err(format!(
                    "unknown guide {other:?}: this server offers {}",
                    offered.join(", ")
                ))
            }
        }
    }
}

/// `generate`'s flags, parsed as the command line parses them.
#[derive(Parser)]
struct Flags {
    #[command(flatten)]
    args: GenerateArgs,
}

fn path(folder: &std::path::Path) -> String {
    folder.display().to_string()
}
