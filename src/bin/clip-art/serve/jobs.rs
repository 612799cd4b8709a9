//! The job queue behind `clip-art serve`: a bounded line of waiting jobs and
//! a fixed number of worker threads that run them one at a time each. A job
//! whose client has left is dropped (waiting) or stopped (running); a job that
//! runs past its time limit is stopped and reported.

use std::collections::VecDeque;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use image::RgbImage;
use serde::Serialize;
use tokio::sync::mpsc;

use clip_art::files::{Existing, OutputFile, name_from_text};
use clip_art::viz::picture::{Picture, png_with_text};

use crate::generate::{self, GenerateArgs};

/// What a client hears about its job, in order: its place in the line
/// (again whenever it moves up), the start, frames, then one of the ends.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Queued {
        position: usize,
    },
    Started {
        id: u64,
    },
    Frame {
        done: usize,
        total: usize,
        loss: f32,
        png: String,
    },
    Done(Finished),
    Failed {
        message: String,
    },
}

impl Event {
    /// The server-sent event's name.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Queued { .. } => "queued",
            Event::Started { .. } => "started",
            Event::Frame { .. } => "frame",
            Event::Done(_) => "done",
            Event::Failed { .. } => "failed",
        }
    }
}

/// A finished picture, as the gallery lists it.
#[derive(Debug, Clone, Serialize)]
pub struct Finished {
    pub id: u64,
    pub prompt: String,
    /// Where the PNG (settings in its text chunks) is served: `/gallery/NAME`.
    pub picture: String,
    /// The judge's verdict, when it can read the prompt.
    pub verdict: Option<String>,
    pub settings: String,
    pub seconds: f32,
}

/// A request waiting for a worker.
pub struct Job {
    pub id: u64,
    pub args: GenerateArgs,
    events: mpsc::Sender<Event>,
}

/// How many jobs went which way since the server started; `accepted` ends
/// as exactly one of finished, failed, cancelled or timed out.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    pub accepted: u64,
    pub rejected: u64,
    pub started: u64,
    pub finished: u64,
    pub failed: u64,
    pub cancelled: u64,
    pub timed_out: u64,
    pub waiting: usize,
    pub running: usize,
}

/// The line is full: the client should come back later (HTTP 429).
#[derive(Debug)]
pub struct Full(pub usize);

/// The bounded line of jobs, the gallery of results, and the counts.
pub struct Queue {
    state: Mutex<State>,
    ready: Condvar,
    capacity: usize,
    time_limit: Duration,
    gallery_folder: PathBuf,
}

#[derive(Default)]
struct State {
    waiting: VecDeque<Job>,
    next_id: u64,
    counts: Counts,
    gallery: Vec<Finished>,
}

impl Queue {
    pub fn new(
        capacity: usize,
        time_limit: Duration,
        gallery_folder: PathBuf,
    ) -> Queue {
        Queue {
            state: Mutex::new(State {
                next_id: 1,
                ..State::default()
            }),
            ready: Condvar::new(),
            capacity,
            time_limit,
            gallery_folder,
        }
    }

    /// Puts a job in line, or says the line is full. Jobs whose clients
    /// left do not hold places.
    pub fn submit(
        &self,
        args: GenerateArgs,
        events: mpsc::Sender<Event>,
    ) -> Result<u64, Full> {
        let mut state = self.lock();
        let before = state.waiting.len();
        state.waiting.retain(|job| !job.events.is_closed());
        state.counts.cancelled += (before - state.waiting.len()) as u64;
        if state.waiting.len() >= self.capacity {
            state.counts.rejected += 1;
            return Err(Full(self.capacity));
        }
        let id = state.next_id;
        state.next_id += 1;
        state.counts.accepted += 1;
        let _ = events.try_send(Event::Queued {
            position: state.waiting.len() + 1,
        });
        state.waiting.push_back(Job { id, args, events });
        state.counts.waiting = state.waiting.len();
        self.ready.notify_one();
        Ok(id)
    }

    pub fn counts(&self) -> Counts {
        self.lock().counts.clone()
    }

    /// The session's pictures, newest first.
    pub fn gallery(&self) -> Vec<Finished> {
        self.lock().gallery.iter().rev().cloned().collect()
    }

    /// The file behind a gallery name, only if this server wrote it.
    pub fn gallery_file(&self, name: &str) -> Option<PathBuf> {
        let state = self.lock();
        let known = state
            .gallery
            .iter()
            .any(|f| f.picture.strip_prefix("/gallery/") == Some(name));
        known.then(|| self.gallery_folder.join(name))
    }

