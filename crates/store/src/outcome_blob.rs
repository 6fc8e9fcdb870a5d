//! The stored form of a chunk's outcome lines: raw deflate of the lines joined by `,\n`, flushed
//! to a byte boundary but not finished, kept with the text's CRC-32, size and last index. A zip
//! writer can append such blobs one after another into a JSON array entry without inflating
//! them; blobs written before this form (lines ended by `\n`, finished streams) carry no frame.

use flate2::Compression;
use flate2::write::DeflateEncoder;
use std::io::{Read, Write};

/// Between two lines of a blob (and between two blobs in a JSON array).
pub const LINE_SEPARATOR: &[u8] = b",\n";

/// An empty final deflate block (fixed Huffman, end of block at once): ends a stream that
/// stopped at a byte boundary.
pub const FINAL_EMPTY_BLOCK: [u8; 2] = [0x03, 0x00];

/// What a copier needs to know about a blob without inflating it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutcomeFrame {
    /// CRC-32 of the inflated text.
    pub crc32: u32,
    /// Length of the inflated text in bytes.
    pub size: u64,
    /// The index of the blob's last line.
    pub last_index: u64,
}

/// A finished blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedOutcomes {
    pub data: Vec<u8>,
    pub frame: OutcomeFrame,
}

/// Collects lines (given in index order) into one blob.
pub struct OutcomeBlobWriter {
    encoder: DeflateEncoder<Vec<u8>>,
    crc: crc32fast::Hasher,
    size: u64,
    last_index: Option<u64>,
}

impl Default for OutcomeBlobWriter {
    fn default() -> Self {
        OutcomeBlobWriter {
            encoder: DeflateEncoder::new(Vec::new(), Compression::fast()),
            crc: crc32fast::Hasher::new(),
            size: 0,
            last_index: None,
        }
    }
}

impl OutcomeBlobWriter {
    fn put(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.crc.update(data);
        self.size += data.len() as u64;
        self.encoder.write_all(data)
    }

    /// Appends one line (without its separator) of record `index`.
    pub fn push_line(&mut self, index: u64, line: &[u8]) -> std::io::Result<()> {
        if self.last_index.is_some() {
            self.put(LINE_SEPARATOR)?;
        }
        self.put(line)?;
        self.last_index = Some(index);
        Ok(())
    }

    /// The blob, or `None` if no line was pushed.
    pub fn finish(mut self) -> std::io::Result<Option<EncodedOutcomes>> {
        let Some(last_index) = self.last_index else {
            return Ok(None);
        };
        // A sync flush ends the data at a byte boundary without a final block, so that more
        // deflate data may follow it in one stream.
        self.encoder.flush()?;
        let data = std::mem::take(self.encoder.get_mut());
        Ok(Some(EncodedOutcomes {
            data,
            frame: OutcomeFrame {
                crc32: self.crc.finalize(),
                size: self.size,
                last_index,
            },
        }))
    }
}

/// The text of a stored blob: framed blobs are completed with a final block first.
pub fn inflate_outcomes(data: &[u8], frame: Option<&OutcomeFrame>) -> std::io::Result<String> {
    let mut text = String::new();
    let tail: &[u8] = if frame.is_some() {
        &FINAL_EMPTY_BLOCK
    } else {
        &[]
    };
    flate2::read::DeflateDecoder::new(data.chain(tail)).read_to_string(&mut text)?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(lines: &[(u64, &str)]) -> EncodedOutcomes {
        let mut writer = OutcomeBlobWriter::default();
        for (index, line) in lines {
            writer.push_line(*index, line.as_bytes()).unwrap();
        }
        writer.finish().unwrap().unwrap()
    }

    #[test]
    fn a_blob_inflates_to_its_lines_and_its_frame_describes_the_text() {
        let encoded = blob(&[(3, "{\"index\":3}"), (5, "{\"index\":5,\"a\":1}")]);
        let text = inflate_outcomes(&encoded.data, Some(&encoded.frame)).unwrap();
        assert_eq!(text, "{\"index\":3},\n{\"index\":5,\"a\":1}");
        assert_eq!(encoded.frame.size, text.len() as u64);
        assert_eq!(encoded.frame.crc32, crc32fast::hash(text.as_bytes()));
        assert_eq!(encoded.frame.last_index, 5);
    }

    #[test]
    fn blobs_concatenate_into_one_stream() {
        let first = blob(&[(0, "{\"index\":0}")]);
        let second = blob(&[(1, "{\"index\":1}"), (2, "{\"index\":2}")]);
        let mut stream = first.data.clone();
        stream.extend_from_slice(&second.data);
        let text = inflate_outcomes(&stream, Some(&second.frame)).unwrap();
        assert_eq!(text, "{\"index\":0}{\"index\":1},\n{\"index\":2}");
    }

    #[test]
    fn an_empty_writer_has_no_blob_and_old_blobs_still_inflate() {
        assert_eq!(OutcomeBlobWriter::default().finish().unwrap(), None);
        let mut old = DeflateEncoder::new(Vec::new(), Compression::fast());
        old.write_all(b"{\"index\":0}\n").unwrap();
        let old = old.finish().unwrap();
        assert_eq!(inflate_outcomes(&old, None).unwrap(), "{\"index\":0}\n");
    }
}
