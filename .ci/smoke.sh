#!/usr/bin/env bash
# Smoke of the quick start: `npm start` with no DATABASE_URL, wait for /readyz, one authenticated
# query with the printed key, then SIGTERM and a clean exit.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
port=$(node -e "const s=require('net').createServer().listen(0,()=>{console.log(s.address().port);s.close()})")
log="$tmp/server.log"
SIYU_DATA_DIR="$tmp/data" PORT="$port" npm start >"$log" 2>&1 &
pid=$!
cleanup() { kill -9 "$pid" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
for _ in $(seq 1 120); do
  curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { cat "$log"; echo "smoke: server exited early"; exit 1; }
  sleep 1
done
curl -sf "http://127.0.0.1:$port/readyz"; echo
key=$(grep -oE 'siyu_[A-Za-z0-9_-]{32}' "$log" | head -1)
[ -n "$key" ] || { cat "$log"; echo "smoke: no admin key printed"; exit 1; }
answer=$(curl -sf "http://127.0.0.1:$port/graphql" -H 'content-type: application/json' \
  -H "authorization: Bearer $key" -d '{"query":"{ me { role workspace { name timeZone } } }"}')
echo "$answer"
echo "$answer" | grep -q '"role":"ADMIN"' || { echo "smoke: me did not answer ADMIN"; exit 1; }
# A wrong key is answered like no key (GraphQL over HTTP, application/json): 200 with UNAUTHENTICATED.
wrong=$(curl -s -w '\n%{http_code}' "http://127.0.0.1:$port/graphql" -H 'content-type: application/json' \
  -H "authorization: Bearer siyu_wrong" -d '{"query":"{ me { role } }"}')
code=$(echo "$wrong" | tail -n1)
[ "$code" = 200 ] && echo "$wrong" | grep -q '"UNAUTHENTICATED"' || { echo "smoke: wrong key gave HTTP $code without UNAUTHENTICATED: $wrong"; exit 1; }
for asset in dashboard/ dashboard/assets/dashboard.js dashboard/assets/dashboard.css; do
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/$asset")
  [ "$code" = 200 ] || { echo "smoke: /$asset gave HTTP $code, expected 200 (is the dashboard built?)"; exit 1; }
done
# npm start runs node as a child: signal the process that listens on the port.
target=$(ss -ltnpH "sport = :$port" | grep -oE 'pid=[0-9]+' | head -1 | cut -d= -f2)
[ -n "$target" ] || { echo "smoke: cannot find the server process"; exit 1; }
kill -TERM "$target"
for _ in $(seq 1 40); do kill -0 "$target" 2>/dev/null || break; sleep 0.5; done
if kill -0 "$target" 2>/dev/null; then echo "smoke: server did not stop on SIGTERM"; exit 1; fi
grep -q '"msg":"stopped"' "$log" || { cat "$log"; echo "smoke: no clean stop logged"; exit 1; }
echo "smoke: ok"
