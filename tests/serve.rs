//! `clip-art serve` over HTTP on loopback, as the page and a crowd of clients
//! use it: a prompt becomes frames and the very picture `generate` makes; bad
//! requests are refused with a reason; only the gallery's own files are
//! served; a client that leaves cancels its job; a job past its time limit
//! stops; and under 20 clients at once every request is answered.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// A server on a free loopback port, stopped when dropped.
struct Server {
    child: Child,
    url: String,
    /// Kept open: the server prints more lines after the first.
    _stdout: BufReader<std::process::ChildStdout>,
    _gallery: tempfile::TempDir,
}

impl Server {
    fn start(flags: &[&str]) -> Server {
        let gallery = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_clip-art"))
            .args(["serve", "--addr", "127.0.0.1:0", "--out"])
            .arg(gallery.path())
            .args(flags)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        let url = first
            .trim()
            .strip_prefix("clip-art serve: open ")
            .unwrap_or_else(|| panic!("unexpected first line: {first:?}"))
            .trim_end_matches('/')
            .to_string();
        Server {
            child,
            url,
            _stdout: stdout,
            _gallery: gallery,
        }
    }

    fn status(&self) -> Value {
        ureq::get(&format!("{}/api/status", self.url))
            .call()
            .unwrap()
            .into_json::<Value>()
            .unwrap()["counts"]
            .clone()
    }

    /// The server's peak resident memory, in MiB (Linux).
    fn peak_mib(&self) -> f64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
                .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }

    /// Waits until the counts satisfy `done`.
    fn wait_for(&self, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let counts = self.status();
            if done(&counts) || Instant::now() > deadline {
                return counts;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The answer to a request: its status, and for 200 the events (with when
/// each arrived), else the error message.
struct Answer {
    status: u16,
    events: Vec<(Instant, Value)>,
    error: String,
}

fn ask(server: &Server, request: Value) -> Answer {
    ask_until(server, request, |_| false)
}

/// Posts `request` and reads its events until the stream ends or `stop`
/// says so, then leaves.
fn ask_until(
    server: &Server,
    request: Value,
    stop: impl Fn(&Value) -> bool,
) -> Answer {
    let response = ureq::post(&format!("{}/api/generate", server.url))
        .set("Content-Type", "application/json")
        .send_string(&request.to_string());
    let response = match response {
        Ok(response) => response,
        Err(ureq::Error::Status(status, response)) => {
            let body: Value = response.into_json().unwrap();
            return Answer {
                status,
                events: Vec::new(),
                error: body["error"].as_str().unwrap().to_string(),
            };
        }
        Err(e) => panic!("{e}"),
    };
    assert_eq!(response.content_type(), "text/event-stream");
    let mut events = Vec::new();
    for line in BufReader::new(response.into_reader()).lines() {
        let Some(data) = line.unwrap().strip_prefix("data: ").map(str::to_string)
        else {
            continue;
        };
        let event: Value = serde_json::from_str(&data).unwrap();
        events.push((Instant::now(), event));
        if stop(&events[events.len() - 1].1) {
            break;
        }
    }
    Answer {
        status: 200,
        events,
        error: String::new(),
    }
}

fn of_kind<'a>(answer: &'a Answer, kind: &str) -> Vec<&'a Value> {
    answer
        .events
        .iter()
        .map(|(_, e)| e)
        .filter(|e| e["event"] == kind)
        .collect()
}

/// GET `path` as sent, byte for byte (no client normalises it).
fn raw_get(server: &Server, path: &str) -> (u16, Vec<u8>) {
    let address = server.url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let head = String::from_utf8_lossy(&answer[..answer.len().min(20)]).to_string();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, answer)
}

