//! Streaming a task's results or errors to the client as a zip (one JSON array entry) or as
//! NDJSON (optionally gzip), straight from the chunk ledger through a bounded channel. Blobs are
//! read a page at a time, each page on a connection taken for it, so that a slow client holds
//! no database connection; a client that reads nothing for the idle timeout loses the
//! download (the connection is aborted, never a truncated file that looks whole).

use crate::download_slots::DownloadSlot;
use crate::zip::ZipStream;
use axum::body::Body;
use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use std::collections::VecDeque;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;
use userhub_domain::TaskKey;
use userhub_store::StoreError;
use userhub_store::TenantPool;
use userhub_store::ledger::{OutcomeBlob, OutcomeKind, OutcomePosition, outcome_page};
use userhub_store::outcome_blob::{LINE_SEPARATOR, OutcomeFrame};
use userhub_tasks::readback::OutcomeMerger;

/// Chunks read from the ledger per round trip.
const BLOBS_PER_FETCH: i64 = 8;
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
    #[error("the client read nothing for {} s", .0.as_secs())]
    Stalled(Duration),
}

/// What one download needs besides its task.
pub struct DownloadStream {
    pub pool: TenantPool,
    pub idle_timeout: Duration,
    /// The domain's download slot, held until the stream ends.
    pub slot: DownloadSlot,
}

/// Starts streaming; the returned body fails (the connection is aborted) if reading fails or
/// the client stalls.
pub fn stream_outcomes(
    download: DownloadStream,
    task: TaskKey,
    kind: OutcomeKind,
    format: DownloadFormat,
) -> Body {
    let (sender, mut receiver) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let aborted = Arc::new(AtomicBool::new(false));
    let abort = Arc::clone(&aborted);
    let task_id = task.task_id;
    tokio::spawn(async move {
        let DownloadStream {
            pool,
            idle_timeout,
            slot,
        } = download;
        let output = Output {
            sender: &sender,
            idle_timeout,
        };
        if let Err(error) = render(&pool, task, kind, format, &output).await {
            match error {
                DownloadError::Disconnected => {}
                DownloadError::Stalled(_) => {
                    tracing::info!(%task_id, %error, "download ended");
                    abort.store(true, Ordering::Release);
                }
                _ => {
                    tracing::error!(%task_id, %error, "download failed mid-stream");
                    abort.store(true, Ordering::Release);
                    let _ = sender.try_send(Err(std::io::Error::other("download failed")));
                }
            }
        }
        drop(slot);
    });
    let mut failed = false;
    Body::from_stream(futures_util::stream::poll_fn(
        move |context| match receiver.poll_recv(context) {
            std::task::Poll::Ready(None) if aborted.load(Ordering::Acquire) && !failed => {
                failed = true;
                std::task::Poll::Ready(Some(Err(std::io::Error::other("download ended early"))))
            }
            other => other,
        },
    ))
}

/// Where rendered bytes go: the client, who must take each piece within the idle timeout.
struct Output<'a> {
    sender: &'a mpsc::Sender<Result<Bytes, std::io::Error>>,
    idle_timeout: Duration,
}

async fn send(output: &Output<'_>, sink: &mut Sink) -> Result<(), DownloadError> {
    let bytes = sink.take();
    if bytes.is_empty() {
        return Ok(());
    }
    match tokio::time::timeout(
        output.idle_timeout,
        output.sender.send(Ok(Bytes::from(bytes))),
    )
    .await
    {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(DownloadError::Disconnected),
        Err(_) => Err(DownloadError::Stalled(output.idle_timeout)),
    }
}

/// What goes before an entry of the zip's JSON array: the stored blobs' own separator between
/// entries, so that copied and merged lines join alike.
fn array_separator(first: bool) -> &'static [u8] {
    if first { b"\n" } else { LINE_SEPARATOR }
}

/// The first waiting blob's data and frame if its lines can go into a zip entry as they are
/// stored: it has a frame (its lines are joined by `,\n`, its deflate data open-ended) and every
/// line of the blobs after it comes later in index order. Call only with nothing left to merge.
fn copyable(waiting: &VecDeque<OutcomeBlob>) -> Option<(&[u8], &OutcomeFrame)> {
    let blob = waiting.front()?;
    let frame = blob.frame.as_ref()?;
    let next_starts_after = waiting
        .get(1)
        .is_none_or(|next| next.position.first_index > frame.last_index as i64);
    next_starts_after.then_some((blob.data.as_slice(), frame))
}

async fn render(
    pool: &TenantPool,
    task: TaskKey,
    kind: OutcomeKind,
    format: DownloadFormat,
    output: &Output<'_>,
) -> Result<(), DownloadError> {
    let mut after = OutcomePosition::START;
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
    let mut waiting = VecDeque::new();
    let mut exhausted = false;
    let mut first = true;
    loop {
        // One blob of look-ahead: whether a blob can be copied depends on where the next starts.
        if waiting.len() < 2 && !exhausted {
            let client = pool.get().await?;
            let blobs = outcome_page(&*client, task, kind, after, BLOBS_PER_FETCH).await?;
            drop(client);
            exhausted = blobs.len() < BLOBS_PER_FETCH as usize;
            if let Some(last) = blobs.last() {
                after = last.position;
            }
            waiting.extend(blobs);
        }
        if let Sink::Zip(zip) = &mut sink
            && merger.is_empty()
            && let Some((data, frame)) = copyable(&waiting)
        {
            zip.write(array_separator(first))?;
            zip.copy_deflated(data, frame.crc32, frame.size)?;
            first = false;
            waiting.pop_front();
            send(output, &mut sink).await?;
            continue;
        }
        if let Some(blob) = waiting.front() {
            if merger.needs(blob.position.first_index.max(0) as u64) {
                if let Some(blob) = waiting.pop_front() {
                    merger.add(&blob)?;
                }
                continue;
            }
        }
        if merger.is_empty() {
            break;
        }
        merger.pop(&mut |line| {
            if zip_format {
                sink.write(array_separator(first))?;
                sink.write(line.as_bytes())
            } else {
                sink.write(line.as_bytes())?;
                sink.write(b"\n")
            }
        })?;
        first = false;
        if sink.buffered() >= FLUSH_BYTES {
            send(output, &mut sink).await?;
        }
    }
    if zip_format {
        sink.write(if first { b"]" } else { b"\n]\n" })?;
    }
    sink.finish()?;
    send(output, &mut sink).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(first_index: i64, last_index: Option<u64>) -> OutcomeBlob {
        OutcomeBlob {
            position: OutcomePosition {
                first_index,
                chunk_no: first_index as i32,
            },
            data: vec![1, 2, 3],
            frame: last_index.map(|last_index| OutcomeFrame {
                crc32: 0,
                size: 3,
                last_index,
            }),
        }
    }

    #[test]
    fn a_framed_blob_is_copied_only_when_the_next_starts_after_its_last_line() {
        let copied = |blobs: Vec<OutcomeBlob>| copyable(&VecDeque::from(blobs)).is_some();
        assert!(copied(vec![blob(0, Some(9))]), "the last blob");
        assert!(copied(vec![blob(0, Some(9)), blob(10, Some(19))]));
        assert!(
            !copied(vec![blob(0, Some(12)), blob(10, Some(19))]),
            "ranges interleave: merge"
        );
        assert!(!copied(vec![blob(0, None)]), "no frame: merge");
        assert!(!copied(Vec::new()));
    }
}
