//! The chunk manifest of a task: which record indexes each chunk holds, as runs of consecutive
//! indexes. Stored with the task so that the records of a chunk that was lost can still be
//! reported individually.

use serde::{Deserialize, Serialize};

/// Per chunk, runs `[first, last]` of the record indexes it holds.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ChunkManifest(Vec<Vec<[u32; 2]>>);

impl ChunkManifest {
    /// Builds the manifest from each chunk's (increasing) record indexes.
    pub fn from_chunks<'a>(chunks: impl IntoIterator<Item = &'a [u32]>) -> ChunkManifest {
        ChunkManifest(
            chunks
                .into_iter()
                .map(|indexes| {
                    let mut runs: Vec<[u32; 2]> = Vec::new();
                    for &index in indexes {
                        match runs.last_mut() {
                            Some(run) if run[1] + 1 == index => run[1] = index,
                            _ => runs.push([index, index]),
                        }
                    }
                    runs
                })
                .collect(),
        )
    }

    /// Builds the manifest from runs `[first, last]` per chunk.
    pub fn from_runs(runs: Vec<Vec<[u32; 2]>>) -> ChunkManifest {
        ChunkManifest(runs)
    }

    /// A chunk's record indexes (none for an unknown chunk).
    pub fn indexes(&self, chunk_no: usize) -> impl Iterator<Item = u32> + '_ {
        self.0
            .get(chunk_no)
            .into_iter()
            .flatten()
            .flat_map(|[first, last]| *first..=*last)
    }

    pub fn chunks(&self) -> usize {
        self.0.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_round_trip_through_runs() {
        let chunks: Vec<Vec<u32>> = vec![vec![0, 1, 2, 5, 6, 9], vec![3, 4, 7, 8], vec![]];
        let manifest = ChunkManifest::from_chunks(chunks.iter().map(Vec::as_slice));
        assert_eq!(
            serde_json::to_string(&manifest).unwrap(),
            "[[[0,2],[5,6],[9,9]],[[3,4],[7,8]],[]]"
        );
        for (chunk_no, indexes) in chunks.iter().enumerate() {
            assert_eq!(manifest.indexes(chunk_no).collect::<Vec<_>>(), *indexes);
        }
        assert_eq!(manifest.indexes(7).count(), 0);
    }
}
