//! A real HTTP collector on 127.0.0.1 for daemon tests, scripted answer by answer: status
//! codes, Retry-After, slow answers, a required token, poison events refused with 400, and
//! "not listening yet" (connection refused), redirects, answers held until the test releases
//! them (all at once, or one numbered gate at a time), per-request delays so that answers
//! come back out of order, and echoing the Authorization header back in error bodies (as
//! careless servers do). Counts the requests being answered at once.
//! Understands difflore's JSON and OTLP/JSON logs (an event's id is then its
//! `difflore.event.id` attribute). Records every accepted event id and counts duplicates.
//! Loopback only; never depends on timing to put the daemon in a state.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;
use socket2::{Domain, Socket, Type};

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub retry_after: Option<String>,
    pub delay: Duration,
    pub body: String,
    /// A `Location` header (for 3xx answers).
    pub location: Option<String>,
    /// Recorded (and, if 2xx, accepted) on arrival, but answered only once the test opens
    /// this gate (`Collector::release_gate`, or `release` for all): the daemon is then
    /// provably waiting on this request.
    pub held: Option<usize>,
}

impl Reply {
    pub fn ok() -> Reply {
        Reply::status(200)
    }

    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            retry_after: None,
            delay: Duration::ZERO,
            body: String::new(),
            location: None,
            held: None,
        }
    }

    pub fn retry_after(mut self, value: &str) -> Reply {
        self.retry_after = Some(value.to_owned());
        self
    }

    pub fn delay(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }

    pub fn location(mut self, url: &str) -> Reply {
        self.location = Some(url.to_owned());
        self
    }

    /// Answer only after `Collector::release` (or the collector's Drop).
    pub fn held(self) -> Reply {
        self.held_on(0)
    }

    /// Answer only once gate `gate` opens (`release_gate`, `release`, or Drop).
    pub fn held_on(mut self, gate: usize) -> Reply {
        self.held = Some(gate);
        self
    }
}

/// Latches for held answers, by number: each closed until released, then open for good.
#[derive(Default)]
struct Gates {
    state: Mutex<Latches>,
    opened: Condvar,
}

#[derive(Default)]
struct Latches {
    all: bool,
    open: BTreeSet<usize>,
}

impl Gates {
    fn open(&self, gate: usize) {
        self.lock().open.insert(gate);
        self.opened.notify_all();
    }

    fn open_all(&self) {
        self.lock().all = true;
        self.opened.notify_all();
    }

