#!/usr/bin/env bash
# `make e2e`: difflore against the real agents. Each agent that ships on the npm registry is
# installed into target/e2e/, pointed at a scripted model server on 127.0.0.1
# (tests/e2e/fake-model.mjs) and given one headless prompt that makes one shell tool call,
# with its hooks written by `difflorectl hooks install` into a throw-away HOME and
# DIFFLORE_HOME. difflored then drains the outbox to a file collector, and
# tests/e2e/check.mjs checks that every payload the agent handed to the hook arrived there
# with the right client, kind, session and tool, and that `difflorectl hooks status` sees the
# hooks as installed and runnable. One line per agent, then a summary.
# Opt-in: it downloads the agents, so it is not part of `make test` or `make ci`.
# Usage: tests/e2e/run.sh [agent…]   (default: every agent below)
# E2E_LATEST=1 takes each agent's newest release; E2E_IGNORE_TERM=1 makes the witness shim
# (and so the hook) ignore SIGTERM, to tell an agent that kills its hooks from a lost event.
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
target=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
e2e=$target/e2e
bin=${DIFFLORE_BIN_DIR:-$target/debug}
mkdir -p "$e2e/npm" "$e2e/run"
if [[ -z ${DIFFLORE_BIN_DIR:-} ]]; then
  cargo build --locked --quiet --bins || exit 1
fi
command -v node >/dev/null && command -v npm >/dev/null || { echo "e2e: node and npm are needed"; exit 1; }