#[test]
fn a_prompt_becomes_frames_and_the_picture_generate_makes() {
    let server = Server::start(&[]);
    let prompt = "a red circle above a blue square";
    let answer = ask(&server, json!({ "prompt": prompt }));
    assert_eq!(answer.status, 200, "{}", answer.error);
    let kinds: Vec<&str> = answer
        .events
        .iter()
        .map(|(_, e)| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds[..2], ["queued", "started"], "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"done"), "{kinds:?}");
    let frames = of_kind(&answer, "frame");
    assert!(frames.len() >= 3, "{} frames", frames.len());
    assert!(
        frames[0]["png"]
            .as_str()
            .unwrap()
            .starts_with("data:image/png;base64,")
    );
    let done = of_kind(&answer, "done")[0];
    assert_eq!(
        done["verdict"],
        "✓ the judge finds what the prompt asks for"
    );

    // The served PNG is the command line's, byte for byte: same models, seed and settings.
    let served = ureq::get(&format!(
        "{}{}",
        server.url,
        done["picture"].as_str().unwrap()
    ))
    .call()
    .unwrap();
    let mut bytes = Vec::new();
    served.into_reader().read_to_end(&mut bytes).unwrap();
    let folder = tempfile::tempdir().unwrap();
    let out = folder.path().join("cli.png");
    let cli = Command::new(env!("CARGO_BIN_EXE_clip-art"))
        .args(["generate", prompt, "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        cli.status.success(),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    assert!(
        std::fs::read(&out).unwrap() == bytes,
        "the page's PNG differs from generate's"
    );
    let text = clip_art::viz::picture::png_text(&bytes).unwrap();
    let settings = &text
        .iter()
        .find(|(k, _)| k == "clip-art settings")
        .unwrap()
        .1;
    assert!(settings.starts_with("generator=Layers"), "{settings}");
    assert_eq!(done["settings"], settings.as_str());

    let gallery: Value = ureq::get(&format!("{}/api/gallery", server.url))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(gallery.as_array().unwrap().len(), 1);
    assert_eq!(gallery[0]["picture"], done["picture"]);
}

#[test]
fn bad_requests_are_refused_with_a_reason() {
    let server = Server::start(&[]);
    let long = "a red circle ".repeat(30);
    let cases = [
        (json!({ "prompt": "   " }), "the prompt is empty"),
        (json!({ "prompt": long }), "at most 300 are taken"),
        (
            json!({ "prompt": "a huge red circle" }),
            "does not know the word \"huge\"",
        ),
        (
            json!({ "prompt": "a red circle", "steps": 0 }),
            "from 1 to 50, got 0",
        ),
        (
            json!({ "prompt": "a red circle", "generator": "pixels", "steps": 100000 }),
            "from 1 to 500, got 100000",
        ),
        (
            json!({ "prompt": "a red circle", "seed": -1 }),
            "not what the page sends",
        ),
        (
            json!({ "prompt": "a red circle", "seed": "x" }),
            "not what the page sends",
        ),
        (
            json!({ "prompt": "a red circle", "generator": "dall-e" }),
            "unknown generator \"dall-e\"",
        ),
        (
            json!({ "prompt": "a red circle", "generator": "vqgan" }),
            "start it with --vqgan DIR",
        ),
        (
            json!({ "prompt": "a red circle", "generator": "biggan" }),
            "start it with --biggan DIR",
        ),
        (
            json!({ "prompt": "a red circle", "guide": "/etc/passwd" }),
            "unknown guide \"/etc/passwd\"",
        ),
        (
            json!({ "prompt": "a red circle", "vqgan": "/tmp" }),
            "unknown field `vqgan`",
        ),
    ];
    for (request, reason) in cases {
        let answer = ask(&server, request.clone());
        assert_eq!(answer.status, 400, "{request}");
        assert!(answer.error.contains(reason), "{request}: {}", answer.error);
    }
    assert_eq!(server.status()["accepted"], 0);
}

#[test]
fn only_the_gallerys_own_pictures_are_served() {
    let server = Server::start(&[]);
    for path in [
        "/gallery/..%2FCargo.toml",
        "/gallery/%2e%2e%2f%2e%2e%2fCargo.toml",
        "/gallery/../Cargo.toml",
        "/gallery/Cargo.toml",
        "/gallery/",
        "/gallery/1-a-red-circle.png",
        "/src/main.rs",
    ] {
        let (status, answer) = raw_get(&server, path);
        assert_eq!(status, 404, "{path}");
        assert!(
            !String::from_utf8_lossy(&answer).contains("[package]"),
            "{path}"
        );
    }
    let (status, page) = raw_get(&server, "/");
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&page).contains("<script src=\"/page.js\">"));
}

