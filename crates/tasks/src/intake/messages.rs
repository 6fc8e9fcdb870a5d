//! The chunk messages of an accepted task, built with the envelope's codec without copying
//! records: a claim check per chunk, and the chunk's records to store beside the task.

use super::validate::Verdict;
use crate::envelope::{ChunkHeader, ChunkMessage, ChunkRecord, encode, encode_records};
use std::borrow::Cow;
use userhub_domain::DomainId;
use userhub_domain::record::raw::{RawRecord, RecordContent};
use userhub_domain::{FieldError, TaskAction, TaskId, TaskOptions};

/// Whom a task belongs to and what it does.
#[derive(Debug, Clone, Copy)]
pub struct TaskHeader<'a> {
    pub task_id: TaskId,
    pub domain_id: DomainId,
    pub domain: &'a str,
    pub action: TaskAction,
    pub options: &'a TaskOptions,
}

impl<'a> TaskHeader<'a> {
    fn chunk(&self, chunk_no: u32, chunks_total: u32) -> ChunkHeader<'a> {
        ChunkHeader {
            task_id: self.task_id,
            domain_id: self.domain_id,
            domain: self.domain,
            action: self.action,
            options: self.options,
            chunk_no,
            chunks_total,
        }
    }
}

/// What a task is published and stored as.
#[derive(Debug, Default)]
pub struct RenderedTask {
    /// One message body per chunk, in chunk order.
    pub messages: Vec<Vec<u8>>,
    /// The stored records of chunk `n` when message `n` is a claim check (else empty).
    pub stored_records: Vec<Vec<u8>>,
}

/// A record as its chunk carries it, with the errors found before any worker saw it.
fn chunk_record<'r>(record: &'r RawRecord, errors: &'r [FieldError]) -> ChunkRecord<'r> {
    let (input, raw) = match &record.content {
        RecordContent::Json(json) => (Some(Cow::Borrowed(json.as_ref())), None),
        RecordContent::Broken { raw, .. } => (None, Some(Cow::Borrowed(raw.as_str()))),
    };
    ChunkRecord {
        index: record.index,
        line: record.line,
        input,
        raw,
        errors: Cow::Borrowed(errors),
    }
}

/// The stored form of one chunk's records, each as read (a record that could not be read
/// carries its error).
pub fn stored_chunk(records: &[RawRecord]) -> Result<Vec<u8>, serde_json::Error> {
    let chunk_records: Vec<ChunkRecord<'_>> = records
        .iter()
        .map(|record| match &record.content {
            RecordContent::Broken { error, .. } => {
                chunk_record(record, std::slice::from_ref(error))
            }
            RecordContent::Json(_) => chunk_record(record, &[]),
        })
        .collect();
    encode_records(&chunk_records)
}

/// The claim checks of a task of `chunks_total` chunks whose records are stored apart.
pub fn reference_messages(
    header: TaskHeader<'_>,
    chunks_total: u32,
) -> Result<Vec<Vec<u8>>, serde_json::Error> {
    (0..chunks_total)
        .map(|chunk_no| reference_message(&header, chunk_no, chunks_total))
        .collect()
}

/// The claim check of chunk `chunk_no` of a task of `chunks_total` chunks.
pub fn reference_message(
    header: &TaskHeader<'_>,
    chunk_no: u32,
    chunks_total: u32,
) -> Result<Vec<u8>, serde_json::Error> {
    encode(&ChunkMessage::reference(
        header.chunk(chunk_no, chunks_total),
    ))
}

/// One claim check per chunk, and each chunk's records to store.
pub fn chunk_messages(
    header: TaskHeader<'_>,
    records: &[RawRecord],
    verdicts: &[Verdict],
    chunks: &[Vec<usize>],
) -> Result<RenderedTask, serde_json::Error> {
    let mut rendered = RenderedTask {
        messages: reference_messages(header, chunks.len() as u32)?,
        stored_records: Vec::with_capacity(chunks.len()),
    };
    for positions in chunks {
        let chunk_records: Vec<ChunkRecord<'_>> = positions
            .iter()
            .map(|&position| chunk_record(&records[position], &verdicts[position].errors))
            .collect();
        rendered
            .stored_records
            .push(encode_records(&chunk_records)?);
    }
    Ok(rendered)
}

/// The single message of an export by selector; the worker plans the export's chunks.
pub fn selector_message(
    header: TaskHeader<'_>,
    selector: &serde_json::Value,
) -> Result<RenderedTask, serde_json::Error> {
    let mut message = ChunkMessage::new(header.chunk(0, 1), Vec::new());
    message.selector = Some(Cow::Borrowed(selector));
    Ok(RenderedTask {
        messages: vec![encode(&message)?],
        stored_records: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::records;

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
        let rendered = chunk_messages(header, &records, &verdicts, &[vec![0, 1]]).unwrap();
        let reference = crate::envelope::decode(&rendered.messages[0]).unwrap();
        assert!(reference.is_reference());
        assert!(reference.records.is_empty(), "records travel apart");
        let stored = crate::envelope::decode_records(&rendered.stored_records[0]).unwrap();
        let message = reference.with_records(stored);
        assert_eq!(message.schema, crate::envelope::CHUNK_SCHEMA_V1);
        assert_eq!(message.records.len(), 2);
        assert!(message.records[0].errors.is_empty());
        assert_eq!(message.records[1].raw.as_deref(), Some("broken"));
        assert_eq!(message.records[1].line, Some(2));
    }
}
