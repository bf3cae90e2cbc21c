#!/usr/bin/env bash
# report.html in a real browser: runs a small scenario with --out, opens report.html in
# headless Chromium (Debian's, installed when missing), and checks from the rendered DOM
# that the page has every figure and the summary table, and that it loads nothing from
# the network. Leaves a screenshot in the work directory it prints, to look at.
# Usage: tests/report/check.sh [path/to/sptlab]
set -euo pipefail
cd "$(dirname "$0")/../.."
sptlab=$(realpath "${1:-target/release/sptlab}")
work=$(mktemp -d /tmp/sptlab-report.XXXXXX)
if ! command -v chromium >/dev/null; then
  echo "== installing chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi
"$sptlab" run --paths 1000 --years 2 --backend cpu --quiet --out "$work/run"
page="file://$work/run/report.html"
browser=(chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking)
"${browser[@]}" --dump-dom "$page" > "$work/dom.html" 2>"$work/chromium.log"
"${browser[@]}" --hide-scrollbars --window-size=1000,4600 --screenshot="$work/report.png" "$page" 2>>"$work/chromium.log"
python3 - "$work/dom.html" "$work/run/report.html" "$work/report.png" <<'PY'
import os, re, sys
dom, source, screenshot = sys.argv[1], sys.argv[2], sys.argv[3]
rendered = open(dom).read()
figures = re.findall(r"<figure>.*?</figure>", rendered, re.S)
assert len(figures) == 5, f"{len(figures)} figures rendered, expected 5 (a CPU run: the two time-grid figures too)"
assert all("<svg" in f and "<figcaption>" in f for f in figures), "a figure without its SVG or caption"
for text in ("equal", "diversity-0.5", "P(outperform)", "Scenario", "% per year"):
    assert text in rendered, f"'{text}' missing from the rendered page"
assert not re.search(r'(src|href)\s*=\s*["\']?(https?:)?//', open(source).read()), "the page refers to the network"
assert os.path.getsize(screenshot) > 20_000, "the screenshot is nearly empty"
print(f"report.html renders in Chromium with 5 figures; screenshot {screenshot}")
PY
