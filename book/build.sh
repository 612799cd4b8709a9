#!/usr/bin/env bash
# Builds the book into book/book: bundles MathJax (offline math), regenerates every
# figure and measured table with the crate (`clip-art book-figures`), runs mdbook.
set -euo pipefail
cd "$(dirname "$0")"
[ -d node_modules/mathjax ] && [ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund
mkdir -p mathjax
cp node_modules/mathjax/es5/tex-svg.js mathjax/tex-svg.js
(cd .. && cargo run --quiet -- book-figures --out book/src/generated)
mdbook build
