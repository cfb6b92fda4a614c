// A scripted model server on 127.0.0.1 for `make e2e`: it speaks the four wire formats the
// agents use (Anthropic Messages, OpenAI Responses, OpenAI chat completions, Gemini
// generateContent), answers a conversation with no tool result yet with one shell tool call
// (`echo hi`) and any later turn with a final text. It holds no state between requests: the
// conversation in each request says where the agent is. Never reachable from outside.
import http from "node:http";
import fs from "node:fs";

const log = process.env.FAKE_MODEL_LOG;
const COMMAND = "echo hi";
const FINAL = "Done: the command printed hi.";

function note(line) {
  if (log) fs.appendFileSync(log, line + "\n");
}

// The shell tool among those the agent offers, and arguments that fit its schema.
function shellCall(tools) {
  const named = tools.filter((t) => t && t.name);
  const pick =
    named.find((t) => /^(bash|shell|run_shell_command|exec_command|shell_command|execute|run_command|execute_command|launch-process)$/i.test(t.name)) ||
    named.find((t) => /shell|bash|exec|command|terminal|process/i.test(t.name));
  if (!pick) return null;
  const props = (pick.schema && pick.schema.properties) || {};
  const args = {};
  if (props.cmd) args.cmd = COMMAND;
  else if (props.command && props.command.type === "array") args.command = ["bash", "-lc", COMMAND];
  else args.command = COMMAND;
  for (const [k, v] of Object.entries(props)) {
    if (k in args) continue;
    const required = (pick.schema.required || []).includes(k);
    if (/description/i.test(k)) args[k] = "Print hi";
    else if (required && v.type === "string") args[k] = k === "cwd" || k === "directory" ? process.cwd() : "hi";
    else if (required && v.type === "boolean") args[k] = false;
    else if (required && (v.type === "integer" || v.type === "number")) args[k] = 30;
  }
  return { name: pick.name, args };
}

function sse(res, events) {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  for (const [event, data] of events) {
    if (event) res.write(`event: ${event}\n`);
    res.write(`data: ${JSON.stringify(data)}\n\n`);
  }
  res.end();
}

function json(res, body, status = 200) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

