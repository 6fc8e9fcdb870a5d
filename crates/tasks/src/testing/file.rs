//! A file in memory as the source of one task (what an upload is to the gateway), read a few
//! records at a time. A test can hold its second reading — the one that stores the chunks —
//! after some records, to look at the task meanwhile, and then let it go on or make it fail.

use super::records;
use crate::error::TaskError;
use crate::intake::{RecordReader, RecordSource};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::Notify;
use userhub_domain::TaskKey;
use userhub_domain::record::raw::{PayloadFormat, RawRecord};
use userhub_store::Transaction;

/// Records handed out per call of `next_records`.
const SLICE: usize = 2;

/// Where the storing reading stops until the test lets it go on.
#[derive(Debug, Clone)]
pub struct Hold {
    /// Records read before the hold.
    pub after: usize,
    /// Whether the reading fails once let go (as a file read differently would).
    pub then_fail: bool,
    /// Notified when the reading is held.
    pub reached: Arc<Notify>,
    /// Notified by the test to let it go.
    pub release: Arc<Notify>,
}

impl Hold {
    pub fn after(records: usize, then_fail: bool) -> Hold {
        Hold {
            after: records,
            then_fail,
            reached: Arc::new(Notify::new()),
            release: Arc::new(Notify::new()),
        }
    }
}

/// One record per non-blank line, as [`records`] reads them.
#[derive(Debug)]
pub struct TestFile {
    lines: String,
    hold: Option<Hold>,
    readings: AtomicUsize,
}

impl TestFile {
    pub fn new(lines: String, hold: Option<Hold>) -> TestFile {
        TestFile {
            lines,
            hold,
            readings: AtomicUsize::new(0),
        }
    }
}

/// One reading of a [`TestFile`].
pub struct TestFileReader {
    records: std::vec::IntoIter<RawRecord>,
    read: usize,
    hold: Option<Hold>,
}

impl RecordReader for TestFileReader {
    type Error = TaskError;

    async fn next_records(&mut self) -> Result<Option<Vec<RawRecord>>, TaskError> {
        if let Some(hold) = self.hold.take_if(|hold| self.read >= hold.after) {
            hold.reached.notify_one();
            hold.release.notified().await;
            if hold.then_fail {
                return Err(TaskError::SourceChanged);
            }
        }
        let slice: Vec<RawRecord> = self.records.by_ref().take(SLICE).collect();
        self.read += slice.len();
        Ok((!slice.is_empty()).then_some(slice))
    }

    fn format(&self) -> PayloadFormat {
        PayloadFormat::JsonLines
    }
}

impl RecordSource for TestFile {
    type Error = TaskError;
    type Reader = TestFileReader;

    async fn open(&self) -> Result<TestFileReader, TaskError> {
        let reading = self.readings.fetch_add(1, Ordering::SeqCst);
        Ok(TestFileReader {
            records: records(&self.lines).into_iter(),
            read: 0,
            hold: self.hold.clone().filter(|_| reading == 1),
        })
    }

    async fn claim(&self, _: &Transaction<'_>, _: TaskKey) -> Result<(), TaskError> {
        Ok(())
    }

    async fn consumed(&self, _: &Transaction<'_>) -> Result<(), TaskError> {
        Ok(())
    }
}
