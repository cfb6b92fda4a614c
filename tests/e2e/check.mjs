// `make e2e`'s verdict for one agent run: every payload the agent handed to difflore-hook
// (the witness shim kept a copy of each) must have reached the file collector, with the
// client, kind, session and tool the run expects. Prints one JSON line; reads files only.
import fs from "node:fs";
import path from "node:path";

const [witnessDir, collector, client, statusFile] = process.argv.slice(2);
const witnessed = fs.existsSync(witnessDir)
  ? fs.readdirSync(witnessDir).sort().map((f) => fs.readFileSync(path.join(witnessDir, f), "utf8"))
  : [];
const lines = fs.existsSync(collector)
  ? fs.readFileSync(collector, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l))
  : [];

const problems = [];
const fired = [];
for (const raw of witnessed) {
  let p;
  try {
    p = JSON.parse(raw);
  } catch {
    problems.push(`not JSON: ${raw.slice(0, 80)}`);
    continue;
  }
  fired.push(p);
}
// The agent's own session id, under whichever name it uses.
const sessionOf = (p) =>
  p.session_id ?? p.conversation_id ?? p.sessionId ?? p.taskId ?? p.trajectory_id ?? p["thread-id"] ??
  p.input?.sessionID ?? p.event?.properties?.sessionID ?? p.event?.properties?.info?.sessionID ?? p.event?.properties?.info?.id ?? null;
const toolOf = (p) => p.tool_name ?? p.toolName ?? p.tool_call?.name ?? p.tool_result?.name ?? p.input?.tool ?? null;

if (lines.length !== fired.length) problems.push(`${fired.length} fired, ${lines.length} at the collector`);
// Delivery keeps the outbox's order, which is the order the hook ran in.
const byPayload = new Map();
for (const l of lines) {
  const key = JSON.stringify(l.payload);
  byPayload.set(key, (byPayload.get(key) || []).concat([l]));
}
const events = [];
for (const p of fired) {
  const got = (byPayload.get(JSON.stringify(p)) || []).shift();
  const name = p.hook_event_name ?? p.hookEventName ?? p.hookName ?? p.agent_action_name ?? p.plugin_hook ?? "?";
  if (!got) {
    problems.push(`${name}: not at the collector (or changed on the way)`);
    continue;
  }
  events.push(`${got.event}=${got.kind}`);
  if (got.client !== client) problems.push(`${got.event}: client ${got.client}, want ${client}`);
  const session = sessionOf(p);
  if ((got.session_id ?? null) !== session) problems.push(`${got.event}: session ${got.session_id}, want ${session}`);
  const tool = toolOf(p);
  if ((got.tool ?? null) !== tool) problems.push(`${got.event}: tool ${got.tool}, want ${tool}`);
  if (/^tool\./.test(got.kind) && !got.tool) problems.push(`${got.event}: a tool event without a tool`);
}
// `hooks status` must see the hooks the agent just ran, resolving, with nothing blocking them.
try {
  const status = JSON.parse(fs.readFileSync(statusFile, "utf8")).agents[0].scopes.user;
  if (!status.installed || !status.command_resolves || !status.will_run)
    problems.push(`hooks status: installed ${status.installed}, resolves ${status.command_resolves}, will run ${status.will_run} (${status.blocked})`);
} catch (e) {
  problems.push(`hooks status unreadable: ${e.message}`);
}
const kinds = new Set(lines.map((l) => l.kind));
for (const want of ["tool.pre", "tool.post"]) if (!kinds.has(want)) problems.push(`no ${want} event`);
// The one shell call really ran: its output ("hi") is in a tool.post payload.
if (!lines.some((l) => l.kind === "tool.post" && /\bhi\b/.test(JSON.stringify(l.payload)))) problems.push("no tool.post shows the command's output");
const sessions = new Set(lines.map((l) => l.session_id));
// What the agent did that a reader of the history would not expect from one prompt.
const notes = [];
const prompts = lines.filter((l) => l.kind === "prompt.submit").length;
if (prompts > 1) notes.push(`${prompts} prompt.submit events for one prompt`);
if (!kinds.has("session.end")) notes.push("no session.end");
console.log(JSON.stringify({ fired: fired.length, delivered: lines.length, events, sessions: [...sessions], problems, notes }));
