#!/usr/bin/env bash
# `make demo`: the whole pipeline on the embedded default, in a throw-away data home:
# agent events → difflore-hook → outbox → difflored → a file collector (NDJSON).
set -euo pipefail
cd "$(dirname "$0")/.."
# Where cargo builds: `make demo` says; run alone, ask cargo (CARGO_TARGET_DIR and the like).
bin=${DIFFLORE_BIN_DIR:-$(cargo metadata --format-version 1 --no-deps \
  | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')/release}
work=$(mktemp -d)
export DIFFLORE_HOME="$work/difflore"
collector="$work/collector.ndjson"
trap '"$bin/difflorectl" stop --grace 5s >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

echo "== 1. agents call difflore-hook (one event per agent, plus one bad input)"
for client in claude-code codex gemini cursor windsurf; do
  fixture=$(ls tests/fixtures/"$client"/*.json | head -n 1)
  "$bin/difflore-hook" --client "$client" < "$fixture"
  echo "   $client: $(basename "$fixture")"
done
# A made-up token, as an agent might capture it: it leaves the machine redacted.
echo '{"session_id":"demo","cwd":"/tmp","hook_event_name":"PostToolUse","tool_name":"Bash","tool_input":{"command":"export GITHUB_TOKEN=ghp_cTfoJpR4eCy6GBc9oGa8nZt0QXKmvz6j9UcN"}}' \
  | "$bin/difflore-hook" --client claude-code
echo "   claude-code: a PostToolUse whose command holds a (made-up) GitHub token"
echo 'this is not json' | "$bin/difflore-hook" 2>&1 | sed 's/^/   /'

echo
echo "== 2. what waits in the outbox"
"$bin/difflorectl" events --state pending
"$bin/difflorectl" events --state rejected

echo
echo "== 3. difflored drains it to file://$collector"
"$bin/difflored" --endpoint "file://$collector"
for _ in $(seq 1 100); do
  "$bin/difflorectl" status --json | grep -q '"last_success_at": "' && break
  sleep 0.1
done
"$bin/difflorectl" status

echo
echo "== 4. what the collector received (first event, cut at 600 bytes; then the token's)"
head -n 1 "$collector" | cut -c 1-600
grep -o '"tool_input":{[^}]*}' "$collector"
echo "   ... $(wc -l < "$collector") events in all"

echo
echo "== 5. stop it"
"$bin/difflorectl" stop --grace 5s

echo
echo "== 6. what did my agents do: the local history, with no server"
"$bin/difflorectl" sessions
echo
"$bin/difflorectl" show last