    /// A worker: takes the next job whose client is still there, forever.
    pub fn work(&self) {
        loop {
            let job = self.next();
            self.run(job);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A worker that panicked left the counts as they were: keep serving.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for a job; tells those still in line their new places.
    fn next(&self) -> Job {
        let mut state = self.lock();
        loop {
            while let Some(job) = state.waiting.pop_front() {
                if job.events.is_closed() {
                    state.counts.cancelled += 1;
                    continue;
                }
                for (place, waiting) in state.waiting.iter().enumerate() {
                    let _ = waiting.events.try_send(Event::Queued {
                        position: place + 1,
                    });
                }
                state.counts.waiting = state.waiting.len();
                state.counts.started += 1;
                state.counts.running += 1;
                return job;
            }
            state.counts.waiting = 0;
            state = self.ready.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Runs one job, streaming its frames; ends it with exactly one count.
    fn run(&self, job: Job) {
        let _ = job.events.blocking_send(Event::Started { id: job.id });
        let deadline = Instant::now() + self.time_limit;
        let (mut left, mut late) = (false, false);
        let mut watch = |seen: generate::Seen| {
            if let Some(frame) = seen.frame {
                let frame = Event::Frame {
                    done: seen.done,
                    total: seen.total,
                    loss: seen.loss,
                    png: data_url(frame),
                };
                // A slow client misses frames rather than holding the worker.
                let _ = job.events.try_send(frame);
            }
            left = job.events.is_closed();
            late = Instant::now() > deadline;
            if left || late {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        };
        // A bug in one job is that job's error; the worker goes on.
        let made = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            generate::make(&job.args, true, &mut watch)
        }))
        .unwrap_or_else(|_| {
            Err(anyhow::anyhow!("the job failed inside the server (a bug)"))
        });
        let outcome = match made {
            _ if left => Outcome::Cancelled,
            Ok(_) if late => Outcome::TimedOut,
            Ok(made) => match self.publish(&job, &made) {
                Ok(finished) => Outcome::Finished(finished),
                Err(e) => Outcome::Failed(format!("{e:#}")),
            },
            Err(e) => Outcome::Failed(format!("{e:#}")),
        };
        if let Some(event) = self.record(outcome) {
            let _ = job.events.blocking_send(event);
        }
    }

    /// Counts how a job ended (and adds a picture to the gallery); what its
    /// client hears, if it is still there.
    fn record(&self, outcome: Outcome) -> Option<Event> {
        let mut state = self.lock();
        state.counts.running -= 1;
        match outcome {
            Outcome::Cancelled => {
                state.counts.cancelled += 1;
                None
            }
            Outcome::TimedOut => {
                state.counts.timed_out += 1;
                Some(Event::Failed {
                    message: format!(
                        "stopped at the time limit of {} s per picture: ask for fewer steps",
                        self.time_limit.as_secs()
                    ),
                })
            }
            Outcome::Failed(message) => {
                state.counts.failed += 1;
                Some(Event::Failed { message })
            }
            Outcome::Finished(finished) => {
                state.counts.finished += 1;
                state.gallery.push(finished.clone());
                Some(Event::Done(finished))
            }
        }
    }

    /// Writes the PNG, as `generate` writes it, into the gallery folder.
    fn publish(&self, job: &Job, made: &generate::Made) -> anyhow::Result<Finished> {
        let prompt = job.args.prompt.clone().unwrap_or_default();
        let name = format!("{}-{}.png", job.id, name_from_text(&prompt, "picture"));
        let file =
            OutputFile::check(self.gallery_folder.join(&name), Existing::Replace)?;
        generate::write_outputs(&job.args, (&file, None), &made.run, &made.text)?;
        let settings = made
            .text
            .iter()
            .find(|(key, _)| *key == "clip-art settings")
            .map(|(_, value)| value.clone())
            .unwrap_or_default();
        Ok(Finished {
            id: job.id,
            prompt,
            picture: format!("/gallery/{name}"),
            verdict: made.verdict.clone(),
            settings,
            seconds: made.run.seconds,
        })
    }
}

enum Outcome {
    Finished(Finished),
    Failed(String),
    Cancelled,
    TimedOut,
}

/// A frame as the page shows it: a PNG, 4× enlarged, in a data URL.
fn data_url(frame: &RgbImage) -> String {
    let shown = Picture(frame.clone()).scaled(4);
    let bytes = png_with_text(&shown.0, &[]).unwrap_or_default();
    format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}
