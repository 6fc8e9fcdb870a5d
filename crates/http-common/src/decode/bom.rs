//! A UTF-8 byte order mark at the start of a streamed text, dropped however the first bytes are
//! cut: bytes that could still be the start of one are held back until that is settled.

use std::borrow::Cow;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Drops a leading byte order mark from a text that arrives in pieces.
#[derive(Debug)]
pub struct LeadingBom {
    /// Bytes seen before the question was settled; `None` once it is.
    start: Option<Vec<u8>>,
}

impl Default for LeadingBom {
    fn default() -> Self {
        LeadingBom {
            start: Some(Vec::new()),
        }
    }
}

impl LeadingBom {
    /// The text of the next piece, without a leading mark; `None` while the first bytes could
    /// still be one.
    pub fn strip<'a>(&mut self, bytes: &'a [u8]) -> Option<Cow<'a, [u8]>> {
        let Some(mut start) = self.start.take() else {
            return Some(Cow::Borrowed(bytes));
        };
        start.extend_from_slice(bytes);
        if start.len() < UTF8_BOM.len() && UTF8_BOM.starts_with(&start) {
            self.start = Some(start);
            return None;
        }
        let text = start
            .strip_prefix(UTF8_BOM)
            .map(<[u8]>::to_vec)
            .unwrap_or(start);
        Some(Cow::Owned(text))
    }

    /// At the end of the text: the bytes still held back (a text shorter than a mark).
    pub fn finish(&mut self) -> Vec<u8> {
        self.start.take().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_is_dropped_however_the_text_is_cut() {
        for cut in 0..=5 {
            let text = b"\xEF\xBB\xBFab";
            let mut bom = LeadingBom::default();
            let mut out = Vec::new();
            if let Some(piece) = bom.strip(&text[..cut]) {
                out.extend_from_slice(&piece);
            }
            if let Some(piece) = bom.strip(&text[cut..]) {
                out.extend_from_slice(&piece);
            }
            out.extend(bom.finish());
            assert_eq!(out, b"ab", "cut at {cut}");
        }
        let mut bom = LeadingBom::default();
        assert_eq!(bom.strip(b"\xEF"), None);
        assert_eq!(bom.finish(), b"\xEF", "a text shorter than a mark is kept");
    }
}
