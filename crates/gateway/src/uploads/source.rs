//! A complete upload as the file of one task: its parts read back from PostgreSQL in order (the
//! next one while the current one is decoded), gunzipped and split into records on the blocking
//! pool (the work is CPU-bound) one part ahead of the caller, so memory holds three parts and
//! their records however large the file.

use crate::error::GatewayError;
use crate::gunzip::PartReader;
use userhub_domain::DomainId;
use userhub_domain::record::raw::{PayloadFormat, RawRecord};
use userhub_domain::upload::{UploadFormat, UploadMetadata};
use userhub_http_common::decode::{FileLayout, FileSplitter};
use userhub_store::uploads::{
    StoredUpload, UploadClaim, drop_upload_parts, find_upload, lock_upload, read_part,
    set_upload_task,
};
use userhub_store::{TenantPool, Transaction};
use userhub_tasks::TaskError;
use userhub_tasks::intake::{RecordReader, RecordSource};

/// Compressed bytes decoded at a time (what one step may expand, by at most gzip's ratio).
const DECODE_SLICE: usize = 8 * 1024;

/// The upload `id` of a domain, and how to read its file.
#[derive(Debug, Clone)]
pub struct UploadSource {
    pub database: TenantPool,
    pub domain_id: DomainId,
    pub id: String,
    pub length: i64,
    pub metadata: UploadMetadata,
    /// Most records the file may hold.
    pub record_limit: usize,
    pub max_line_bytes: usize,
    /// Most bytes the file may expand to when gunzipped.
    pub max_decoded_bytes: u64,
}

impl UploadSource {
    /// Why a part of the upload is gone: another request made it into a task meanwhile (which
    /// drops its bytes), or it was deleted.
    async fn vanished(&self, client: &impl userhub_store::GenericClient) -> GatewayError {
        match find_upload(client, self.domain_id, &self.id).await {
            Ok(Some(StoredUpload {
                task_id: Some(task_id),
                ..
            })) => GatewayError::UploadUsed {
                id: self.id.clone(),
                task_id: task_id as u64,
            },
            Ok(_) => GatewayError::UploadNotFound(self.id.clone()),
            Err(error) => GatewayError::from(error),
        }
    }
}

/// The state of one reading: the gzip decoder and the record splitter.
struct Decoding {
    gunzip: PartReader,
    splitter: FileSplitter,
}

impl Decoding {
    /// Decodes and splits `bytes` (the last part when `end`): the records now whole, and at the
    /// end the file's layout.
    fn feed(
        &mut self,
        bytes: &[u8],
        end: bool,
    ) -> Result<(Vec<RawRecord>, Option<PayloadFormat>), GatewayError> {
        for slice in bytes.chunks(DECODE_SLICE) {
            let decoded = self.gunzip.decode(slice)?;
            self.splitter.push(&decoded)?;
        }
        let mut records = self.splitter.take_records();
        if !end {
            return Ok((records, None));
        }
        let rest = self.gunzip.finish()?;
        self.splitter.push(&rest)?;
        let splitter = std::mem::replace(
            &mut self.splitter,
            FileSplitter::new(FileLayout::Json, 0, 0),
        );
        let (format, last) = splitter.finish()?;
        records.extend(last);
        Ok((records, Some(format)))
    }
}

/// What one decoded part gave: its records, and at the end the file's layout.
type Decoded = Result<(Vec<RawRecord>, Option<PayloadFormat>), GatewayError>;

/// One reading of an upload, from its first byte. A task of its own reads and decodes the
/// parts one ahead of the caller (a channel of one), so that the caller's work on one part's
/// records overlaps the decoding of the next.
pub struct UploadReader {
    decoded: tokio::sync::mpsc::Receiver<Decoded>,
    format: PayloadFormat,
}

