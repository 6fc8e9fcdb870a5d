//! The message envelope of one chunk of a task (`proto-schemas/chunk.v1.json`, and
//! `chunk.v2.json` for a claim check whose records wait in PostgreSQL): its one type,
//! [`ChunkMessage`], borrowing what it carries when it is built and owning it when it is read,
//! and its one codec — [`encode`] for the intake and the export planner, [`decode`] (which
//! checks the schema tag) for the workers, and [`encode_records`] / [`decode_records`] for the
//! stored records of a claim check (JSON compressed with LZ4, which is fast enough to cost the
//! gateway less than the bytes it saves PostgreSQL).

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::borrow::Cow;
use userhub_domain::echo::EchoedInput;
use userhub_domain::{DomainId, FieldError, TaskAction, TaskId, TaskKey, TaskOptions};

/// The `schema` tag of version 1 of the chunk message.
pub const CHUNK_SCHEMA_V1: &str = "userhub.chunk.v1";

/// The `schema` tag of version 2: a claim check, which names its chunk and carries no records
/// (they are stored in PostgreSQL with the task, see `userhub_store::chunk_bodies`).
pub const CHUNK_SCHEMA_V2: &str = "userhub.chunk.v2";

/// A slice of a task's records, published by the intake (or the export planner) and applied by
/// one worker.
#[derive(Debug, Serialize, Deserialize)]
pub struct ChunkMessage<'a> {
    pub schema: Cow<'a, str>,
    pub task_id: TaskId,
    pub domain_id: DomainId,
    pub domain: Cow<'a, str>,
    pub action: TaskAction,
    pub chunk_no: u32,
    pub chunks_total: u32,
    /// The records (none in a claim check).
    #[serde(default)]
    pub records: Vec<ChunkRecord<'a>>,
    /// An export selector (EXT): the worker turns it into chunks of the selected profiles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<Cow<'a, serde_json::Value>>,
    /// The task's options (EXT), e.g. an upsert's `match_by`.
    #[serde(default, skip_serializing_if = "default_options")]
    pub options: Cow<'a, TaskOptions>,
}

/// A chunk message as a worker reads it.
pub type ReceivedChunk = ChunkMessage<'static>;

fn default_options(options: &TaskOptions) -> bool {
    options.is_default()
}

/// One record of a chunk: its position in the request and either its JSON or, for a line that
/// was not JSON, its raw text. `errors` holds problems the intake already found.
#[derive(Debug, Serialize, Deserialize)]
pub struct ChunkRecord<'a> {
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
    pub input: Option<Cow<'a, RawValue>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "no_errors")]
    pub errors: Cow<'a, [FieldError]>,
}

fn no_errors(errors: &[FieldError]) -> bool {
    errors.is_empty()
}

/// A present `input` is kept even when it is JSON `null` (a record that is `null`).
fn present_raw<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Cow<'static, RawValue>>, D::Error> {
    Box::<RawValue>::deserialize(deserializer).map(|raw| Some(Cow::Owned(raw)))
}

impl ChunkRecord<'_> {
    /// The `input` to echo in the errors file: the record's JSON, or its text cut at 4 KiB.
    pub fn echoed_input(&self) -> EchoedInput {
        EchoedInput::of(self.input.as_deref(), self.raw.as_deref())
    }
}

/// Whose chunk it is and where it sits in its task.
#[derive(Debug, Clone, Copy)]
pub struct ChunkHeader<'a> {
    pub task_id: TaskId,
    pub domain_id: DomainId,
    pub domain: &'a str,
    pub action: TaskAction,
    pub options: &'a TaskOptions,
    pub chunk_no: u32,
    pub chunks_total: u32,
}

impl<'a> ChunkMessage<'a> {
    /// A chunk of version 1 holding `records`.
    pub fn new(header: ChunkHeader<'a>, records: Vec<ChunkRecord<'a>>) -> ChunkMessage<'a> {
        ChunkMessage {
            schema: Cow::Borrowed(CHUNK_SCHEMA_V1),
            task_id: header.task_id,
            domain_id: header.domain_id,
            domain: Cow::Borrowed(header.domain),
            action: header.action,
            chunk_no: header.chunk_no,
            chunks_total: header.chunks_total,
            records,
            selector: None,
            options: Cow::Borrowed(header.options),
        }
    }

    /// A claim check for the chunk, whose records are stored apart.
    pub fn reference(header: ChunkHeader<'a>) -> ChunkMessage<'a> {
        ChunkMessage {
            schema: Cow::Borrowed(CHUNK_SCHEMA_V2),
            ..ChunkMessage::new(header, Vec::new())
        }
    }

    /// The task the chunk belongs to.
    pub fn task(&self) -> TaskKey {
        TaskKey::new(self.domain_id, self.task_id)
    }

    /// Whether the chunk's records are stored apart (a claim check).
    pub fn is_reference(&self) -> bool {
        self.schema == CHUNK_SCHEMA_V2
    }
}

