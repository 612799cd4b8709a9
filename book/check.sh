#!/usr/bin/env bash
# Builds the book and checks it in headless Chromium: every page opened from a local
# server, math rendered, images loaded, links inside the book answered.
# Needs: node + npm, chromium (/usr/bin/chromium or $CHROMIUM), mdbook. Run from anywhere.
set -euo pipefail
cd "$(dirname "$0")"
./build.sh
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server "$port" --bind 127.0.0.1 --directory book >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null' EXIT
for _ in $(seq 50); do
  python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/')" 2>/dev/null && break
  sleep 0.2
done
node check.mjs "http://127.0.0.1:$port/" book ../target/book-screenshots
