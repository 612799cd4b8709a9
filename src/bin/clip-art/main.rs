//! `clip-art`: the course's command line. Each command group has its own
//! file, with its flags; `main` only dispatches.

use clap::{Parser, Subcommand};

mod allocator;
mod basics;
mod book;
mod clip;
mod faces;
mod generate;
mod limits;
mod output;
mod prior;
mod reports;
mod serve;
mod shapes;
mod vq;
mod weights;

#[derive(Parser)]
#[command(
    name = "clip-art",
    version,
    about = "How CLIP generates art: the course's command line"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Chapter 1: print the one-hot table of a word ("LUKAS") or of tokens (--tokens).
    OneHot(basics::OneHotArgs),
    /// Chapter 2: train the 4-shape classifier from scratch and with candle, measure
    /// both on fresh images and save the loss plot.
    TrainShapes(shapes::TrainShapesArgs),
    /// Chapter 3: train the face autoencoder and the VAE (seeded) and save their
    /// weights; this is how the shipped weights/ files were made.
    TrainFaces(faces::TrainFacesArgs),
    /// Chapters 3–4: measure the judge, the autoencoder, the VAE and latent
    /// arithmetic (every figure the course claims) and save the pictures.
    FacesReport(faces::FacesReportArgs),
    /// Chapter 5: train mini-CLIP on captioned scenes (seeded), measure it and
    /// save its weights; this is how the shipped weights/mini-clip.safetensors
    /// (seed 0) and mini-clip-seed1/-seed2.safetensors were made.
    TrainClip(clip::TrainClipArgs),
    /// Chapter 5: measure mini-CLIP on fresh scenes: zero-shot top-1 (trained and
    /// held-out colour–shape pairs), retrieval recall@1/@5, and captions against
    /// their hard negatives.
    ClipReport(clip::ClipReportArgs),
    /// Chapter 5: zero-shot classification of a picture: rank the labels by how
    /// well "a picture of a {label}" (OpenAI's CLIP: "a photo of a {label}.") fits
    /// it, as in the lecture.
    ZeroShot(clip::ZeroShotArgs),
    /// Chapter 6, the main job: generate a picture for a prompt with CLIP
    /// guidance (default: from noise, the three mini-CLIPs searching the
    /// layered generator), graded by the judge.
    Generate(Box<generate::GenerateArgs>),
    /// Chapter 6: measure generation with the judge: success rate per kind of
    /// prompt (and on held-out colour–shape pairs), time per picture, from
    /// noise and by retrieval, the ablation over generators and starts, and
    /// the targets.
    GenerateReport(reports::GenerateReportArgs),
    /// Chapter 6: measure generation from noise with the judge: the layered
    /// generator's N(0, 1) samples, and its search on the test prompts of
    /// generate-report beside retrieval from drawn scenes.
    NoiseReport(reports::NoiseReportArgs),
    /// Chapter 6: mini-CLIP against the robust mini-CLIP (trained on PGD
    /// perturbations), each guiding raw pixels and the layered generator,
    /// judged.
    RobustReport(reports::RobustReportArgs),
    /// Chapter 6: StyleGAN-NADA's fine-tuning — a copy of the layered
    /// generator tuned by the guide from a source text to a target text
    /// ("circle → square"), with no picture of the target; judged.
    NadaReport(reports::NadaReportArgs),
    /// Chapter 7: measure editing (recolour a drawn shape, keep its shape and
    /// place) by each method, and generation from image prompts, with the judge.
    EditReport(reports::EditReportArgs),
    /// Chapter 6: train the VQ decoder (encoder, codebook, decoder) on captioned
    /// scenes (seeded); this is how the shipped weights/scenes-vq.safetensors was made.
    TrainVq(vq::TrainVqArgs),
    /// Chapter 6: train the scene prior (a scene autoencoder with a palette
    /// decoder, then a VAE of its latents), seeded; measures its N(0, 1)
    /// samples with the judge. Makes the shipped weights/scenes-prior.safetensors.
    TrainPrior(prior::TrainPriorArgs),
    /// Regenerate the book's figures and measured tables (book/src/generated).
    BookFigures(book::BookFiguresArgs),
    /// The lecture in a browser: a page where a prompt becomes a picture,
    /// frame by frame, judged, with a gallery of the session (default
    /// http://127.0.0.1:8080/).
    Serve(serve::ServeArgs),
    /// Chapter 8: the real models' published weights: `list` what is cached,
    /// `fetch NAME` (with the `hub` feature) from its mirrors in turn.
    Weights(weights::WeightsArgs),
}

fn main() -> std::process::ExitCode {
    allocator::keep_freed_memory();
    let command = Cli::parse().command;
    // These are quick, or (train-shapes) the lesson's own training loops, or
    // (serve) a server, whose Ctrl-C ends it at once.
    let quick = matches!(
        command,
        Command::OneHot(_)
            | Command::ZeroShot(_)
            | Command::TrainShapes(_)
            | Command::Serve(_)
    );
    let handler = output::stop_on_ctrl_c(!quick);
    output::exit_code(handler.and_then(|()| run(command)))
}

fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::OneHot(args) => basics::one_hot(&args),
        Command::TrainShapes(args) => shapes::train_shapes(&args),
        Command::TrainFaces(args) => faces::train_faces(&args),
        Command::FacesReport(args) => faces::faces_report(&args),
        Command::TrainClip(args) => clip::train_clip(&args),
        Command::ClipReport(args) => clip::clip_report(&args),
        Command::ZeroShot(args) => clip::zero_shot(&args),
        Command::Generate(args) => generate::generate(&args),
        Command::GenerateReport(args) => reports::generate_report(&args),
        Command::NoiseReport(args) => reports::noise_report(&args),
        Command::RobustReport(args) => reports::robust_report(&args),
        Command::NadaReport(args) => reports::nada_report(&args),
        Command::EditReport(args) => reports::edit_report(&args),
        Command::TrainVq(args) => vq::train_vq(&args),
        Command::TrainPrior(args) => prior::train_prior(&args),
        Command::BookFigures(args) => book::book_figures(&args),
        Command::Serve(args) => serve::serve(&args),
        Command::Weights(args) => weights::weights(&args),
    }
}