impl ReceivedChunk {
    /// The chunk with the records its claim check stood for: a message of version 1.
    pub fn with_records(self, records: Vec<ChunkRecord<'static>>) -> ReceivedChunk {
        ChunkMessage {
            schema: Cow::Borrowed(CHUNK_SCHEMA_V1),
            records,
            ..self
        }
    }
}

/// Why a message body is not a chunk this version can apply.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    #[error("not a chunk message: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error(
        "a chunk message of schema `{0}`, which this version cannot apply (it applies `{CHUNK_SCHEMA_V1}` and `{CHUNK_SCHEMA_V2}`)"
    )]
    UnknownSchema(String),
    #[error("stored chunk records that do not decompress: {0}")]
    Compressed(#[from] lz4_flex::block::DecompressError),
}

/// The message body of `message`.
pub fn encode(message: &ChunkMessage<'_>) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(message)
}

/// Reads a message body, refusing a schema other than versions 1 and 2.
pub fn decode(body: &[u8]) -> Result<ReceivedChunk, EnvelopeError> {
    let message: ReceivedChunk = serde_json::from_slice(body)?;
    if message.schema != CHUNK_SCHEMA_V1 && message.schema != CHUNK_SCHEMA_V2 {
        return Err(EnvelopeError::UnknownSchema(message.schema.into_owned()));
    }
    Ok(message)
}

/// The stored form of a claim check's records.
pub fn encode_records(records: &[ChunkRecord<'_>]) -> Result<Vec<u8>, serde_json::Error> {
    Ok(lz4_flex::compress_prepend_size(&serde_json::to_vec(
        records,
    )?))
}

/// Reads the stored records of a claim check.
pub fn decode_records(stored: &[u8]) -> Result<Vec<ChunkRecord<'static>>, EnvelopeError> {
    let json = lz4_flex::decompress_size_prepended(stored)?;
    Ok(serde_json::from_slice(&json)?)
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
                    input: Some(Cow::Owned(
                        RawValue::from_string(r#"{"identities":[{"uid":"u"}]}"#.into()).unwrap(),
                    )),
                    raw: None,
                    errors: Cow::Borrowed(&[]),
                },
                ChunkRecord {
                    index: 1,
                    line: Some(2),
                    input: None,
                    raw: Some("{not json".into()),
                    errors: vec![FieldError::new("", ErrorCode::InvalidJson, "bad")].into(),
                },
            ],
            selector: None,
        };
        let back = decode(&encode(&message).unwrap()).unwrap();
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
        let record: ChunkRecord<'_> =
            serde_json::from_str(r#"{"index": 2, "input": null}"#).unwrap();
        assert_eq!(record.input.unwrap().get(), "null");
        let missing: ChunkRecord<'_> = serde_json::from_str(r#"{"index": 2, "raw": "x"}"#).unwrap();
        assert!(missing.input.is_none());
    }

    #[test]
    fn a_claim_check_round_trips_and_its_records_decompress() {
        let header = ChunkHeader {
            task_id: TaskId::from_parts(1, 2),
            domain_id: DomainId::new(7),
            domain: "demo",
            action: TaskAction::UpdateCoreProfiles,
            options: &TaskOptions::default(),
            chunk_no: 3,
            chunks_total: 4,
        };
        let reference = decode(&encode(&ChunkMessage::reference(header)).unwrap()).unwrap();
        assert!(reference.is_reference());
        assert!(reference.records.is_empty());
        assert_eq!(reference.chunk_no, 3);
        let input = RawValue::from_string(r#"{"core_profile_id":"9","x":1E2}"#.into()).unwrap();
        let records = [ChunkRecord {
            index: 41,
            line: Some(42),
            input: Some(Cow::Owned(input)),
            raw: None,
            errors: Cow::Borrowed(&[]),
        }];
        let stored = decode_records(&encode_records(&records).unwrap()).unwrap();
        let full = reference.with_records(stored);
        assert!(
            !full.is_reference(),
            "a filled claim check is a plain chunk"
        );
        assert_eq!(full.records[0].index, 41);
        assert_eq!(
            full.records[0].input.as_ref().unwrap().get(),
            r#"{"core_profile_id":"9","x":1E2}"#
        );
        assert!(matches!(
            decode_records(b"\x05\0\0\0garbage"),
            Err(EnvelopeError::Compressed(_) | EnvelopeError::Malformed(_))
        ));
    }

    #[test]
    fn a_chunk_of_another_schema_is_refused_by_name() {
        let body = br#"{"schema":"userhub.chunk.v3","task_id":1,"domain_id":1,"domain":"d","action":"create_core_profiles","chunk_no":0,"chunks_total":1,"records":[]}"#;
        let refused = decode(body).unwrap_err();
        assert!(
            matches!(&refused, EnvelopeError::UnknownSchema(schema) if schema == "userhub.chunk.v3")
        );
        assert!(matches!(decode(b"{}"), Err(EnvelopeError::Malformed(_))));
        let v1 = String::from_utf8(body.to_vec())
            .unwrap()
            .replace("v3", "v1");
        assert_eq!(
            decode(v1.as_bytes()).unwrap().task_id,
            TaskId::from_parts(0, 1)
        );
    }
}
