// `clip-art serve` as a person uses it, in headless Chromium: open the page, type a
// prompt, watch at least three frames arrive, see the final picture and the judge's
// verdict, download the PNG and read the settings from its text chunks; a bad prompt
// shows the server's reason. Saves a screenshot of the page.
// Usage: node tests/serve_page.mjs SERVER_URL SCREENSHOT
import { mkdtempSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inflateSync } from "node:zlib";

// playwright-core comes with the book's npm packages (`npm ci` in book/).
const { chromium } = createRequire(new URL("../book/package.json", import.meta.url))("playwright-core");

const [base, screenshot] = process.argv.slice(2);
const prompt = "a red circle above a blue square";

// The text chunks of a PNG (tEXt, zTXt, iTXt), keyword → text.
function pngText(bytes) {
  const text = {};
  for (let at = 8; at < bytes.length;) {
    const length = bytes.readUInt32BE(at), type = bytes.toString("latin1", at + 4, at + 8);
    const data = bytes.subarray(at + 8, at + 8 + length);
    const nul = data.indexOf(0);
    const keyword = data.toString("latin1", 0, nul);
    if (type === "tEXt") text[keyword] = data.toString("latin1", nul + 1);
    if (type === "zTXt") text[keyword] = inflateSync(data.subarray(nul + 2)).toString("latin1");
    if (type === "iTXt") {
      const compressed = data[nul + 1] === 1;
      let rest = data.subarray(nul + 3);
      rest = rest.subarray(rest.indexOf(0) + 1); // language tag
      rest = rest.subarray(rest.indexOf(0) + 1); // translated keyword
      text[keyword] = (compressed ? inflateSync(rest) : rest).toString("utf8");
    }
    at += 12 + length;
  }
  return text;
}

function check(condition, problem) {
  if (!condition) throw new Error(problem);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
});
try {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1100, height: 1000 } });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(base, { waitUntil: "load" });
  await page.waitForSelector("#generator option", { state: "attached" });

  // A bad prompt: the page shows the server's reason.
  await page.fill("#prompt", "a huge red circle");
  await page.click("#go");
  await page.waitForSelector("#message.error");
  const refusal = await page.textContent("#message");
  check(refusal.includes("does not know the word"), `the refusal reads: ${refusal}`);

  // The prompt: frames arrive while it runs, then the picture and the verdict.
  await page.fill("#prompt", prompt);
  await page.click("#go");
  await page.waitForFunction(() => Number(document.querySelector("#frame").dataset.frames) >= 3,
    null, { timeout: 120000 });
  await page.waitForSelector("#gallery li", { timeout: 120000 });
  const frames = Number(await page.getAttribute("#frame", "data-frames"));
  const verdict = await page.textContent("#verdict");
  check(verdict.includes("✓"), `the verdict reads: ${verdict}`);
  const shown = await page.evaluate(() => {
    const img = document.querySelector("#frame");
    return img.complete && img.naturalWidth > 0 && img.src.includes("/gallery/");
  });
  check(shown, "the final picture does not show");

  // The download is the PNG with its settings.
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#gallery a.download")]);
  const saved = join(mkdtempSync(join(tmpdir(), "clip-art-page-")), download.suggestedFilename());
  await download.saveAs(saved);
  const text = pngText(readFileSync(saved));
  check(text["Description"] === prompt, `the PNG's description: ${text["Description"]}`);
  check((text["clip-art settings"] ?? "").startsWith("generator=Layers"), `settings: ${text["clip-art settings"]}`);
  check((text["clip-art judge"] ?? "").startsWith("✓"), `judge: ${text["clip-art judge"]}`);
  check(errors.length === 0, `script errors: ${errors.join("; ")}`);

  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(`page: ${frames} frames, "${verdict}", PNG ${download.suggestedFilename()} with its settings; screenshot ${screenshot}`);
} finally {
  await browser.close();
}
