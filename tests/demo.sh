#!/usr/bin/env bash
# `make demo`: the whole pipeline on the embedded default, in a throw-away data home:
# agent events → difflore-hook → outbox → difflored → a file collector (NDJSON); then a
# session as OTLP traces, received by a local OTLP/HTTP collector (the otlp_waterfall
# example) and printed from what it received as a waterfall.
set -euo pipefail
cd "$(dirname "$0")/.."
# Where cargo builds: `make demo` says; run alone, ask cargo (CARGO_TARGET_DIR and the like).
bin=${DIFFLORE_BIN_DIR:-$(cargo metadata --format-version 1 --no-deps \
  | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')/release}
work=$(mktemp -d)
export DIFFLORE_HOME="$work/difflore"
collector="$work/collector.ndjson"
waterfall="$bin/examples/otlp_waterfall"
if [ ! -x "$waterfall" ]; then
  cargo build --release --locked --quiet --example otlp_waterfall
fi
collector_pid=
trap '"$bin/difflorectl" stop --grace 5s >/dev/null 2>&1 || true
  [ -n "$collector_pid" ] && kill "$collector_pid" 2>/dev/null
  rm -rf "$work"' EXIT

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

echo
echo "== 7. a session as OpenTelemetry traces: difflored → OTLP/HTTP → a local collector"
mkdir -p "$work/otlp"
"$waterfall" serve "$work/otlp" &
collector_pid=$!
for _ in $(seq 1 100); do [ -s "$work/otlp/port" ] && break; sleep 0.05; done
port=$(cat "$work/otlp/port")
# One Claude Code turn, the events a moment apart as an agent makes them: a Bash call, an
# Edit that fails, a Task whose subagent explores.
s='"session_id":"demo-traces","cwd":"/home/dev/src/app"'
while IFS='|' read -r pause payload; do
  sleep "$pause"
  echo "{$s,$payload}" | "$bin/difflore-hook" --client claude-code
done <<'EVENTS'
0|"hook_event_name":"UserPromptSubmit","prompt":"add a --verbose flag"
0.05|"hook_event_name":"PreToolUse","tool_name":"Bash","tool_use_id":"toolu_1","tool_input":{"command":"cargo test"}
0.30|"hook_event_name":"PostToolUse","tool_name":"Bash","tool_use_id":"toolu_1","tool_response":{"stdout":"ok"}
0.05|"hook_event_name":"PreToolUse","tool_name":"Edit","tool_use_id":"toolu_2","tool_input":{"file_path":"src/cli.rs"}
0.10|"hook_event_name":"PostToolUseFailure","tool_name":"Edit","tool_use_id":"toolu_2","error":"String to replace not found in file."
0.05|"hook_event_name":"PreToolUse","tool_name":"Task","tool_use_id":"toolu_3","tool_input":{"prompt":"find every caller"}
0.02|"hook_event_name":"SubagentStart","agent_id":"a1","agent_type":"Explore"
0.25|"hook_event_name":"SubagentStop","agent_id":"a1"
0.02|"hook_event_name":"PostToolUse","tool_name":"Task","tool_use_id":"toolu_3","tool_response":{"content":"3 callers"}
0.10|"hook_event_name":"Stop"
EVENTS
"$bin/difflored" --endpoint "otlp+http://127.0.0.1:$port"
for _ in $(seq 1 100); do
  "$bin/difflorectl" status --json | tr -d ' \n' | grep -q '"pending":0,"in_flight":0' \
    && ls "$work/otlp" | grep -q '^traces-' && break
  sleep 0.1
done
"$bin/difflorectl" stop --grace 5s >/dev/null
kill "$collector_pid"
wait "$collector_pid" 2>/dev/null || true
collector_pid=
echo "   what the collector received at /v1/traces, decoded with the official OTLP messages:"
"$waterfall" show "$work/otlp" | sed 's/^./   &/'
