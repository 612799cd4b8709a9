// The page of `clip-art serve`: sends the request, reads the job's
// server-sent events from the response (fetch, so that a 400 or 429 can say
// why), draws each frame and the loss curve, and keeps the session's gallery.
"use strict";

const $ = (id) => document.getElementById(id);
let running = null; // the AbortController of the job in progress

function say(text, isError = false) {
  $("message").textContent = text;
  $("message").className = isError ? "error" : "";
}

function ordinal(n) {
  const last = n % 10, tens = n % 100;
  const suffix = last === 1 && tens !== 11 ? "st" : last === 2 && tens !== 12 ? "nd"
    : last === 3 && tens !== 13 ? "rd" : "th";
  return `${n}${suffix}`;
}

function drawLosses(losses) {
  const canvas = $("losses"), g = canvas.getContext("2d");
  g.clearRect(0, 0, canvas.width, canvas.height);
  if (losses.length < 2) return;
  const low = Math.min(...losses), high = Math.max(...losses);
  const span = high - low || 1, pad = 24;
  g.strokeStyle = "#999";
  g.strokeRect(pad, 8, canvas.width - pad - 8, canvas.height - pad - 8);
  g.fillStyle = "#555";
  g.font = "11px system-ui";
  g.fillText(high.toFixed(3), 2, 16);
  g.fillText(low.toFixed(3), 2, canvas.height - pad);
  g.strokeStyle = "#1565c0";
  g.lineWidth = 2;
  g.beginPath();
  losses.forEach((loss, i) => {
    const x = pad + (i / (losses.length - 1)) * (canvas.width - pad - 8);
    const y = 8 + ((high - loss) / span) * (canvas.height - pad - 16);
    if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
  });
  g.stroke();
}

function addToGallery(item) {
  const li = document.createElement("li");
  li.dataset.id = item.id;
  const img = document.createElement("img");
  img.src = item.picture;
  img.alt = item.prompt;
  const prompt = document.createElement("p");
  prompt.textContent = `“${item.prompt}” — ${item.seconds.toFixed(1)} s`;
  const verdict = document.createElement("p");
  verdict.textContent = item.verdict ? `judge: ${item.verdict}` : "judge: (no verdict)";
  const details = document.createElement("details");
  const summary = document.createElement("summary");
  summary.textContent = "settings";
  const settings = document.createElement("code");
  settings.textContent = item.settings;
  details.append(summary, settings);
  const download = document.createElement("a");
  download.href = item.picture;
  download.download = item.picture.split("/").pop();
  download.textContent = "download PNG (settings inside)";
  download.className = "download";
  li.append(img, prompt, verdict, details, download);
  $("gallery").prepend(li);
}

// Server-sent events from a streamed response body: "event: NAME\ndata: JSON\n\n".
async function* events(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block.split("\n").filter((l) => l.startsWith("data:"))
        .map((l) => l.slice(5).trimStart()).join("\n");
      if (data) yield JSON.parse(data);
    }
  }
}

async function generate(request) {
  if (running) running.abort();
  const controller = new AbortController();
  running = controller;
  $("go").disabled = true;
  $("verdict").textContent = "";
  $("progress").textContent = "Waiting for the server…";
  const frame = $("frame");
  frame.dataset.frames = "0";
  const losses = [];
  drawLosses(losses);
  say("Sent.");
  try {
    const response = await fetch("/api/generate", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(request),
      signal: controller.signal,
    });
    if (!response.ok) {
      let reason = `the server answered ${response.status}`;
      try { reason = (await response.json()).error || reason; } catch (_) { /* not JSON */ }
      say(reason, true);
      $("progress").textContent = "No picture.";
      return;
    }
    for await (const event of events(response)) {
      if (event.event === "queued") {
        say(event.position === 1 ? "Next in line." : `Waiting: ${ordinal(event.position)} in line.`);
      } else if (event.event === "started") {
        say("Generating…");
      } else if (event.event === "frame") {
        frame.src = event.png;
        frame.dataset.frames = String(Number(frame.dataset.frames) + 1);
        losses.push(event.loss);
        drawLosses(losses);
        $("progress").textContent = `step ${event.done} of at most ${event.total} · guide's loss ${event.loss.toFixed(4)}`;
      } else if (event.event === "done") {
        frame.src = event.picture;
        $("progress").textContent = `Done in ${event.seconds.toFixed(1)} s.`;
        $("verdict").textContent = event.verdict ? `judge: ${event.verdict}`
          : "judge: (the judge reads the scenes' language only)";
        say("Done. The picture is in the gallery below, with its settings.");
        addToGallery(event);
      } else if (event.event === "failed") {
        say(event.message, true);
        $("progress").textContent = "No picture.";
      }
    }
  } catch (error) {
    if (error.name !== "AbortError") say(`The connection broke: ${error.message}`, true);
  } finally {
    if (running === controller) running = null;
    $("go").disabled = false;
  }
}

async function start() {
  const options = await (await fetch("/api/options")).json();
  for (const [id, choices] of [["generator", options.generators], ["guide", options.guides]]) {
    for (const choice of choices) {
      const option = document.createElement("option");
      option.value = choice.value;
      option.textContent = choice.label;
      $(id).append(option);
    }
  }
  $("prompt").maxLength = options.max_prompt_chars;
  for (const item of (await (await fetch("/api/gallery")).json()).reverse()) addToGallery(item);
  $("ask").addEventListener("submit", (e) => {
    e.preventDefault();
    const steps = $("steps").value.trim();
    generate({
      prompt: $("prompt").value,
      generator: $("generator").value,
      guide: $("guide").value,
      seed: Number($("seed").value || 0),
      ...(steps ? { steps: Number(steps) } : {}),
    });
  });
}

start().catch((error) => say(`The page could not start: ${error.message}`, true));
