//! Grouping records into chunks: records with the same key (the profile they touch) always share
//! a chunk, so one worker applies them in input order; otherwise chunks fill up in input order.

use std::collections::HashMap;

/// Chunk size limits.
#[derive(Debug, Clone, Copy)]
pub struct ChunkLimits {
    pub max_records: usize,
    pub max_bytes: usize,
}

/// Assigns each record (key, size in bytes) to a chunk; returns record positions per chunk,
/// each in increasing order.
pub fn assign_chunks(
    records: impl IntoIterator<Item = (Option<i64>, usize)>,
    limits: ChunkLimits,
) -> Vec<Vec<usize>> {
    let mut chunks: Vec<Vec<usize>> = Vec::new();
    let mut open: Option<(usize, usize)> = None;
    let mut chunk_of_key: HashMap<i64, usize> = HashMap::new();
    for (position, (key, size)) in records.into_iter().enumerate() {
        if let Some(chunk) = key.and_then(|key| chunk_of_key.get(&key).copied()) {
            chunks[chunk].push(position);
            continue;
        }
        let (chunk, bytes) = match open {
            Some((chunk, bytes))
                if chunks[chunk].len() < limits.max_records
                    && bytes + size <= limits.max_bytes.max(size) =>
            {
                (chunk, bytes)
            }
            _ => {
                chunks.push(Vec::new());
                (chunks.len() - 1, 0)
            }
        };
        chunks[chunk].push(position);
        open = Some((chunk, bytes + size));
        if let Some(key) = key {
            chunk_of_key.insert(key, chunk);
        }
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: ChunkLimits = ChunkLimits {
        max_records: 2,
        max_bytes: 1000,
    };

    #[test]
    fn records_fill_chunks_in_order() {
        let chunks = assign_chunks((0..5).map(|_| (None, 10)), SMALL);
        assert_eq!(chunks, vec![vec![0, 1], vec![2, 3], vec![4]]);
    }

    #[test]
    fn records_of_one_profile_share_a_chunk_even_when_it_is_full() {
        let keys = [Some(7), Some(8), Some(9), Some(7), None, Some(8)];
        let chunks = assign_chunks(keys.iter().map(|key| (*key, 10)), SMALL);
        assert_eq!(chunks, vec![vec![0, 1, 3, 5], vec![2, 4]]);
    }

    #[test]
    fn byte_limits_close_chunks_but_a_big_record_still_gets_one() {
        let limits = ChunkLimits {
            max_records: 100,
            max_bytes: 25,
        };
        let chunks = assign_chunks([(None, 10), (None, 10), (None, 10), (None, 90)], limits);
        assert_eq!(chunks, vec![vec![0, 1], vec![2], vec![3]]);
    }
}