    fn wait(&self, gate: usize) {
        let mut latches = self.lock();
        while !latches.all && !latches.open.contains(&gate) {
            latches = self.opened.wait(latches).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Latches> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What the collector saw in one request.
#[derive(Debug, Clone)]
pub struct Seen {
    pub status: u16,
    /// difflore events, or for OTLP `{"id": <difflore.event.id>, "record": <logRecord>}`.
    pub events: Vec<Value>,
    pub headers: HashMap<String, String>,
    pub path: String,
    /// The request body, gunzipped.
    pub body: Vec<u8>,
}

#[derive(Default)]
struct State {
    script: VecDeque<Reply>,
    default: Option<Reply>,
    /// Delays the default answers take in turn (per request, so answers overtake).
    default_delays: Vec<Duration>,
    poison: Vec<String>,
    token: Option<String>,
    echo_authorization: bool,
    accepted: HashMap<String, u32>,
    first_arrival: HashMap<String, Instant>,
    events: Vec<Value>,
    requests: Vec<Seen>,
    started: usize,
    /// Requests arrived and not yet answered, and the most there ever were.
    answering: usize,
    peak_answering: usize,
    last_arrival: Option<Instant>,
    /// Keep only ids and counts, not bodies and events (the bench's 100,000 events).
    light: bool,
}

pub struct Collector {
    pub port: u16,
    /// The reserved port's socket: bound (so nobody else can take the port) but not
    /// listening (so a connect is refused) until `listen`.
    reserved: Option<Socket>,
    state: Arc<Mutex<State>>,
    gates: Arc<Gates>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Collector {
    /// Listening now on a free loopback port.
    pub fn start() -> Collector {
        let mut c = Collector::unbound(0, None);
        c.listen();
        c
    }

    /// A port nobody listens on yet: the daemon meets "connection refused". The port stays
    /// bound to us (not listening: on Linux a connect is answered with RST), so neither a
    /// parallel test nor the daemon's own ephemeral socket can take it before `listen`.
    pub fn reserve() -> Collector {
        let socket =
            Socket::new(Domain::IPV4, Type::STREAM, None).expect("create a loopback socket");
        socket
            .bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())
            .expect("bind a free loopback port");
        let port = socket
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .expect("the reserved port")
            .port();
        Collector::unbound(port, Some(socket))
    }

    fn unbound(port: u16, reserved: Option<Socket>) -> Collector {
        Collector {
            port,
            reserved,
            state: Arc::default(),
            gates: Arc::default(),
            stop: Arc::default(),
            thread: None,
        }
    }

    /// Start answering: on the reserved port, or (from `start`) on a fresh one.
    pub fn listen(&mut self) {
        let listener = match self.reserved.take() {
            Some(socket) => {
                socket.listen(128).expect("listen on the reserved port");
                TcpListener::from(socket)
            }
            // Port 0: the kernel picks a free port and binds it in one step, so two tests
            // running side by side never race for the same one.
            None => TcpListener::bind("127.0.0.1:0").expect("bind collector"),
        };
        self.port = listener.local_addr().expect("collector address").port();
        let server = tiny_http::Server::from_listener(listener, None).expect("start collector");
        let state = self.state.clone();
        let gates = self.gates.clone();
        let stop = self.stop.clone();
        self.thread = Some(std::thread::spawn(move || {
            let server = Arc::new(server);
            while !stop.load(Ordering::SeqCst) {
                if let Ok(Some(req)) = server.recv_timeout(Duration::from_millis(20)) {
                    let (state, gates) = (state.clone(), gates.clone());
                    // Slow or held answers must not hold up the accept loop (or Drop).
                    std::thread::spawn(move || answer(req, &state, &gates));
                }
            }
        }));
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/ingest", self.port)
    }

    /// Answers for the next requests, in order; afterwards the default (200).
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.lock().script.extend(replies);
    }

    pub fn set_default(&self, reply: Reply) {
        self.lock().default = Some(reply);
    }

    /// Default answers take these delays in turn, one per request: with several requests
    /// out at once, later ones are answered first.
    pub fn set_default_delays(&self, delays: &[Duration]) {
        self.lock().default_delays = delays.to_vec();
    }

    /// Read ids only, and keep ids, counts and arrival times only (no bodies, no events,
    /// no poison checks): for the bench, where a collector building every event would cost
    /// more than the daemon sending it.
    pub fn light(&self) {
        self.lock().light = true;
    }

    /// Refuse (400) any batch holding an event whose payload contains `marker`.
    pub fn poison(&self, marker: &str) {
        self.lock().poison.push(marker.to_owned());
    }

    /// Answer 401 unless `Authorization: Bearer <token>`.
    pub fn require_token(&self, token: &str) {
        self.lock().token = Some(token.to_owned());
    }

    /// Start every error body (4xx, 5xx) with the Authorization header the request carried.
    pub fn echo_authorization(&self) {
        self.lock().echo_authorization = true;
    }

    /// Every event id accepted with a 2xx.
    pub fn ids(&self) -> BTreeSet<String> {
        self.lock().accepted.keys().cloned().collect()
    }

    /// When an id was first accepted (for latency figures in `make bench`).
    pub fn arrival(&self, id: &str) -> Option<Instant> {
        self.lock().first_arrival.get(id).copied()
    }

    /// When the latest first acceptance of any id happened.
    pub fn last_arrival(&self) -> Option<Instant> {
        self.lock().last_arrival
    }

    /// The most requests that were arrived and not yet answered at the same time.
    pub fn peak_concurrency(&self) -> usize {
        self.lock().peak_answering
    }

    /// Requests received so far (a count: `requests` clones every body).
    pub fn request_count(&self) -> usize {
        self.lock().started
    }

    /// How many distinct ids were accepted.
    pub fn accepted_count(&self) -> usize {
        self.lock().accepted.len()
    }

    /// Accepted deliveries beyond the first of each id.
    pub fn duplicates(&self) -> u32 {
        self.lock().accepted.values().map(|n| n - 1).sum()
    }

    /// Accepted events, in arrival order (duplicates included).
    pub fn events(&self) -> Vec<Value> {
        self.lock().events.clone()
    }

    /// Requests answered so far.
    pub fn requests(&self) -> Vec<Seen> {
        self.lock().requests.clone()
    }

    /// Answer every held request, now and from now on, whatever its gate.
    pub fn release(&self) {
        self.gates.open_all();
    }

    /// Answer the requests held on `gate`, now and from now on.
    pub fn release_gate(&self, gate: usize) {
        self.gates.open(gate);
    }

    /// Requests received so far, answered or not.
    pub fn started(&self) -> usize {
        self.lock().started
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        // Nothing may wait on a test that has ended, passed or failed.
        self.release();
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn answer(mut req: tiny_http::Request, state: &Mutex<State>, gates: &Gates) {
    let headers: HashMap<String, String> = req
        .headers()
        .iter()
        .map(|h| {
            (
                h.field.as_str().as_str().to_ascii_lowercase(),
                h.value.to_string(),
            )
        })
        .collect();
    let mut raw = Vec::new();
    let _ = req.as_reader().read_to_end(&mut raw);
    if headers.get("content-encoding").is_some_and(|v| v == "gzip") {
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut plain)
            .expect("gzip body");
        raw = plain;
    }
    let protobuf = headers
        .get("content-type")
        .is_some_and(|v| v == "application/x-protobuf");
    let light = state.lock().unwrap_or_else(|p| p.into_inner()).light;
    let events = if light && !protobuf {
        ids_only(&raw)
    } else if protobuf {
        protobuf_json(&raw, req.url())
            .map(|v| events_in(&v))
            .unwrap_or_default()
    } else {
        serde_json::from_slice::<Value>(&raw)
            .map(|v| events_in(&v))
            .unwrap_or_default()
    };
    let path = req.url().to_owned();
    let reply = {
        let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
        s.started += 1;
        s.answering += 1;
        s.peak_answering = s.peak_answering.max(s.answering);
        let auth_ok = s
            .token
            .as_ref()
            .is_none_or(|t| headers.get("authorization") == Some(&format!("Bearer {t}")));
        let poisoned = events.iter().any(|e| {
            let payload = e
                .get("payload")
                .or_else(|| e.get("record"))
                .map(Value::to_string)
                .unwrap_or_default();
            s.poison.iter().any(|m| payload.contains(m))
        });
        let reply = if !auth_ok {
            Reply::status(401)
        } else if poisoned {
            Reply {
                body: "event refused: poison payload".into(),
                ..Reply::status(400)
            }
        } else {
            match s.script.pop_front() {
                Some(scripted) => scripted,
                None => {
                    let mut reply = s.default.clone().unwrap_or_else(Reply::ok);
                    if !s.default_delays.is_empty() {
                        let turn = s.started % s.default_delays.len();
                        reply.delay = s.default_delays[turn];
                    }
                    reply
                }
            }
        };
        if (200..300).contains(&reply.status) {
            let now = Instant::now();
            let light = s.light;
            for e in &events {
                let id = e["id"].as_str().unwrap_or_default().to_owned();
                if !s.first_arrival.contains_key(&id) {
                    s.first_arrival.insert(id.clone(), now);
                    s.last_arrival = Some(now);
                }
                *s.accepted.entry(id).or_insert(0) += 1;
                if !light {
                    s.events.push(e.clone());
                }
            }
        }
        let mut reply = reply;
        if s.echo_authorization && reply.status >= 400 {
            let sent = headers.get("authorization").cloned().unwrap_or_default();
            reply.body = format!("you sent authorization: {sent}; {}", reply.body);
        }
        if !s.light {
            s.requests.push(Seen {
                status: reply.status,
                events: events.clone(),
                headers,
                path,
                body: raw,
            });
        }
        reply
    };
    if let Some(gate) = reply.held {
        gates.wait(gate);
    }
    std::thread::sleep(reply.delay);
    let mut resp = tiny_http::Response::from_string(reply.body).with_status_code(reply.status);
    if let Some(url) = reply.location {
        resp = resp.with_header(
            tiny_http::Header::from_bytes(&b"Location"[..], url.as_bytes()).expect("header"),
        );
    }
    if let Some(ra) = reply.retry_after {
        resp = resp.with_header(
            tiny_http::Header::from_bytes(&b"Retry-After"[..], ra.as_bytes()).expect("header"),
        );
    }
    // Done before the answer leaves: once the daemon has the answer, the count is down.
    state.lock().unwrap_or_else(|p| p.into_inner()).answering -= 1;
    let _ = req.respond(resp);
}

/// difflore's `{"events":[…]}` read for the ids alone (the rest skipped, not built).
fn ids_only(raw: &[u8]) -> Vec<Value> {
    #[derive(serde::Deserialize)]
    struct Body {
        events: Vec<Id>,
    }
    #[derive(serde::Deserialize)]
    struct Id {
        id: String,
    }
    serde_json::from_slice::<Body>(raw)
        .map(|b| {
            b.events
                .into_iter()
                .map(|e| serde_json::json!({ "id": e.id }))
                .collect()
        })
        .unwrap_or_default()
}

/// An OTLP protobuf request (logs, or traces by its path) in its OTLP/JSON mapping, read
/// with the official messages.
fn protobuf_json(raw: &[u8], path: &str) -> Option<Value> {
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use prost::Message;
    if path.ends_with("/v1/traces") {
        let req = ExportTraceServiceRequest::decode(raw).ok()?;
        return serde_json::to_value(req).ok();
    }
    let req = ExportLogsServiceRequest::decode(raw).ok()?;
    serde_json::to_value(req).ok()
}

/// The events in a body: difflore's `{"events":[…]}`, or every OTLP log record.
fn events_in(body: &Value) -> Vec<Value> {
    if let Some(events) = body.get("events").and_then(Value::as_array) {
        return events.clone();
    }
    let all = |v: &Value, key: &str| v.get(key).and_then(Value::as_array).cloned();
    let mut out = Vec::new();
    for resource in all(body, "resourceLogs").unwrap_or_default() {
        for scope in all(&resource, "scopeLogs").unwrap_or_default() {
            for record in all(&scope, "logRecords").unwrap_or_default() {
                let id = all(&record, "attributes")
                    .unwrap_or_default()
                    .into_iter()
                    .find(|a| a["key"] == "difflore.event.id")
                    .map(|a| a["value"]["stringValue"].clone())
                    .unwrap_or_default();
                out.push(serde_json::json!({"id": id, "record": record}));
            }
        }
    }
    out
}
