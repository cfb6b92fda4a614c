//! `make demo`'s OTLP collector, an example binary: `serve DIR` answers OTLP/HTTP on
//! 127.0.0.1 (the port goes to DIR/port) and keeps each /v1/traces body it receives in DIR,
//! gunzipped and as sent; `show DIR` decodes them with the official OTLP messages and prints
//! each trace as a small text waterfall: the turn, its tool calls and subagents under their
//! parents, each with its duration. A demo tool: difflore itself never runs it.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use prost::Message;

/// Width of the bar a turn's whole duration fills.
const BAR: usize = 32;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [cmd, dir] if cmd == "serve" => serve(Path::new(dir)),
        [cmd, dir] if cmd == "show" => show(Path::new(dir)),
        _ => Err("usage: otlp_waterfall serve DIR | show DIR".to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("otlp_waterfall: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(dir: &Path) -> Result<(), String> {
    let server = tiny_http::Server::http("127.0.0.1:0").map_err(|e| e.to_string())?;
    let port = server
        .server_addr()
        .to_ip()
        .map(|a| a.port())
        .ok_or("no port")?;
    // Written whole, then renamed: whoever waits for the file never reads half of it.
    let tmp = dir.join("port.tmp");
    std::fs::write(&tmp, port.to_string()).map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, dir.join("port")).map_err(|e| e.to_string())?;
    for (n, mut req) in server.incoming_requests().enumerate() {
        let header = |name: &'static str| {
            req.headers()
                .iter()
                .find(|h| h.field.equiv(name))
                .map(|h| h.value.to_string())
        };
        let gzip = header("Content-Encoding").is_some_and(|v| v == "gzip");
        let json = header("Content-Type").is_some_and(|v| v.starts_with("application/json"));
        let mut body = Vec::new();
        let _ = req.as_reader().read_to_end(&mut body);
        if gzip {
            let mut plain = Vec::new();
            flate2::read::GzDecoder::new(&body[..])
                .read_to_end(&mut plain)
                .map_err(|e| format!("a gzip body that is not gzip: {e}"))?;
            body = plain;
        }
        if req.url() == "/v1/traces" {
            let name = format!("traces-{n:05}.{}", if json { "json" } else { "pb" });
            std::fs::write(dir.join(name), &body).map_err(|e| e.to_string())?;
        }
        // A full success: an empty response message in the request's encoding.
        let (reply, kind) = if json {
            (b"{}".to_vec(), "application/json")
        } else {
            (Vec::new(), "application/x-protobuf")
        };
        let content_type = tiny_http::Header::from_bytes("Content-Type", kind)
            .map_err(|()| "bad header".to_owned())?;
        let _ = req.respond(tiny_http::Response::from_data(reply).with_header(content_type));
    }
    Ok(())
}

fn decode(path: &Path) -> Result<ExportTraceServiceRequest, String> {
    let body = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_slice(&body).map_err(|e| format!("{}: {e}", path.display()))
    } else {
        ExportTraceServiceRequest::decode(&body[..]).map_err(|e| format!("{}: {e}", path.display()))
    }
}

fn attr(s: &Span, key: &str) -> Option<String> {
    let v = s.attributes.iter().find(|a| a.key == key)?.value.as_ref()?;
    match v.value.as_ref()? {
        Any::StringValue(text) => Some(text.clone()),
        Any::IntValue(n) => Some(n.to_string()),
        Any::BoolValue(b) => Some(b.to_string()),
        _ => None,
    }
}

fn took(ns: u64) -> String {
    let ms = ns as f64 / 1e6;
    if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.1} s", ms / 1000.0)
    }
}

fn show(dir: &Path) -> Result<(), String> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("traces-"))
        })
        .collect();
    files.sort();
    // By span id: a retried request carries the same spans again.
    let mut spans: HashMap<Vec<u8>, Span> = HashMap::new();
    for file in &files {
        let req = decode(file)?;
        for s in req
            .resource_spans
            .into_iter()
            .flat_map(|r| r.scope_spans)
            .flat_map(|s| s.spans)
        {
            spans.insert(s.span_id.clone(), s);
        }
    }
    let mut traces: BTreeMap<Vec<u8>, Vec<&Span>> = BTreeMap::new();
    for s in spans.values() {
        traces.entry(s.trace_id.clone()).or_default().push(s);
    }
    let mut roots: Vec<&Span> = spans
        .values()
        .filter(|s| s.parent_span_id.is_empty())
        .collect();
    roots.sort_by_key(|s| s.start_time_unix_nano);
    let n = |count: usize, one: &str| format!("{count} {one}{}", if count == 1 { "" } else { "s" });
    println!(
        "{}, {}, {}",
        n(files.len(), "request"),
        n(spans.len(), "span"),
        n(traces.len(), "trace")
    );
    for root in roots {
        let members = &traces[&root.trace_id];
        let session = attr(root, "session.id").unwrap_or_default();
        let turn = attr(root, "difflore.turn").unwrap_or_default();
        println!();
        println!(
            "trace {}  session {session}  turn {turn}",
            hex(&root.trace_id)
        );
        print_tree(root, members, root, 0);
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn print_tree(s: &Span, members: &[&Span], root: &Span, depth: usize) {
    let whole = root
        .end_time_unix_nano
        .saturating_sub(root.start_time_unix_nano)
        .max(1);
    let at = |t: u64| {
        (t.saturating_sub(root.start_time_unix_nano) as u128 * BAR as u128 / whole as u128) as usize
    };
    let from = at(s.start_time_unix_nano).min(BAR - 1);
    let to = at(s.end_time_unix_nano).clamp(from + 1, BAR);
    let bar = format!(
        "{}{}{}",
        " ".repeat(from),
        "█".repeat(to - from),
        " ".repeat(BAR - to)
    );
    let mut notes = Vec::new();
    if s.status
        .as_ref()
        .is_some_and(|st| st.code == StatusCode::Error as i32)
    {
        notes.push("ERROR".to_owned());
    }
    if attr(s, "difflore.span.incomplete").as_deref() == Some("true") {
        notes.push("incomplete".to_owned());
    }
    let label = format!("{}{}", "  ".repeat(depth), s.name);
    let line = format!(
        "  {label:<40} |{bar}| {:>7} {}",
        took(s.end_time_unix_nano.saturating_sub(s.start_time_unix_nano)),
        notes.join(" ")
    );
    println!("{}", line.trim_end());
    let mut children: Vec<&&Span> = members
        .iter()
        .filter(|c| c.parent_span_id == s.span_id)
        .collect();
    children.sort_by_key(|c| c.start_time_unix_nano);
    for c in children {
        print_tree(c, members, root, depth + 1);
    }
}
