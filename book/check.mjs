// Opens every page of the built book in headless Chromium and fails when math is not
// rendered, an image does not load, a link inside the book is broken, or an mdBook
// directive was left unexpanded. Usage: node check.mjs BASE_URL BOOK_DIR SCREENSHOT_DIR
import { chromium } from "playwright-core";
import { readdirSync, mkdirSync, readFileSync, existsSync } from "node:fs";

const [base, bookDir, shots] = process.argv.slice(2);
// How many formulas a page's Markdown source holds: \\( … \\) and \\[ … \\].
const formulasInSource = (html) => {
  const md = new URL(`src/${html.replace(/\.html$/, ".md")}`, import.meta.url);
  if (!existsSync(md)) return 0;
  return (readFileSync(md, "utf8").match(/\\\\\(|\\\\\[/g) ?? []).length;
};
mkdirSync(shots, { recursive: true });
const pages = readdirSync(bookDir)
  .filter((f) => f.endsWith(".html") && !["print.html", "404.html", "toc.html"].includes(f))
  .sort();
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const problems = [];
for (const name of pages) {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const bad = (what) => problems.push(`${name}: ${what}`);
  page.on("response", (r) => { if (r.url().startsWith(base) && r.status() >= 400) bad(`HTTP ${r.status()} for ${r.url()}`); });
  page.on("requestfailed", (r) => { if (r.url().startsWith(base)) bad(`request failed: ${r.url()}`); });
  page.on("pageerror", (e) => bad(`script error: ${e.message}`));
  await page.goto(base + name, { waitUntil: "load" });
  await page.waitForFunction(() => window.MathJax?.startup?.promise, null, { timeout: 20000 })
    .then(() => page.evaluate(() => window.MathJax.startup.promise))
    .catch(() => bad("MathJax did not start (is book/mathjax/tex-svg.js bundled?)"));
  const found = await page.evaluate(() => {
    const main = document.querySelector("main");
    return {
      math: main.querySelectorAll("mjx-container").length,
      mathErrors: main.querySelectorAll("mjx-merror, [data-mjx-error]").length,
      rawDelimiters: [...main.querySelectorAll("p, li, td, h1, h2, h3")]
        .some((e) => /\\\(|\\\[/.test(e.innerText)),
      directives: /\{\{#/.test(main.innerHTML),
      images: [...main.querySelectorAll("img")].map((i) => ({ src: i.src, ok: i.complete && i.naturalWidth > 0 })),
      links: [...main.querySelectorAll("a[href]")].map((a) => a.href).filter((h) => h.startsWith(location.origin)),
    };
  });
  const expected = formulasInSource(name);
  if (found.math !== expected) bad(`${found.math} formulas rendered, ${expected} in the Markdown source`);
  if (found.mathErrors) bad(`${found.mathErrors} formulas failed to typeset`);
  if (found.rawDelimiters) bad("raw \\( or \\[ left in the text: math not rendered");
  if (found.directives) bad("an mdBook {{#...}} directive was not expanded");
  for (const img of found.images) if (!img.ok) bad(`image does not load: ${img.src}`);
  for (const link of new Set(found.links)) {
    const response = await page.request.get(link.split("#")[0]);
    if (!response.ok()) bad(`broken link ${link} (HTTP ${response.status()})`);
  }
  await page.screenshot({ path: `${shots}/${name.replace(/\//g, "_")}.png`, fullPage: true });
  console.log(`${name}: ${found.math} formulas, ${found.images.length} images, ${new Set(found.links).size} links`);
  await page.close();
}
await browser.close();
if (problems.length) {
  console.error(`book check: ${problems.length} problem(s)\n` + problems.join("\n"));
  process.exit(1);
}
console.log(`book check: ${pages.length} pages passed, 0 failed`);
