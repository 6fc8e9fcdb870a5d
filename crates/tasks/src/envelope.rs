//! The broker message envelope of one chunk of a task (`proto-schemas/chunk.v1.json`).

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use userhub_domain::echo::EchoedInput;
use userhub_domain::{DomainId, FieldError, TaskAction, TaskId, TaskOptions};

/// The `schema` tag of version 1 of the chunk message.
pub const CHUNK_SCHEMA_V1: &str = "userhub.chunk.v1";

/// A slice of a task's records, published by the gateway and applied by one worker.
#[derive(Debug, Serialize, Deserialize)]
pub struct ChunkMessage {
    pub schema: String,
    pub task_id: TaskId,
    pub domain_id: DomainId,
    pub domain: String,
    pub action: TaskAction,
    pub chunk_no: u32,
    pub chunks_total: u32,
    pub records: Vec<ChunkRecord>,
    /// An export selector (EXT): the worker turns it into chunks of the selected profiles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<serde_json::Value>,
    /// The task's options (EXT), e.g. an upsert's `match_by`.
    #[serde(default, skip_serializing_if = "TaskOptions::is_default")]
    pub options: TaskOptions,
}

/// One record of a chunk: its position in the request and either its JSON or, for a line that
/// was not JSON, its raw text. `errors` holds problems the gateway already found.
#[derive(Debug, Serialize, Deserialize)]
pub struct ChunkRecord {
    /// 0-based position among the request's records.
    pub index: u32,
    /// 1-based line in a JSONL upload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present_raw"
    )]
    pub input: Option<Box<RawValue>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// A present `input` is kept even when it is JSON `null` (a record that is `null`).
fn present_raw<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Box<RawValue>>, D::Error> {
    Box::<RawValue>::deserialize(deserializer).map(Some)
}

impl ChunkRecord {
    /// The `input` to echo in the errors file: the record's JSON, or its text cut at 4 KiB.
    pub fn echoed_input(&self) -> EchoedInput {
        EchoedInput::of(self.input.as_deref(), self.raw.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use userhub_domain::ErrorCode;

    #[test]
    fn chunk_messages_round_trip_with_raw_records() {
        let message = ChunkMessage {
            schema: CHUNK_SCHEMA_V1.into(),
            task_id: TaskId::from_parts(1, 2),
            domain_id: DomainId::new(7),
            domain: "demo".into(),
            action: TaskAction::CreateCoreProfiles,
            options: Default::default(),
            chunk_no: 0,
            chunks_total: 1,
            records: vec![
                ChunkRecord {
                    index: 0,
                    line: Some(1),
                    input: Some(
                        RawValue::from_string(r#"{"identities":[{"uid":"u"}]}"#.into()).unwrap(),
                    ),
                    raw: None,
                    errors: vec![],
                },
                ChunkRecord {
                    index: 1,
                    line: Some(2),
                    input: None,
                    raw: Some("{not json".into()),
                    errors: vec![FieldError::new("", ErrorCode::InvalidJson, "bad")],
                },
            ],
            selector: None,
        };
        let text = serde_json::to_string(&message).unwrap();
        let back: ChunkMessage = serde_json::from_str(&text).unwrap();
        assert_eq!(
            back.records[0].input.as_ref().unwrap().get(),
            r#"{"identities":[{"uid":"u"}]}"#
        );
        assert_eq!(
            back.records[1].echoed_input(),
            EchoedInput::Text("{not json".to_owned())
        );
        assert_eq!(back.action, TaskAction::CreateCoreProfiles);
    }

    #[test]
    fn a_null_record_stays_a_record() {
        let record: ChunkRecord = serde_json::from_str(r#"{"index": 2, "input": null}"#).unwrap();
        assert_eq!(record.input.unwrap().get(), "null");
        let missing: ChunkRecord = serde_json::from_str(r#"{"index": 2, "raw": "x"}"#).unwrap();
        assert!(missing.input.is_none());
    }
}
