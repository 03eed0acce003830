#!/usr/bin/env bash
# Builds the web console from ui/ and copies the result to internal/ui/dist,
# where the server embeds it. Run it after changing anything under ui/ and
# commit internal/ui/dist with the sources: building the server needs no Node.
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci --prefix ui --no-audit --no-fund
npm run --prefix ui build
rm -rf internal/ui/dist
mkdir -p internal/ui/dist
cp -R ui/dist/. internal/ui/dist/
echo "==> internal/ui/dist:"
(cd internal/ui/dist && find . -type f | sort | while read -r f; do
  printf '  %-40s %7d bytes, %6d gzipped\n' "$f" "$(wc -c <"$f")" "$(gzip -9c "$f" | wc -c)"
done)