#[test]
fn a_client_that_leaves_cancels_its_job() {
    let server = Server::start(&[]);
    let long =
        json!({ "prompt": "a red circle", "generator": "pixels", "steps": 500 });
    let answer = ask_until(&server, long, |e| e["event"] == "frame");
    assert_eq!(of_kind(&answer, "frame").len(), 1);
    drop(answer);
    let counts = server.wait_for(|c| c["cancelled"] == 1 && c["running"] == 0);
    assert_eq!(counts["cancelled"], 1, "{counts}");
    assert_eq!(counts["running"], 0, "{counts}");
    assert_eq!(counts["finished"], 0, "{counts}");
}

#[test]
fn a_job_past_its_time_limit_is_stopped_and_says_so() {
    let server = Server::start(&["--job-seconds", "1"]);
    let started = Instant::now();
    let answer = ask(
        &server,
        json!({ "prompt": "a red circle", "generator": "pixels", "steps": 500 }),
    );
    let failed = of_kind(&answer, "failed");
    assert_eq!(failed.len(), 1, "{:?}", answer.events.len());
    assert!(
        failed[0]["message"]
            .as_str()
            .unwrap()
            .contains("time limit of 1 s")
    );
    assert!(started.elapsed() < Duration::from_secs(60));
    assert_eq!(server.status()["timed_out"], 1);
}

/// The load test: 20 clients at once against 4 places in line and
/// one worker. Every request is answered (a picture, or 429 at once); no
/// job is lost or run twice; memory stays bounded. Prints the figures.
#[test]
fn twenty_clients_at_once_are_all_answered() {
    const CLIENTS: usize = 20;
    let server = Arc::new(Server::start(&["--queue", "4", "--workers", "1"]));
    let barrier = Arc::new(Barrier::new(CLIENTS));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|seed| {
            let (server, barrier) = (Arc::clone(&server), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                let sent = Instant::now();
                let answer =
                    ask(&server, json!({ "prompt": "a green star", "seed": seed }));
                (sent, answer)
            })
        })
        .collect();
    let answers: Vec<(Instant, Answer)> =
        clients.into_iter().map(|c| c.join().unwrap()).collect();
    let pictures: Vec<&Value> = answers
        .iter()
        .flat_map(|(_, a)| of_kind(a, "done"))
        .collect();
    let refused = answers.iter().filter(|(_, a)| a.status == 429).count();
    for (_, answer) in answers.iter().filter(|(_, a)| a.status == 429) {
        assert!(
            answer.error.contains("places in line are taken"),
            "{}",
            answer.error
        );
    }
    assert_eq!(
        pictures.len() + refused,
        CLIENTS,
        "every request gets a picture or a 429"
    );
    assert!(
        pictures.len() >= 5,
        "a worker and 4 places: at least 5 pictures"
    );
    let mut ids: Vec<u64> =
        pictures.iter().map(|d| d["id"].as_u64().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), pictures.len(), "a job ran twice");
    // Each waiting client heard its place at every move up: k, k - 1, …, 1.
    for (_, answer) in answers.iter().filter(|(_, a)| a.status == 200) {
        let places: Vec<u64> = of_kind(answer, "queued")
            .iter()
            .map(|e| e["position"].as_u64().unwrap())
            .collect();
        let first = places[0];
        assert!((1..=4).contains(&first), "{places:?}");
        assert_eq!(places, (1..=first).rev().collect::<Vec<_>>());
    }
    let counts = server.wait_for(|c| c["running"] == 0 && c["waiting"] == 0);
    assert_eq!(counts["finished"], pictures.len() as u64, "{counts}");
    assert_eq!(counts["accepted"], pictures.len() as u64, "{counts}");
    assert_eq!(counts["rejected"], refused as u64, "{counts}");
    let mut first_frame: Vec<f64> = answers
        .iter()
        .filter_map(|(sent, a)| {
            a.events
                .iter()
                .find(|(_, e)| e["event"] == "frame")
                .map(|(at, _)| (*at - *sent).as_secs_f64())
        })
        .collect();
    first_frame.sort_by(f64::total_cmp);
    let percentile =
        |p: f64| first_frame[((first_frame.len() - 1) as f64 * p).round() as usize];
    let peak = server.peak_mib();
    println!(
        "load test: {CLIENTS} requests, {} answered: {} pictures, {refused} × 429; \
         first frame p50 {:.2} s, p95 {:.2} s; server's peak memory {peak:.0} MiB",
        pictures.len() + refused,
        pictures.len(),
        percentile(0.5),
        percentile(0.95),
    );
    assert!(peak < 2048.0, "the server held {peak:.0} MiB");
}

