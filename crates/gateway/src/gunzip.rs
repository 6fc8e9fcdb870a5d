//! A file's bytes gunzipped when they are a gzip file (its first bytes say so), as they arrive:
//! a multipart `payload` part uploaded as `.jsonl.gz`, or an upload. Decompressed bytes count
//! against a limit, so a small compressed file cannot expand without bound.

use crate::error::GatewayError;
use userhub_http_common::decode::PayloadProblem;

/// A `payload` part's bytes, gunzipped when the part is a gzip file (`.jsonl.gz` uploaded as
/// is): its first bytes say so. Decompressed bytes count against `limit`.
pub struct PartReader {
    decoder: Option<flate2::write::GzDecoder<Vec<u8>>>,
    decided: bool,
    produced: u64,
    limit: u64,
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

impl PartReader {
    pub fn new(limit: u64) -> PartReader {
        PartReader {
            decoder: None,
            decided: false,
            produced: 0,
            limit,
        }
    }

    pub fn decode(&mut self, chunk: &[u8]) -> Result<Vec<u8>, GatewayError> {
        use std::io::Write;
        if !self.decided {
            self.decided = true;
            if chunk.starts_with(&GZIP_MAGIC) {
                self.decoder = Some(flate2::write::GzDecoder::new(Vec::new()));
            }
        }
        let Some(decoder) = self.decoder.as_mut() else {
            return Ok(chunk.to_vec());
        };
        let mut output = Vec::new();
        for slice in chunk.chunks(1024) {
            decoder
                .write_all(slice)
                .map_err(PayloadProblem::GzipPartUnreadable)?;
            let before = output.len();
            output.append(decoder.get_mut());
            self.produced += (output.len() - before) as u64;
            if self.produced > self.limit {
                return Err(GatewayError::PayloadTooLarge { limit: self.limit });
            }
        }
        Ok(output)
    }

    pub fn finish(&mut self) -> Result<Vec<u8>, GatewayError> {
        let Some(decoder) = self.decoder.as_mut() else {
            return Ok(Vec::new());
        };
        decoder
            .try_finish()
            .map_err(PayloadProblem::GzipPartCutShort)?;
        Ok(std::mem::take(decoder.get_mut()))
    }
}
