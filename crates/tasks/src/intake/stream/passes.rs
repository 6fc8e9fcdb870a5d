//! How many times the second reading of a file goes through it: once when the records of the
//! chunks that are open at the same moment (begun, not yet whole) fit in the memory budget, else
//! once per group of consecutive chunks whose records together fit in it.

use std::ops::Range;

/// What a record costs in memory besides its text.
const RECORD_OVERHEAD: usize = 64;

/// Where each chunk's records lie in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkSpan {
    /// Index of its last record: the chunk is whole once that record is read.
    pub last: usize,
    /// Memory its records take while it is open.
    pub bytes: usize,
}

/// Each chunk's span, from its record indexes and the records' sizes.
pub fn chunk_spans(chunks: &[Vec<usize>], sizes: &[u32]) -> Vec<ChunkSpan> {
    chunks
        .iter()
        .map(|indexes| ChunkSpan {
            last: indexes.last().copied().unwrap_or(0),
            bytes: indexes
                .iter()
                .map(|&at| sizes[at] as usize + RECORD_OVERHEAD)
                .sum(),
        })
        .collect()
}

/// The most memory that open chunks hold at once when every chunk is stored in one reading.
fn peak_of_one_reading(chunk_of: &[u32], spans: &[ChunkSpan], sizes: &[u32]) -> usize {
    let (mut open, mut peak) = (0usize, 0usize);
    for (at, &chunk) in chunk_of.iter().enumerate() {
        open += sizes[at] as usize + RECORD_OVERHEAD;
        peak = peak.max(open);
        let span = spans[chunk as usize];
        if span.last == at {
            open -= span.bytes;
        }
    }
    peak
}

/// The chunks each reading stores, in order; together they cover every chunk once.
pub fn plan_passes(
    chunk_of: &[u32],
    spans: &[ChunkSpan],
    sizes: &[u32],
    budget: usize,
) -> Vec<Range<usize>> {
    if spans.is_empty() {
        return Vec::new();
    }
    if peak_of_one_reading(chunk_of, spans, sizes) <= budget {
        return std::iter::once(0..spans.len()).collect();
    }
    let mut passes = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (chunk, span) in spans.iter().enumerate() {
        if chunk > start && bytes + span.bytes > budget {
            passes.push(start..chunk);
            (start, bytes) = (chunk, 0);
        }
        bytes += span.bytes;
    }
    passes.push(start..spans.len());
    passes
}

/// Which chunk each record belongs to, by record index.
pub fn chunk_of_records(chunks: &[Vec<usize>], total: usize) -> Vec<u32> {
    let mut chunk_of = vec![0u32; total];
    for (chunk, indexes) in chunks.iter().enumerate() {
        for &at in indexes {
            chunk_of[at] = chunk as u32;
        }
    }
    chunk_of
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passes(chunks: &[Vec<usize>], budget: usize) -> Vec<Range<usize>> {
        let total = chunks.iter().map(Vec::len).sum();
        let sizes = vec![36u32; total];
        let spans = chunk_spans(chunks, &sizes);
        plan_passes(&chunk_of_records(chunks, total), &spans, &sizes, budget)
    }

    #[test]
    fn chunks_that_close_in_order_are_stored_in_one_reading() {
        let chunks = vec![vec![0, 1], vec![2, 3], vec![4, 5]];
        let one_reading = std::iter::once(0..3).collect::<Vec<_>>();
        assert_eq!(
            passes(&chunks, 200),
            one_reading,
            "two records of 100 bytes"
        );
    }

    #[test]
    fn chunks_held_open_to_the_end_are_split_into_readings_that_fit() {
        // Every chunk has a record at the end of the file: all stay open until then.
        let chunks = vec![vec![0, 1, 6], vec![2, 3, 7], vec![4, 5, 8]];
        let one_reading = std::iter::once(0..3).collect::<Vec<_>>();
        assert_eq!(passes(&chunks, 10_000), one_reading);
        assert_eq!(passes(&chunks, 650), vec![0..2, 2..3]);
        assert_eq!(passes(&chunks, 300), vec![0..1, 1..2, 2..3]);
        assert_eq!(
            passes(&chunks, 10),
            vec![0..1, 1..2, 2..3],
            "a chunk larger than the budget still gets a reading"
        );
    }
}
