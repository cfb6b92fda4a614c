//! difflore's own JSON encoding: `{"events":[…]}`, each event with its dedup id and the
//! payload exactly as captured. One encoder among others over the HTTP transport.

use serde::Serialize;

use super::OutEvent;
use super::http::{EncodeError, Encoder};

pub struct JsonEncoder;

#[derive(Serialize)]
struct Body<'a> {
    events: &'a [OutEvent],
}

impl Encoder for JsonEncoder {
    fn content_type(&self) -> &'static str {
        "application/json"
    }

    fn encode(&self, events: &[OutEvent]) -> Result<Vec<u8>, EncodeError> {
        serde_json::to_vec(&Body { events }).map_err(|e| EncodeError(Box::new(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::vocabulary::Kind;
    use serde_json::value::RawValue;

    #[test]
    fn the_payload_is_embedded_as_the_original_json() {
        let ev = OutEvent {
            row: 7,
            id: "abc-7".into(),
            received_ms: 1_735_689_600_000,
            client: "codex".into(),
            event: "Stop".into(),
            kind: Kind::TurnStop,
            session_id: Some("s".into()),
            cwd: None,
            tool: None,
            received_at: "2025-01-01T00:00:00.000Z".into(),
            payload: RawValue::from_string(r#"{"a": [1, 2.50]}"#.into()).unwrap(),
            usage: None,
            spans: Vec::new(),
            span: None,
        };
        let body = String::from_utf8(JsonEncoder.encode(&[ev]).unwrap()).unwrap();
        assert_eq!(
            body,
            r#"{"events":[{"id":"abc-7","client":"codex","event":"Stop","kind":"turn.stop","session_id":"s","cwd":null,"tool":null,"received_at":"2025-01-01T00:00:00.000Z","payload":{"a": [1, 2.50]}}]}"#
        );
    }
}
