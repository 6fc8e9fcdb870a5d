//! Streaming a task's results or errors to the client as a zip (one JSON array entry) or as
//! NDJSON (optionally gzip), straight from the chunk ledger through a bounded channel.

use crate::merge::OutcomeMerger;
use crate::zip::ZipStream;
use axum::body::Body;
use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use std::io::Write;
use tokio::sync::mpsc;
use userhub_domain::TaskId;
use userhub_store::ledger::{OutcomeKind, next_outcomes, open_outcomes};
use userhub_store::{Pool, StoreError};

/// Chunks read from the ledger per round trip.
const BLOBS_PER_FETCH: i32 = 8;
/// Flush to the client when this much output is buffered.
const FLUSH_BYTES: usize = 256 * 1024;

/// The shape of the download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownloadFormat {
    /// A zip holding `results.json` / `errors.json`: a JSON array in input order.
    Zip,
    /// One JSON object per line.
    Ndjson { gzip: bool },
}

/// Where the rendered bytes go before they are sent.
enum Sink {
    Zip(ZipStream),
    Plain(Vec<u8>),
    Gzip(GzEncoder<Vec<u8>>),
}

impl Sink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        match self {
            Sink::Zip(zip) => zip.write(data),
            Sink::Plain(buffer) => {
                buffer.extend_from_slice(data);
                Ok(())
            }
            Sink::Gzip(encoder) => encoder.write_all(data),
        }
    }

    fn take(&mut self) -> Vec<u8> {
        match self {
            Sink::Zip(zip) => zip.take_output(),
            Sink::Plain(buffer) => std::mem::take(buffer),
            Sink::Gzip(encoder) => std::mem::take(encoder.get_mut()),
        }
    }

    fn buffered(&self) -> usize {
        match self {
            Sink::Zip(_) => FLUSH_BYTES,
            Sink::Plain(buffer) => buffer.len(),
            Sink::Gzip(encoder) => encoder.get_ref().len(),
        }
    }

    fn finish(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Zip(zip) => zip.finish(),
            Sink::Plain(_) => Ok(()),
            Sink::Gzip(encoder) => encoder.try_finish(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum DownloadError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("the client went away")]
    Disconnected,
}

/// Starts streaming; the returned body ends early (an incomplete download) if reading fails.
pub fn stream_outcomes(
    pool: Pool,
    task_id: TaskId,
    kind: OutcomeKind,
    format: DownloadFormat,
) -> Body {
    let (sender, mut receiver) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::spawn(async move {
        if let Err(error) = render(&pool, task_id, kind, format, &sender).await {
            if !matches!(error, DownloadError::Disconnected) {
                tracing::error!(%task_id, %error, "download failed mid-stream");
                let _ = sender
                    .send(Err(std::io::Error::other("download failed")))
                    .await;
            }
        }
    });
    Body::from_stream(futures_util::stream::poll_fn(move |context| {
        receiver.poll_recv(context)
    }))
}

async fn send(
    sender: &mpsc::Sender<Result<Bytes, std::io::Error>>,
    sink: &mut Sink,
) -> Result<(), DownloadError> {
    let bytes = sink.take();
    if bytes.is_empty() {
        return Ok(());
    }
    sender
        .send(Ok(Bytes::from(bytes)))
        .await
        .map_err(|_| DownloadError::Disconnected)
}

async fn render(
    pool: &Pool,
    task_id: TaskId,
    kind: OutcomeKind,
    format: DownloadFormat,
    sender: &mpsc::Sender<Result<Bytes, std::io::Error>>,
) -> Result<(), DownloadError> {
    let mut client = pool.get().await.map_err(StoreError::from)?;
    let transaction = client
        .build_transaction()
        .read_only(true)
        .start()
        .await
        .map_err(StoreError::from)?;
    let portal = open_outcomes(&transaction, task_id, kind).await?;
    let zip_format = format == DownloadFormat::Zip;
    let mut sink = match format {
        DownloadFormat::Zip => {
            let mut zip = ZipStream::default();
            zip.start_entry(if kind == OutcomeKind::Results {
                "results.json"
            } else {
                "errors.json"
            })?;
            Sink::Zip(zip)
        }
        DownloadFormat::Ndjson { gzip: false } => Sink::Plain(Vec::new()),
        DownloadFormat::Ndjson { gzip: true } => {
            Sink::Gzip(GzEncoder::new(Vec::new(), Compression::fast()))
        }
    };
    if zip_format {
        sink.write(b"[")?;
    }
    let mut merger = OutcomeMerger::default();
    let mut waiting = std::collections::VecDeque::new();
    let mut exhausted = false;
    let mut first = true;
    loop {
        if waiting.is_empty() && !exhausted {
            let blobs = next_outcomes(&transaction, &portal, BLOBS_PER_FETCH).await?;
            exhausted = blobs.len() < BLOBS_PER_FETCH as usize;
            waiting.extend(blobs);
        }
        if let Some(blob) = waiting.front() {
            if merger.needs(blob.first_index.max(0) as u64) {
                if let Some(blob) = waiting.pop_front() {
                    merger.add(&blob.data)?;
                }
                continue;
            }
        }
        if merger.is_empty() {
            break;
        }
        merger.pop(&mut |line| {
            if zip_format {
                sink.write(if first { b"\n" } else { b",\n" })?;
                sink.write(line.as_bytes())
            } else {
                sink.write(line.as_bytes())?;
                sink.write(b"\n")
            }
        })?;
        first = false;
        if sink.buffered() >= FLUSH_BYTES {
            send(sender, &mut sink).await?;
        }
    }
    if zip_format {
        sink.write(if first { b"]" } else { b"\n]\n" })?;
    }
    sink.finish()?;
    send(sender, &mut sink).await?;
    transaction.commit().await.map_err(StoreError::from)?;
    Ok(())
}
