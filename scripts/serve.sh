#!/usr/bin/env bash
# Serves the built page (dist/) on 127.0.0.1. PORT=8080 by default.
set -euo pipefail
cd "$(dirname "$0")/.."
port="${PORT:-8080}"
[ -f dist/index.html ] || { echo "dist/ is missing: run 'npm start' (or 'npm run build') first." >&2; exit 1; }
# The address in bold on a terminal; plain text in a log or a pipe.
if [ -t 1 ]; then
  printf '\n  transformer-playground is served at \033[1mhttp://127.0.0.1:%s/\033[0m  (Ctrl-C to stop)\n\n' "$port"
else
  printf 'transformer-playground is served at http://127.0.0.1:%s/ (Ctrl-C to stop)\n' "$port"
fi
exec node scripts/static-server.mjs dist "$port"
