// Opens an executed notebook in JupyterLab in headless Chromium, as a student sees it,
// and fails unless the first cell explains what the next one compiles, its pictures show
// and load, and no output is a debug print (`Ok(())`, `Err(…)`, a picture's fields
// instead of the picture).
// Usage: node check_lab.mjs LAB_URL NOTEBOOK SCREENSHOT
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

// playwright-core comes with the book's npm packages (`npm ci` in book/).
const { chromium } = createRequire(new URL("../book/package.json", import.meta.url))("playwright-core");

const [base, notebook, screenshot] = process.argv.slice(2);
// The notebook is served from target/notebooks/; its file says how many cells to expect.
const expected = JSON.parse(readFileSync(new URL(`../target/notebooks/${notebook}`, import.meta.url))).cells.length;
// What a student sees of each cell, scrolled through once.
async function inspect() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    return await look(await browser.newPage({ viewport: { width: 1200, height: 900 } }));
  } finally {
    await browser.close();
  }
}

async function look(page) {
  page.on("pageerror", (e) => problems.push(`script error: ${e.message}`));
  await page.goto(`${base}/lab/tree/${notebook}?reset`, { waitUntil: "load" });
  await page.waitForSelector(".jp-NotebookPanel .jp-Notebook .jp-Cell", { timeout: 60000 });
  // JupyterLab renders cells lazily, and on a busy machine the first notebook a fresh
  // server opens arrives in pieces: scroll through until every cell has been drawn.
  const seen = await page.evaluate(async (expected) => {
    const panel = document.querySelector(".jp-NotebookPanel:not(.lm-mod-hidden)");
    const scroller = panel.querySelector(".jp-WindowedPanel-outer") ?? panel.querySelector(".jp-Notebook");
    const cells = new Map();
    const deadline = Date.now() + 60000;
    do for (let y = 0; y <= scroller.scrollHeight; y += 400) {
      scroller.scrollTop = y;
      await new Promise((r) => setTimeout(r, 150));
      for (const cell of panel.querySelectorAll(".jp-Notebook .jp-Cell")) {
        const key = cell.dataset.windowedListIndex;
        const images = [...cell.querySelectorAll(".jp-OutputArea-output img")];
        cells.set(key, {
          code: cell.classList.contains("jp-CodeCell"),
          text: cell.querySelector(".jp-MarkdownOutput, .jp-InputArea")?.textContent ?? "",
          output: [...cell.querySelectorAll(".jp-OutputArea-output")].map((o) => o.textContent).join("\n"),
          outputs: cell.querySelectorAll(".jp-OutputArea-output").length,
          images: images.length,
          brokenImages: images.filter((i) => !i.complete || i.naturalWidth === 0).length,
        });
      }
    } while (cells.size < expected && Date.now() < deadline);
    return [...cells.entries()].sort((a, b) => a[0] - b[0]).map(([, cell]) => cell);
  }, expected);
  await page.evaluate(() => {
    const panel = document.querySelector(".jp-NotebookPanel:not(.lm-mod-hidden)");
    (panel.querySelector(".jp-WindowedPanel-outer") ?? panel.querySelector(".jp-Notebook")).scrollTop = 0;
  });
  await page.screenshot({ path: screenshot });
  return seen;
}

const problems = [];
// A browser that dies on a busy machine is not the notebook's fault: try once more.
const seen = await inspect().catch((error) => {
  console.log(`retrying after: ${error.message.split("\n")[0]}`);
  problems.length = 0;
  return inspect();
});

if (seen.length < expected) problems.push(`only ${seen.length} of its ${expected} cells were drawn within a minute`);
const markdown = seen.filter((c) => !c.code);
const code = seen.filter((c) => c.code);
if (!markdown[0]?.text.includes("Before you start")) problems.push("the first cell does not say what the next one compiles");
for (const c of code) {
  if (/\bOk\(\(\)\)|\bErr\("|Picture\(ImageBuffer/.test(c.output)) problems.push(`a debug print: ${c.output.slice(0, 120)}`);
  if (c.brokenImages) problems.push(`${c.brokenImages} picture(s) did not load`);
}
const pictures = code.reduce((n, c) => n + c.images, 0);
if (pictures === 0) problems.push("no picture is shown");
console.log(`${notebook} in JupyterLab: ${seen.length} cells, ${pictures} pictures, ${problems.length} problems`);
for (const p of problems) console.log(`  ${p}`);
process.exit(problems.length ? 1 : 0);
