//! `clip-art serve`: the lecture in a browser. One page (embedded: it works
//! offline) where a prompt becomes a picture, frame by frame, with the
//! guide's loss and the judge's verdict, and a gallery of the session.
//!
//! `POST /api/generate` takes a request (JSON) and answers with the job's
//! server-sent events, or 400 (what is wrong) or 429 (the line is full).
//! Leaving the page cancels the job.

mod jobs;
mod request;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;

use jobs::{Event, Queue};
use request::{MAX_PROMPT_CHARS, MAX_ROUNDS, MAX_STEPS, Offer, Request};

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on; the default takes connections from this
    /// machine only (0.0.0.0:8080 opens it to the network).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Jobs that may wait in line; a request beyond them is answered 429.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub queue: u16,
    /// Pictures made at once (each uses every core; 1 suits 2 cores).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub workers: u16,
    /// A job still running after this many seconds is stopped.
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub job_seconds: u64,
    /// Folder for the session's pictures (PNG with settings); only files
    /// this server wrote there are served.
    #[arg(long, default_value = "out/serve")]
    pub out: PathBuf,
    /// Offer VQGAN+CLIP with this taming VQGAN folder (model.yaml and
    /// last.ckpt, or model.safetensors).
    #[arg(long)]
    pub vqgan: Option<PathBuf>,
    /// Offer Big Sleep with this BigGAN-deep folder (config.json and
    /// pytorch_model.bin, or model.safetensors).
    #[arg(long)]
    pub biggan: Option<PathBuf>,
    /// Offer OpenAI's CLIP as a guide, from this folder (Hugging Face layout).
    #[arg(long)]
    pub clip: Option<PathBuf>,
}

struct Server {
    queue: Arc<Queue>,
    offer: Offer,
    workers: u16,
}

/// Runs `clip-art serve` until Ctrl-C.
pub fn serve(args: &ServeArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.out).with_context(|| {
        format!("cannot create the gallery folder {}", args.out.display())
    })?;
    let queue = Arc::new(Queue::new(
        args.queue.into(),
        Duration::from_secs(args.job_seconds),
        args.out.clone(),
    ));
    for _ in 0..args.workers {
        let queue = Arc::clone(&queue);
        std::thread::spawn(move || queue.work());
    }
    let server = Arc::new(Server {
        queue,
        offer: Offer::new(
            args.vqgan.clone(),
            args.biggan.clone(),
            args.clip.clone(),
        )?,
        workers: args.workers,
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .with_context(|| format!("cannot listen on {}", args.addr))?;
        let bound = listener.local_addr()?;
        println!("clip-art serve: open http://{bound}/");
        if bound.ip().is_loopback() {
            println!("(this machine only; --addr 0.0.0.0:{} opens it to the network)", bound.port());
        } else {
            println!("(open to the network: anyone who reaches this machine can use it)");
        }
        println!(
            "{} worker(s), {} place(s) in line, {} s per picture at most; pictures go to {}",
            args.workers,
            args.queue,
            args.job_seconds,
            args.out.display()
        );
        axum::serve(listener, router(server)).await?;
        anyhow::Ok(())
    })
}

fn router(server: Arc<Server>) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async {
                page("text/html; charset=utf-8", include_str!("page/index.html"))
            }),
        )
        .route(
            "/page.js",
            get(|| async {
                page(
                    "text/javascript; charset=utf-8",
                    include_str!("page/page.js"),
                )
            }),
        )
        .route(
            "/page.css",
            get(|| async {
                page("text/css; charset=utf-8", include_str!("page/page.css"))
            }),
        )
        .route("/api/options", get(options))
        .route("/api/status", get(status))
        .route("/api/gallery", get(gallery))
        .route("/api/generate", post(generate))
        .route("/gallery/{name}", get(picture))
        .with_state(server)
}

fn page(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn options(State(server): State<Arc<Server>>) -> Response {
    Json(json!({
        "generators": server.offer.generators(),
        "guides": server.offer.guides(),
        "max_prompt_chars": MAX_PROMPT_CHARS,
        "max_rounds": MAX_ROUNDS,
        "max_steps": MAX_STEPS,
    }))
    .into_response()
}

async fn status(State(server): State<Arc<Server>>) -> Response {
    Json(json!({ "workers": server.workers, "counts": server.queue.counts() }))
        .into_response()
}

async fn gallery(State(server): State<Arc<Server>>) -> Response {
    Json(server.queue.gallery()).into_response()
}

/// A PNG of the gallery, by the name the server gave it.
async fn picture(
    State(server): State<Arc<Server>>,
    Path(name): Path<String>,
) -> Response {
    let Some(file) = server.queue.gallery_file(&name) else {
        return refuse(
            StatusCode::NOT_FOUND,
            "no such picture in this session's gallery",
        );
    };
    match tokio::fs::read(&file).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, "image/png")], bytes).into_response(),
        Err(_) => refuse(StatusCode::NOT_FOUND, "the picture's file is gone"),
    }
}

/// Checks the request, queues it, and streams its events.
async fn generate(State(server): State<Arc<Server>>, body: String) -> Response {
    let request: Request = match serde_json::from_str(&body) {
        Ok(request) => request,
        Err(e) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                &format!("the request is not what the page sends: {e}"),
            );
        }
    };
    let checked = {
        let server = Arc::clone(&server);
        tokio::task::spawn_blocking(move || server.offer.check(&request)).await
    };
    let args = match checked {
        Ok(Ok(args)) => args,
        Ok(Err(message)) => return refuse(StatusCode::BAD_REQUEST, &message),
        Err(_) => {
            return refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the check of the request failed",
            );
        }
    };
    let (sender, receiver) = mpsc::channel(64);
    if let Err(jobs::Full(places)) = server.queue.submit(args, sender) {
        return refuse(
            StatusCode::TOO_MANY_REQUESTS,
            &format!("all {places} places in line are taken: try again in a minute"),
        );
    }
    let stream = ReceiverStream::new(receiver).map(|event: Event| {
        let data = serde_json::to_string(&event).unwrap_or_default();
        Ok::<_, Infallible>(SseEvent::default().event(event.name()).data(data))
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// An error the page shows: `{"error": message}`.
fn refuse(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}
