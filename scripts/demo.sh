#!/usr/bin/env bash
# The main job: install what is needed, build and package the extension, and open the example
# checkpoint in a real VS Code (code-server) on 127.0.0.1; prints the URL. Ctrl+C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
export npm_config_nodedir=/usr
[[ -d node_modules ]] || npm ci --no-audit --no-fund
# code-server (from the npm registry, into .e2e/) and its build tools; Chromium is for the tests.
scripts/e2e-setup.sh
npm run package
exec node --import tsx scripts/demo.ts
