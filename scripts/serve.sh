#!/usr/bin/env bash
# Serves the built page (dist/) on 127.0.0.1. PORT=8080 by default.
set -euo pipefail
cd "$(dirname "$0")/.."
port="${PORT:-8080}"
[ -f dist/index.html ] || { echo "dist/ is missing: run 'npm start' (or 'npm run build') first." >&2; exit 1; }
printf '\n  transformer-playground is served at \033[1mhttp://127.0.0.1:%s/\033[0m  (Ctrl-C to stop)\n\n' "$port"
exec node scripts/static-server.mjs dist "$port"
