//! Merging the outcome lines of a task's chunks into input order. Chunks arrive ordered by their
//! first index; a chunk joins the merge only once the merge reaches its first index, so chunks
//! with disjoint ranges (exports, most imports) are simply read one after another.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use userhub_domain::outcome_line::{self, OutcomeLine};
use userhub_store::ledger::OutcomeBlob;

/// The index of an outcome line; lines that are not outcome lines sort last.
fn index_of_line(line: &str) -> u64 {
    OutcomeLine::parse(line).map_or(u64::MAX, |line| line.index())
}

/// The lines of one chunk's outcomes.
struct ChunkLines {
    text: String,
    position: usize,
}

impl ChunkLines {
    fn inflate(blob: &OutcomeBlob) -> std::io::Result<ChunkLines> {
        Ok(ChunkLines {
            text: blob.text()?,
            position: 0,
        })
    }

    /// The next line as `(start, end)` offsets (`userhub_domain::outcome_line::next_line`).
    fn next_line(&mut self) -> Option<(usize, usize)> {
        let (line, next) = outcome_line::next_line(&self.text, self.position)?;
        self.position = next;
        Some((line.start, line.end))
    }
}

/// A k-way merge over chunk outcome blobs fed in `first_index` order.
#[derive(Default)]
pub struct OutcomeMerger {
    sources: Vec<ChunkLines>,
    /// `(index, source, start, end)` of each source's current line.
    heap: BinaryHeap<Reverse<(u64, usize, usize, usize)>>,
}

impl OutcomeMerger {
    /// Whether a chunk starting at `first_index` must join before the next line is taken.
    pub fn needs(&self, first_index: u64) -> bool {
        self.heap
            .peek()
            .is_none_or(|Reverse((index, ..))| first_index <= *index)
    }

    /// Adds a chunk's outcome blob.
    pub fn add(&mut self, blob: &OutcomeBlob) -> std::io::Result<()> {
        let mut lines = ChunkLines::inflate(blob)?;
        let source = self.sources.len();
        if let Some((start, end)) = lines.next_line() {
            let index = index_of_line(&lines.text[start..end]);
            self.heap.push(Reverse((index, source, start, end)));
        }
        self.sources.push(lines);
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Takes the line with the smallest index and passes it to `emit`.
    pub fn pop(
        &mut self,
        emit: &mut impl FnMut(&str) -> std::io::Result<()>,
    ) -> std::io::Result<bool> {
        let Some(Reverse((_, source, start, end))) = self.heap.pop() else {
            return Ok(false);
        };
        emit(&self.sources[source].text[start..end])?;
        if let Some((start, end)) = self.sources[source].next_line() {
            let index = index_of_line(&self.sources[source].text[start..end]);
            self.heap.push(Reverse((index, source, start, end)));
        } else {
            // Release the finished chunk's text.
            self.sources[source].text = String::new();
            self.sources[source].position = 0;
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::DeflateEncoder;
    use std::io::Write;
    use userhub_store::ledger::OutcomePosition;
    use userhub_store::outcome_blob::OutcomeBlobWriter;

    /// A blob as workers write it now.
    fn blob(indexes: &[u64]) -> OutcomeBlob {
        let mut writer = OutcomeBlobWriter::default();
        for index in indexes {
            let line = format!("{{\"index\":{index},\"x\":1}}");
            writer.push_line(*index, line.as_bytes()).unwrap();
        }
        let encoded = writer.finish().unwrap().unwrap();
        OutcomeBlob {
            position: OutcomePosition::START,
            data: encoded.data,
            frame: Some(encoded.frame),
        }
    }

    /// A blob as workers wrote it before frames: finished, one line per `\n`.
    fn unframed_blob(indexes: &[u64]) -> OutcomeBlob {
        let mut encoder = DeflateEncoder::new(Vec::new(), Compression::fast());
        for index in indexes {
            writeln!(encoder, "{{\"index\":{index},\"x\":1}}").unwrap();
        }
        OutcomeBlob {
            position: OutcomePosition::START,
            data: encoder.finish().unwrap(),
            frame: None,
        }
    }

    fn drain(merger: &mut OutcomeMerger) -> Vec<String> {
        let mut seen = Vec::new();
        while merger
            .pop(&mut |line| {
                seen.push(line.to_owned());
                Ok(())
            })
            .unwrap()
        {}
        seen
    }

    #[test]
    fn interleaved_chunks_of_both_layouts_come_out_in_index_order() {
        let mut merger = OutcomeMerger::default();
        merger.add(&blob(&[0, 1, 3, 7])).unwrap();
        merger.add(&unframed_blob(&[2, 4, 5])).unwrap();
        merger.add(&blob(&[6])).unwrap();
        let seen = drain(&mut merger);
        let indexes: Vec<u64> = seen.iter().map(|line| index_of_line(line)).collect();
        assert_eq!(indexes, vec![0, 1, 2, 3, 4, 5, 6, 7]);
        assert!(
            seen.iter().all(|line| line.ends_with("\"x\":1}")),
            "{seen:?}"
        );
    }

    #[test]
    fn a_chunk_is_only_needed_once_the_merge_reaches_it() {
        let mut merger = OutcomeMerger::default();
        assert!(merger.needs(100));
        merger.add(&blob(&[0, 1])).unwrap();
        assert!(!merger.needs(2));
        assert!(merger.needs(0));
        assert_eq!(index_of_line("{\"line\":1}"), u64::MAX);
    }
}
