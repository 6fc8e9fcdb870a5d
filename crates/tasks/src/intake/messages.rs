//! Serialising chunks into broker messages of schema `userhub.chunk.v1` without copying records.

use super::validate::Verdict;
use crate::envelope::CHUNK_SCHEMA_V1;
use serde::Serialize;
use serde_json::value::RawValue;
use userhub_domain::DomainId;
use userhub_domain::record::raw::{RawRecord, RecordContent};
use userhub_domain::{FieldError, TaskAction, TaskId, TaskOptions};

/// Borrowing twin of `userhub_tasks::envelope::ChunkMessage` (same JSON).
#[derive(Serialize)]
struct ChunkMessageRef<'a> {
    schema: &'static str,
    task_id: TaskId,
    domain_id: DomainId,
    domain: &'a str,
    action: TaskAction,
    chunk_no: u32,
    chunks_total: u32,
    records: Vec<ChunkRecordRef<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    selector: Option<&'a serde_json::Value>,
    #[serde(skip_serializing_if = "TaskOptions::is_default")]
    options: &'a TaskOptions,
}

#[derive(Serialize)]
struct ChunkRecordRef<'a> {
    index: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    input: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw: Option<&'a str>,
    #[serde(skip_serializing_if = "<[FieldError]>::is_empty")]
    errors: &'a [FieldError],
}

/// Whom a task belongs to and what it does.
#[derive(Debug, Clone, Copy)]
pub struct TaskHeader<'a> {
    pub task_id: TaskId,
    pub domain_id: DomainId,
    pub domain: &'a str,
    pub action: TaskAction,
    pub options: &'a TaskOptions,
}

/// One JSON message body per chunk.
pub fn chunk_messages(
    header: TaskHeader<'_>,
    records: &[RawRecord],
    verdicts: &[Verdict],
    chunks: &[Vec<usize>],
) -> Result<Vec<Vec<u8>>, serde_json::Error> {
    let chunks_total = chunks.len() as u32;
    chunks
        .iter()
        .enumerate()
        .map(|(chunk_no, positions)| {
            let records = positions
                .iter()
                .map(|&position| {
                    let record = &records[position];
                    let (input, raw) = match &record.content {
                        RecordContent::Json(json) => (Some(json.as_ref()), None),
                        RecordContent::Broken { raw, .. } => (None, Some(raw.as_str())),
                    };
                    ChunkRecordRef {
                        index: record.index,
                        line: record.line,
                        input,
                        raw,
                        errors: &verdicts[position].errors,
                    }
                })
                .collect();
            serde_json::to_vec(&ChunkMessageRef {
                schema: CHUNK_SCHEMA_V1,
                task_id: header.task_id,
                domain_id: header.domain_id,
                domain: header.domain,
                action: header.action,
                chunk_no: chunk_no as u32,
                chunks_total,
                records,
                selector: None,
                options: header.options,
            })
        })
        .collect()
}

/// The single message of an export by selector; the worker plans the export's chunks.
pub fn selector_message(
    header: TaskHeader<'_>,
    selector: &serde_json::Value,
) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&ChunkMessageRef {
        schema: CHUNK_SCHEMA_V1,
        task_id: header.task_id,
        domain_id: header.domain_id,
        domain: header.domain,
        action: header.action,
        chunk_no: 0,
        chunks_total: 1,
        records: Vec::new(),
        selector: Some(selector),
        options: header.options,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::ChunkMessage;
    use crate::intake::sample_records::records;

    #[test]
    fn messages_parse_as_the_domain_envelope() {
        let records = records("{\"identities\":[{\"uid\":\"a\"}]}\nbroken\n");
        let super::super::validate::Plan::Records(verdicts) =
            super::super::validate::validate_records(
                TaskAction::CreateCoreProfiles,
                None,
                &records,
            )
            .unwrap()
        else {
            panic!("records expected")
        };
        let header = TaskHeader {
            task_id: TaskId::from_parts(5, 5),
            domain_id: userhub_domain::DomainId::new(3),
            domain: "demo",
            action: TaskAction::CreateCoreProfiles,
            options: &userhub_domain::TaskOptions::default(),
        };
        let bodies = chunk_messages(header, &records, &verdicts, &[vec![0, 1]]).unwrap();
        let message: ChunkMessage = serde_json::from_slice(&bodies[0]).unwrap();
        assert_eq!(message.schema, CHUNK_SCHEMA_V1);
        assert_eq!(message.records.len(), 2);
        assert!(message.records[0].errors.is_empty());
        assert_eq!(message.records[1].raw.as_deref(), Some("broken"));
        assert_eq!(message.records[1].line, Some(2));
    }
}
