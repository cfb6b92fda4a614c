//! The one module all three binaries share: data-home paths, the outbox store, the event
//! record, its vocabulary and its assembly into tool calls, turns and spans, the JSON
//! scanner, spill files, the pid/lock file, the health record and configuration.
//! Synchronous by design: std, rusqlite, serde, dirs, libc only (no tokio, reqwest, bpaf).

pub mod assemble;
pub mod config;
pub mod event;
pub mod health;
pub mod json;
pub mod paths;
pub mod pidfile;
pub mod shown_url;
pub mod spill;
pub mod store;
pub mod sys;
pub mod vocabulary;

/// Milliseconds since the Unix epoch: the one clock every table and file uses.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `error: cause: cause…`, the one line each binary prints for an error. A cause whose
/// words the line already ends with (rusqlite repeats SQLite's message in its source) is
/// not repeated.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut line = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        let said = text
            .rsplit_once(": ")
            .map_or(text.as_str(), |(_, tail)| tail);
        if !line.ends_with(said) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line
}