/// The part of `source` that starts at `offset` (nothing at the end).
async fn fetch(source: UploadSource, offset: i64) -> Result<Vec<u8>, GatewayError> {
    if offset >= source.length {
        return Ok(Vec::new());
    }
    let client = source.database.get().await.map_err(TaskError::from)?;
    match read_part(&*client, source.domain_id, &source.id, offset).await? {
        Some(bytes) => Ok(bytes),
        None => Err(source.vanished(&*client).await),
    }
}

/// Reads every part in order, decoding each on the blocking pool while the next is fetched,
/// and sends each part's records on; stops at the end, at an error, or when the reader is gone.
async fn decode_parts(
    source: UploadSource,
    mut decoding: Decoding,
    sender: tokio::sync::mpsc::Sender<Decoded>,
) {
    let mut offset = 0i64;
    let mut next = None;
    loop {
        let bytes = match next.take() {
            Some(fetching) => fetching,
            None => tokio::spawn(fetch(source.clone(), offset)),
        }
        .await
        .map_err(|_| GatewayError::from(TaskError::SourceChanged))
        .and_then(|fetched| fetched);
        let bytes = match bytes {
            Ok(bytes) => bytes,
            Err(error) => {
                let _ = sender.send(Err(error)).await;
                return;
            }
        };
        offset += bytes.len() as i64;
        let end = offset >= source.length;
        if !end {
            next = Some(tokio::spawn(fetch(source.clone(), offset)));
        }
        let fed = tokio::task::spawn_blocking(move || {
            let fed = decoding.feed(&bytes, end);
            (decoding, fed)
        })
        .await;
        let Ok((returned, fed)) = fed else {
            let _ = sender.send(Err(TaskError::SourceChanged.into())).await;
            return;
        };
        decoding = returned;
        let last = end || fed.is_err();
        if sender.send(fed).await.is_err() || last {
            return;
        }
    }
}

impl RecordReader for UploadReader {
    type Error = GatewayError;

    async fn next_records(&mut self) -> Result<Option<Vec<RawRecord>>, GatewayError> {
        while let Some(decoded) = self.decoded.recv().await {
            let (records, format) = decoded?;
            if let Some(format) = format {
                self.format = format;
            }
            if !records.is_empty() {
                return Ok(Some(records));
            }
        }
        Ok(None)
    }

    fn format(&self) -> PayloadFormat {
        self.format
    }
}

impl RecordSource for UploadSource {
    type Error = GatewayError;
    type Reader = UploadReader;

    async fn open(&self) -> Result<UploadReader, GatewayError> {
        let layout = match self.metadata.content_type {
            UploadFormat::Csv => FileLayout::Csv,
            UploadFormat::JsonLines | UploadFormat::JsonArray => FileLayout::Json,
        };
        let decoding = Decoding {
            gunzip: PartReader::new(self.max_decoded_bytes),
            splitter: FileSplitter::new(layout, self.record_limit, self.max_line_bytes),
        };
        let (sender, decoded) = tokio::sync::mpsc::channel(1);
        tokio::spawn(decode_parts(self.clone(), decoding, sender));
        Ok(UploadReader {
            decoded,
            format: PayloadFormat::JsonLines,
        })
    }

    async fn claim(
        &self,
        transaction: &Transaction<'_>,
        task: userhub_domain::TaskKey,
    ) -> Result<(), GatewayError> {
        match lock_upload(transaction, self.domain_id, &self.id).await? {
            UploadClaim::Free => {
                set_upload_task(transaction, self.domain_id, &self.id, task.task_id.as_i64())
                    .await?;
                Ok(())
            }
            UploadClaim::Missing => Err(GatewayError::UploadNotFound(self.id.clone())),
            UploadClaim::Incomplete => Err(GatewayError::UploadIncomplete {
                id: self.id.clone(),
                received: 0,
                length: self.length,
            }),
            UploadClaim::Used(task_id) => Err(GatewayError::UploadUsed {
                id: self.id.clone(),
                task_id: task_id as u64,
            }),
        }
    }

    async fn consumed(&self, transaction: &Transaction<'_>) -> Result<(), GatewayError> {
        drop_upload_parts(transaction, self.domain_id, &self.id).await?;
        Ok(())
    }
}