# agent → npm package, pinned so a run can be repeated.
declare -A PACKAGE=(
  [claude-code]=@anthropic-ai/claude-code@2.1.332
  [codex]=@openai/codex@0.171.0
  [gemini]=@google/gemini-cli@0.61.0
  [qwen-code]=@qwen-code/qwen-code@0.24.4
  [copilot]=@github/copilot@1.0.102
  [auggie]=@augmentcode/auggie@0.36.0
  [kimi]=@moonshot-ai/kimi-code@2.1.0
  [droid]=droid@0.215.0
  [cline]=cline@3.0.65
  [opencode]=opencode-ai@1.18.33
  [node22]=node@22
)
ORDER=(claude-code codex gemini qwen-code copilot kimi droid cline opencode auggie)
# Agents difflore hooks that this run cannot drive, and why.
declare -A WHY_NOT=(
  [kiro]="Kiro CLI is not on the npm registry (it ships as a download of its own)"
  [cursor]="Cursor's hooks run in the Cursor editor; its CLI is not on the npm registry"
  [windsurf]="Windsurf's hooks run in the Windsurf editor, which has no headless mode"
  [vscode]="VS Code's agent hooks run inside the VS Code editor"
  [crush]="Crush's npm package downloads its binary from GitHub when installed, which this machine cannot reach"
)
WHY_ORDER=(kiro crush cursor windsurf vscode)
# Agents whose build needs a newer Node.js than the machine's get Node 22 from the npm
# registry's own `node` package, into target/e2e/npm/node22.
NEEDS_NODE22=" kimi qwen-code "
agents=("$@")
[[ ${#agents[@]} -eq 0 ]] && agents=("${ORDER[@]}" "${WHY_ORDER[@]}")

# The scripted model server, shared by every run.
port_file=$e2e/fake-model.port
rm -f "$port_file"
FAKE_MODEL_LOG=$e2e/fake-model.log FAKE_MODEL_PORT_FILE=$port_file node tests/e2e/fake-model.mjs &
server=$!
# On any exit, also stop the difflored of the agent being checked, if one is still up.
trap 'kill $server 2>/dev/null; [[ -n ${DIFFLORE_HOME:-} ]] && "$bin/difflorectl" stop --grace 2s >/dev/null 2>&1' EXIT
for _ in $(seq 1 50); do [[ -s $port_file ]] && break; sleep 0.1; done
port=$(cat "$port_file")
base=http://127.0.0.1:$port

# npm install into target/e2e/npm/<agent>; prints the agent's bin dir.
install_agent() {
  local agent=$1 spec=${PACKAGE[$1]}
  [[ ${E2E_LATEST:-} == 1 ]] && spec=${spec%@*}@latest
  local dir=$e2e/npm/$agent
  if [[ ! -f $dir/.installed ]] || [[ $(cat "$dir/.installed") != "$spec" ]]; then
    mkdir -p "$dir"
    (cd "$dir" && npm install --no-audit --no-fund --loglevel=error --prefix . "$spec" >install.log 2>&1) || return 1
    echo "$spec" >"$dir/.installed"
  fi
  echo "$dir/node_modules/.bin"
}

# A fresh sandbox: HOME, DIFFLORE_HOME, a project, and a witness shim named difflore-hook
# first on PATH, which keeps a copy of each payload and hands it on to the real hook.
sandbox() {
  work=$e2e/run/$1
  rm -rf "$work"
  mkdir -p "$work/home" "$work/project" "$work/shim" "$work/witness"
  cat >"$work/shim/difflore-hook" <<SHIM
#!/bin/sh
${E2E_IGNORE_TERM:+trap '' TERM}
f=\$(mktemp "$work/witness/\$(date +%s%N)-XXXX")
tee "\$f" | exec "$bin/difflore-hook" "\$@"
SHIM
  chmod +x "$work/shim/difflore-hook"
  export HOME=$work/home DIFFLORE_HOME=$work/difflore
  export PATH=$work/shim:$bin:$agent_bin${node_bin:+:$node_bin}:$base_path
  unset CODEX_HOME XDG_CONFIG_HOME
  cd "$work/project" && git init -q . 2>/dev/null
}

# Drain the outbox to the file collector, then judge.
deliver_and_check() {
  local client=$1
  "$bin/difflored" --endpoint "file://$work/collector.ndjson" >"$work/difflored.log" 2>&1
  local fired
  fired=$(ls "$work/witness" | wc -l)
  for _ in $(seq 1 100); do
    [[ -f $work/collector.ndjson ]] && [[ $(wc -l <"$work/collector.ndjson") -ge $fired ]] && break
    sleep 0.1
  done
  "$bin/difflorectl" stop --grace 5s >/dev/null 2>&1
  # What `hooks status` makes of the files the agent just ran with.
  (cd "$work/project" && "$bin/difflorectl" hooks status --client "$client" --json) >"$work/status.json" 2>&1
  node "$root/tests/e2e/check.mjs" "$work/witness" "$work/collector.ndjson" "$client" "$work/status.json" >"$work/check.json"
}

run_claude_code() {
  difflorectl hooks install --client claude-code >"$work/install.log" 2>&1 || return 1
  ANTHROPIC_BASE_URL=$base ANTHROPIC_API_KEY=sk-ant-e2e-fake DISABLE_AUTOUPDATER=1 \
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_TELEMETRY=1 \
    timeout 180 claude -p "Run the shell command: echo hi" --allowedTools Bash \
    </dev/null >"$work/agent.log" 2>&1
}

run_codex() {
  mkdir -p "$HOME/.codex"
  cat >"$HOME/.codex/config.toml" <<TOML
model = "gpt-5-codex"
model_provider = "e2e"
approval_policy = "never"
sandbox_mode = "danger-full-access"

[model_providers.e2e]
name = "e2e"
base_url = "$base/v1"
wire_api = "responses"
env_key = "E2E_API_KEY"
TOML
  difflorectl hooks install --client codex --trust >"$work/install.log" 2>&1 || return 1
  E2E_API_KEY=fake timeout 180 codex exec --skip-git-repo-check "Run the shell command: echo hi" \
    </dev/null >"$work/agent.log" 2>&1
}

run_gemini() {
  mkdir -p "$HOME/.gemini"
  echo '{"security":{"auth":{"selectedType":"gemini-api-key"}},"general":{"disableAutoUpdate":true},"privacy":{"usageStatisticsEnabled":false}}' \
    >"$HOME/.gemini/settings.json"
  difflorectl hooks install --client gemini >"$work/install.log" 2>&1 || return 1
  GEMINI_API_KEY=fake GOOGLE_GEMINI_BASE_URL=$base timeout 180 \
    gemini -p "Run the shell command: echo hi" --yolo --skip-trust -m gemini-2.5-flash \
    </dev/null >"$work/agent.log" 2>&1
}

run_qwen_code() {
  mkdir -p "$HOME/.qwen"
  echo '{"security":{"auth":{"selectedType":"openai"}},"general":{"disableAutoUpdate":true},"privacy":{"usageStatisticsEnabled":false}}' \
    >"$HOME/.qwen/settings.json"
  difflorectl hooks install --client qwen-code >"$work/install.log" 2>&1 || return 1
  OPENAI_API_KEY=fake OPENAI_BASE_URL=$base/v1 OPENAI_MODEL=fake-model timeout 180 \
    qwen -p "Run the shell command: echo hi" --yolo </dev/null >"$work/agent.log" 2>&1
}

run_copilot() {
  difflorectl hooks install --client copilot >"$work/install.log" 2>&1 || return 1
  COPILOT_PROVIDER_BASE_URL=$base/v1 COPILOT_PROVIDER_API_KEY=fake COPILOT_MODEL=fake-model \
    timeout 180 copilot -p "Run the shell command: echo hi" --allow-all-tools \
    </dev/null >"$work/agent.log" 2>&1
}

run_kimi() {
  mkdir -p "$HOME/.kimi-code"
  cat >"$HOME/.kimi-code/config.toml" <<TOML
default_model = "e2e"

[providers.e2e]
type = "openai"
base_url = "$base/v1"
api_key = "fake"

[models.e2e]
provider = "e2e"
model = "fake-model"
max_context_size = 128000
TOML
  difflorectl hooks install --client kimi >"$work/install.log" 2>&1 || return 1
  timeout 180 kimi -p "Run the shell command: echo hi" </dev/null >"$work/agent.log" 2>&1
}

run_droid() {
  mkdir -p "$HOME/.factory"
  cat >"$HOME/.factory/settings.json" <<JSON
{"customModels": [{"model": "fake-model", "displayName": "E2E", "baseUrl": "$base/v1",
  "apiKey": "fake", "provider": "generic-chat-completion-api", "maxOutputTokens": 4096}]}
JSON
  difflorectl hooks install --client droid >"$work/install.log" 2>&1 || return 1
  timeout 180 droid exec --auto high -m "custom:E2E-0" "Run the shell command: echo hi" \
    </dev/null >"$work/agent.log" 2>&1
}

run_cline() {
  difflorectl hooks install --client cline >"$work/install.log" 2>&1 || return 1
  timeout 60 cline auth -p openai -k fake -b "$base/v1" -m fake-model >"$work/auth.log" 2>&1 || return 1
  timeout 180 cline --json "Run the shell command: echo hi" </dev/null >"$work/agent.log" 2>&1
}

run_opencode() {
  # OpenCode finds its user configuration, plugins included, under XDG_CONFIG_HOME (set
  # for this agent by the main loop, so that hooks status looks there too).
  mkdir -p "$XDG_CONFIG_HOME/opencode"
  cat >"$XDG_CONFIG_HOME/opencode/opencode.json" <<JSON
{"autoupdate": false, "share": "disabled",
 "provider": {"e2e": {"npm": "@ai-sdk/openai-compatible", "name": "e2e",
   "options": {"baseURL": "$base/v1", "apiKey": "fake"},
   "models": {"fake-model": {"name": "fake-model", "tool_call": true}}}}}
JSON
  difflorectl hooks install --client opencode >"$work/install.log" 2>&1 || return 1
  timeout 180 opencode run -m e2e/fake-model --auto "Run the shell command: echo hi" \
    </dev/null >"$work/agent.log" 2>&1
}

run_auggie() {
  echo "Auggie talks only to Augment's own backend API, which the scripted server does not speak, and runs hooks only for an account whose hooks feature is on"
  return 3
}

base_path=$PATH
ok=0 failed=0 skipped=0
for agent in "${agents[@]}"; do
  if [[ -n ${WHY_NOT[$agent]:-} ]]; then
    echo "$agent: not run: ${WHY_NOT[$agent]}"; skipped=$((skipped + 1)); continue
  fi
  if [[ -z ${PACKAGE[$agent]:-} ]]; then
    echo "$agent: unknown agent"; failed=$((failed + 1)); continue
  fi
  node_bin=
  if [[ $NEEDS_NODE22 == *" $agent "* ]] && [[ $(node -p 'process.versions.node.split(".")[0]') -lt 22 ]]; then
    node_bin=$(install_agent node22)
  fi
  agent_bin=$(install_agent "$agent") || {
    echo "$agent (${PACKAGE[$agent]}): npm install failed, see $e2e/npm/$agent/install.log"
    failed=$((failed + 1)); continue
  }
  version=$(ls -d "$e2e/npm/$agent/node_modules/${PACKAGE[$agent]%@*}" >/dev/null 2>&1 && node -p "require('$e2e/npm/$agent/node_modules/${PACKAGE[$agent]%@*}/package.json').version")
  sandbox "$agent"
  [[ $agent == opencode ]] && export XDG_CONFIG_HOME=$work/xdg
  fn=run_${agent//-/_}
  why=$($fn 2>&1); rc=$?
  cd "$root"
  if [[ $rc -eq 3 ]]; then
    echo "$agent $version: not run: $why"; skipped=$((skipped + 1)); continue
  fi
  deliver_and_check "$agent"
  verdict=$(node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const rc = Number(process.argv[2]);
    const ok = r.problems.length === 0 && r.fired > 0;
    console.log((ok ? "ok" : "FAIL") + ": agent exit " + rc + ", " + r.fired + " events fired, " + r.delivered +
      " delivered [" + r.events.join(" ") + "]" + (r.problems.length ? "; " + r.problems.join("; ") : "") +
      (r.notes.length ? " (note: " + r.notes.join("; ") + ")" : ""));
  ' "$work/check.json" "$rc")
  echo "$agent $version: $verdict"
  [[ $verdict == ok* ]] && ok=$((ok + 1)) || { failed=$((failed + 1)); echo "   logs: $work"; }
done
echo "e2e: $ok ok, $failed failed, $skipped not run"
[[ $failed -eq 0 ]]