/// Folders given on the server's command line add VQGAN+CLIP, Big Sleep and
/// OpenAI's CLIP to the page's choices (here the tiny fixtures). The VQGAN
/// and BigGAN run; the tiny CLIP's folder has no tokenizer, and the page
/// hears that, in words.
#[test]
fn the_real_models_given_to_the_server_are_offered_and_run() {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let (vqgan, biggan, clip) = (
        format!("{fixtures}/vqgan/tiny"),
        format!("{fixtures}/biggan/tiny"),
        format!("{fixtures}/clip/tiny"),
    );
    let server =
        Server::start(&["--vqgan", &vqgan, "--biggan", &biggan, "--clip", &clip]);
    let options: Value = ureq::get(&format!("{}/api/options", server.url))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    let values = |key: &str| -> Vec<String> {
        let choices = options[key].as_array().unwrap();
        choices
            .iter()
            .map(|c| c["value"].as_str().unwrap().to_string())
            .collect()
    };
    for generator in ["vqgan", "biggan"] {
        assert!(
            values("generators").contains(&generator.to_string()),
            "{options}"
        );
    }
    assert!(
        values("guides").contains(&"openai".to_string()),
        "{options}"
    );

    let answer = ask(
        &server,
        json!({ "prompt": "a red circle", "generator": "vqgan", "steps": 3 }),
    );
    let done = of_kind(&answer, "done");
    assert_eq!(done.len(), 1, "{:?}", answer.events);
    let settings = done[0]["settings"].as_str().unwrap();
    assert!(settings.starts_with("generator=Vqgan vqgan="), "{settings}");
    let answer = ask(
        &server,
        json!({ "prompt": "a red circle", "generator": "biggan", "steps": 3 }),
    );
    let done = of_kind(&answer, "done");
    assert_eq!(done.len(), 1, "{:?}", answer.events);
    let settings = done[0]["settings"].as_str().unwrap();
    assert!(
        settings.starts_with("generator=Biggan biggan="),
        "{settings}"
    );

    let answer = ask(
        &server,
        json!({ "prompt": "a red circle", "guide": "openai" }),
    );
    let failed = of_kind(&answer, "failed");
    assert_eq!(failed.len(), 1, "{:?}", answer.events);
    assert!(
        failed[0]["message"]
            .as_str()
            .unwrap()
            .contains("has no merges.txt"),
        "{}",
        failed[0]
    );
    assert_eq!(server.status()["failed"], 1);
}