// Anthropic Messages (Claude Code).
function anthropic(req, res, body) {
  const messages = body.messages || [];
  const last = messages[messages.length - 1] || {};
  const content = Array.isArray(last.content) ? last.content : [];
  const hasResult = messages.some((m) => Array.isArray(m.content) && m.content.some((c) => c.type === "tool_result"));
  const tools = (body.tools || []).map((t) => ({ name: t.name, schema: t.input_schema }));
  const call = !hasResult && tools.length > 0 ? shellCall(tools) : null;
  note(`anthropic tools=${tools.length} result=${hasResult} -> ${call ? call.name : "text"}`);
  const id = "msg_" + Date.now();
  const usage = { input_tokens: 10, output_tokens: 5 };
  const block = call
    ? { type: "tool_use", id: "toolu_" + Date.now(), name: call.name, input: call.args }
    : { type: "text", text: FINAL };
  const stop = call ? "tool_use" : "end_turn";
  if (!body.stream) {
    return json(res, { id, type: "message", role: "assistant", model: body.model, content: [block], stop_reason: stop, stop_sequence: null, usage });
  }
  const events = [
    ["message_start", { type: "message_start", message: { id, type: "message", role: "assistant", model: body.model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 10, output_tokens: 1 } } }],
  ];
  if (call) {
    events.push(["content_block_start", { type: "content_block_start", index: 0, content_block: { type: "tool_use", id: block.id, name: block.name, input: {} } }]);
    events.push(["content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "input_json_delta", partial_json: JSON.stringify(call.args) } }]);
  } else {
    events.push(["content_block_start", { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }]);
    events.push(["content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: FINAL } }]);
  }
  events.push(["content_block_stop", { type: "content_block_stop", index: 0 }]);
  events.push(["message_delta", { type: "message_delta", delta: { stop_reason: stop, stop_sequence: null }, usage: { output_tokens: 5 } }]);
  events.push(["message_stop", { type: "message_stop" }]);
  sse(res, events);
}

// OpenAI Responses (Codex).
function responses(req, res, body) {
  const input = Array.isArray(body.input) ? body.input : [];
  const hasResult = input.some((i) => i.type === "function_call_output" || i.type === "custom_tool_call_output");
  const tools = (body.tools || []).map((t) => ({ name: t.name, schema: t.parameters }));
  const call = !hasResult ? shellCall(tools) : null;
  note(`responses tools=${tools.map((t) => t.name).join(",")} result=${hasResult} -> ${call ? call.name : "text"}`);
  const id = "resp_" + Date.now();
  const item = call
    ? { type: "function_call", id: "fc_" + Date.now(), call_id: "call_" + Date.now(), name: call.name, arguments: JSON.stringify(call.args), status: "completed" }
    : { type: "message", id: "msg_" + Date.now(), role: "assistant", status: "completed", content: [{ type: "output_text", text: FINAL, annotations: [] }] };
  const usage = { input_tokens: 10, input_tokens_details: { cached_tokens: 0 }, output_tokens: 5, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 15 };
  sse(res, [
    ["response.created", { type: "response.created", response: { id, object: "response", status: "in_progress", output: [] } }],
    ["response.output_item.added", { type: "response.output_item.added", output_index: 0, item }],
    ["response.output_item.done", { type: "response.output_item.done", output_index: 0, item }],
    ["response.completed", { type: "response.completed", response: { id, object: "response", status: "completed", output: [item], usage } }],
  ]);
}

// OpenAI chat completions (Qwen Code, Copilot CLI's BYOK, Auggie's stand-in, Kimi…).
function chat(req, res, body) {
  const messages = body.messages || [];
  const hasResult = messages.some((m) => m.role === "tool");
  const tools = (body.tools || []).map((t) => ({ name: t.function && t.function.name, schema: t.function && t.function.parameters }));
  const call = !hasResult ? shellCall(tools) : null;
  note(`chat tools=${tools.length} result=${hasResult} stream=${!!body.stream} -> ${call ? call.name : "text"}`);
  const id = "chatcmpl-" + Date.now();
  const created = Math.floor(Date.now() / 1000);
  const toolCall = call && { index: 0, id: "call_" + Date.now(), type: "function", function: { name: call.name, arguments: JSON.stringify(call.args) } };
  const usage = { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 };
  const finish = call ? "tool_calls" : "stop";
  if (!body.stream) {
    const message = call ? { role: "assistant", content: null, tool_calls: [toolCall] } : { role: "assistant", content: FINAL };
    return json(res, { id, object: "chat.completion", created, model: body.model, choices: [{ index: 0, message, finish_reason: finish }], usage });
  }
  const delta = call ? { role: "assistant", content: null, tool_calls: [toolCall] } : { role: "assistant", content: FINAL };
  sse(res, [
    [null, { id, object: "chat.completion.chunk", created, model: body.model, choices: [{ index: 0, delta, finish_reason: null }] }],
    [null, { id, object: "chat.completion.chunk", created, model: body.model, choices: [{ index: 0, delta: {}, finish_reason: finish }], usage }],
  ]);
  res.end();
}

// Gemini generateContent / streamGenerateContent (Gemini CLI).
function gemini(req, res, body, stream) {
  const contents = body.contents || [];
  const hasResult = contents.some((c) => (c.parts || []).some((p) => p.functionResponse));
  const decls = (body.tools || []).flatMap((t) => t.functionDeclarations || []);
  const tools = decls.map((d) => ({ name: d.name, schema: d.parametersJsonSchema || d.parameters }));
  const wantsJson = body.generationConfig && /json/.test(body.generationConfig.responseMimeType || "");
  const call = !hasResult && !wantsJson ? shellCall(tools) : null;
  note(`gemini tools=${tools.length} result=${hasResult} json=${!!wantsJson} -> ${call ? call.name : "text"}`);
  let parts;
  if (call) parts = [{ functionCall: { name: call.name, args: call.args } }];
  else if (wantsJson) parts = [{ text: JSON.stringify({ reasoning: "The task is done.", next_speaker: "user" }) }];
  else parts = [{ text: FINAL }];
  const reply = {
    candidates: [{ content: { role: "model", parts }, finishReason: "STOP", index: 0 }],
    usageMetadata: { promptTokenCount: 10, candidatesTokenCount: 5, totalTokenCount: 15 },
    modelVersion: "fake",
  };
  if (!stream) return json(res, reply);
  sse(res, [[null, reply]]);
}

const server = http.createServer((req, res) => {
  let raw = "";
  req.on("data", (c) => (raw += c));
  req.on("end", () => {
    let body = {};
    try {
      body = raw ? JSON.parse(raw) : {};
    } catch {}
    const url = req.url || "";
    note(`${req.method} ${url}`);
    try {
      if (req.method === "GET" && /\/models/.test(url)) {
        return json(res, { object: "list", data: [{ id: "fake-model", object: "model", created: 0, owned_by: "fake" }], models: [] });
      }
      if (/count_tokens|countTokens/.test(url)) return json(res, { input_tokens: 10, totalTokens: 10 });
      if (/\/messages(\?|$)/.test(url)) return anthropic(req, res, body);
      if (/\/responses(\?|$)/.test(url)) return responses(req, res, body);
      if (/\/chat\/completions/.test(url)) return chat(req, res, body);
      if (/:streamGenerateContent/.test(url)) return gemini(req, res, body, true);
      if (/:generateContent/.test(url)) return gemini(req, res, body, false);
      json(res, {});
    } catch (e) {
      note(`error ${e && e.stack}`);
      json(res, { error: { message: String(e) } }, 500);
    }
  });
});

server.listen(Number(process.env.FAKE_MODEL_PORT || 0), "127.0.0.1", () => {
  const port = server.address().port;
  if (process.env.FAKE_MODEL_PORT_FILE) fs.writeFileSync(process.env.FAKE_MODEL_PORT_FILE, String(port));
  note(`listening ${port}`);
});
