//! Reading an OTLP/HTTP success answer. A partial success says how many log records the
//! collector dropped but never which, so the batch still counts as delivered: this only
//! words what to log. Never turns an answer into a failure.

use serde_json::Value;

use crate::daemon::sink::http::excerpt;

/// What a 2xx answer to a batch of `sent` records is worth logging, if anything.
pub fn note(sent: usize, body: &[u8]) -> Option<String> {
    let answer: Value = serde_json::from_slice(body).ok()?;
    let partial = answer.get("partialSuccess")?;
    // int64 is a string in protobuf JSON; accept a bare number from lenient servers too.
    let rejected = match partial.get("rejectedLogRecords") {
        Some(Value::String(text)) => text.parse::<i64>().unwrap_or(0),
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        _ => 0,
    };
    let message = partial
        .get("errorMessage")
        .and_then(Value::as_str)
        .map(|m| excerpt(m.as_bytes(), None))
        .unwrap_or_default();
    if rejected > 0 {
        Some(format!(
            "collector accepted a batch of {sent} but rejected {rejected} log records (it does not say which; they are not resent){message}"
        ))
    } else if !message.is_empty() {
        Some(format!(
            "collector accepted a batch of {sent} with a warning{message}"
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_success_is_worded_with_its_count_and_message() {
        let body =
            br#"{"partialSuccess":{"rejectedLogRecords":"3","errorMessage":"too old\nby far"}}"#;
        assert_eq!(
            note(10, body).as_deref(),
            Some(
                "collector accepted a batch of 10 but rejected 3 log records (it does not say which; they are not resent): too old by far"
            )
        );
        let numeric = br#"{"partialSuccess":{"rejectedLogRecords":2}}"#;
        assert!(note(5, numeric).unwrap().contains("rejected 2 log records"));
    }

    #[test]
    fn full_successes_say_nothing_unless_they_warn() {
        assert_eq!(note(1, b""), None);
        assert_eq!(note(1, b"{}"), None);
        assert_eq!(note(1, br#"{"partialSuccess":{}}"#), None);
        assert_eq!(
            note(1, br#"{"partialSuccess":{"errorMessage":"slow down"}}"#).as_deref(),
            Some("collector accepted a batch of 1 with a warning: slow down")
        );
    }
}
