//! Merging the outcome lines of a task's chunks into input order. Chunks arrive ordered by their
//! first index; a chunk joins the merge only once the merge reaches its first index, so chunks
//! with disjoint ranges (exports, most imports) are simply read one after another.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// The index at the start of an outcome line (`{"index":N,...`).
pub fn index_of_line(line: &str) -> Option<u64> {
    let digits = line.strip_prefix("{\"index\":")?;
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse().ok()
}

/// The lines of one chunk's outcomes.
struct ChunkLines {
    text: String,
    position: usize,
}

impl ChunkLines {
    fn inflate(data: &[u8]) -> std::io::Result<ChunkLines> {
        let text = userhub_store::ledger::inflate_outcomes(data)?;
        Ok(ChunkLines { text, position: 0 })
    }

    /// The next line as `(start, end)` offsets.
    fn next_line(&mut self) -> Option<(usize, usize)> {
        let rest = &self.text[self.position..];
        if rest.is_empty() {
            return None;
        }
        let length = rest.find('\n').unwrap_or(rest.len());
        let start = self.position;
        self.position += (length + 1).min(rest.len());
        Some((start, start + length))
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

    /// Adds a chunk's deflated NDJSON.
    pub fn add(&mut self, data: &[u8]) -> std::io::Result<()> {
        let mut lines = ChunkLines::inflate(data)?;
        let source = self.sources.len();
        if let Some((start, end)) = lines.next_line() {
            let index = index_of_line(&lines.text[start..end]).unwrap_or(u64::MAX);
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
            let index = index_of_line(&self.sources[source].text[start..end]).unwrap_or(u64::MAX);
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

    fn blob(indexes: &[u64]) -> Vec<u8> {
        let mut encoder = DeflateEncoder::new(Vec::new(), Compression::fast());
        for index in indexes {
            writeln!(encoder, "{{\"index\":{index},\"x\":1}}").unwrap();
        }
        encoder.finish().unwrap()
    }

    #[test]
    fn interleaved_chunks_come_out_in_index_order() {
        let mut merger = OutcomeMerger::default();
        merger.add(&blob(&[0, 1, 3, 7])).unwrap();
        merger.add(&blob(&[2, 4, 5])).unwrap();
        merger.add(&blob(&[6])).unwrap();
        let mut seen = Vec::new();
        while merger
            .pop(&mut |line| {
                seen.push(index_of_line(line).unwrap());
                Ok(())
            })
            .unwrap()
        {}
        assert_eq!(seen, vec![0, 1, 2, 3, 4, 5, 6, 7]);
    }

    #[test]
    fn a_chunk_is_only_needed_once_the_merge_reaches_it() {
        let mut merger = OutcomeMerger::default();
        assert!(merger.needs(100));
        merger.add(&blob(&[0, 1])).unwrap();
        assert!(!merger.needs(2));
        assert!(merger.needs(0));
        assert_eq!(index_of_line("{\"index\":42,\"line\":43}"), Some(42));
        assert_eq!(index_of_line("{\"line\":1}"), None);
    }
}
