#!/usr/bin/env bash
# Screenshot an eval report in headless Chromium, which checks that the page
# renders offline (it loads nothing from the network).
#
#   scripts/screenshot.sh [REPORT.html [OUT.png [WIDTHxHEIGHT]]]
#
# Defaults: evals/benchmark/report.html, PNG beside it, 1280x2000. Needs
# Debian's chromium package (apt-get install -y chromium); installs nothing
# itself unless INSTALL=1. CHROMIUM overrides the browser binary.
set -euo pipefail
cd "$(dirname "$0")/.."

report=${1:-evals/benchmark/report.html}
png=${2:-${report%.html}.png}
size=${3:-1280x2000}
chromium=${CHROMIUM:-/usr/bin/chromium}

if [ ! -f "$report" ]; then
	echo "screenshot: no report at $report (run make eval first)" >&2
	exit 1
fi
if [ ! -x "$chromium" ]; then
	if [ "${INSTALL:-0}" = 1 ]; then
		apt-get update && apt-get install -y chromium
	else
		echo "screenshot: $chromium not found; apt-get install -y chromium (or INSTALL=1 $0)" >&2
		exit 1
	fi
fi

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
rm -f "$png"
mkdir -p "$(dirname "$png")"
# The network switches keep Chromium from calling home; the page itself
# needs none.
"$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
	--disable-background-networking --disable-component-update --disable-sync \
	--hide-scrollbars --user-data-dir="$profile" \
	--window-size="${size/x/,}" --screenshot="$(realpath -m "$png")" \
	"file://$(realpath "$report")" >/dev/null 2>&1 || true

# Chromium's exit status says little; the PNG is the proof.
if [ ! -s "$png" ] || [ "$(head -c 8 "$png" | od -An -tx1 | tr -d ' \n')" != 89504e470d0a1a0a ]; then
	echo "screenshot: chromium wrote no PNG to $png" >&2
	exit 1
fi
echo "$png"
