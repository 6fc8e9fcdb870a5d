//! Which cells of a CSV row were quoted, so that a quoted empty cell (`""`) can mean the empty
//! string while an empty cell leaves its field out, as PostgreSQL's `COPY … CSV` reads them.
//! Kept here because `csv-core` decodes cells without saying whether they were quoted; this
//! follows the same grammar (`,` between cells, `"` quotes, `""` a quote inside quotes).

/// Follows the bytes of one row as the parser consumes them.
#[derive(Debug, Default)]
pub struct QuoteTracker {
    /// Whether each cell so far began with a quote.
    quoted: Vec<bool>,
    at_cell_start: bool,
    in_quotes: bool,
    /// A quote just ended a quoted part (a second one makes it a literal quote).
    just_closed: bool,
    row_ended: bool,
    /// Cells beyond this are not tracked (the parser refuses such rows anyway).
    max_cells: usize,
}

impl QuoteTracker {
    pub fn new(max_cells: usize) -> QuoteTracker {
        QuoteTracker {
            at_cell_start: true,
            max_cells,
            ..QuoteTracker::default()
        }
    }

    /// Reads the next bytes of the row.
    pub fn feed(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            if self.row_ended {
                return;
            }
            self.step(byte);
        }
    }

    fn step(&mut self, byte: u8) {
        if self.at_cell_start {
            self.at_cell_start = false;
            if self.quoted.len() < self.max_cells {
                self.quoted.push(byte == b'"');
            }
            if byte == b'"' {
                self.in_quotes = true;
                return;
            }
        }
        if self.in_quotes {
            if byte == b'"' {
                self.in_quotes = false;
                self.just_closed = true;
            }
            return;
        }
        if std::mem::take(&mut self.just_closed) && byte == b'"' {
            self.in_quotes = true;
            return;
        }
        match byte {
            b',' => self.at_cell_start = true,
            b'\n' | b'\r' => self.row_ended = true,
            _ => {}
        }
    }

    /// Whether cell `at` of the row began with a quote.
    pub fn quoted(&self, at: usize) -> bool {
        self.quoted.get(at).copied().unwrap_or(false)
    }

    /// Starts the next row.
    pub fn reset(&mut self) {
        *self = QuoteTracker::new(self.max_cells);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quoted(row: &str, pieces: usize) -> Vec<bool> {
        let mut tracker = QuoteTracker::new(16);
        let bytes = row.as_bytes();
        let size = bytes.len().div_ceil(pieces).max(1);
        for piece in bytes.chunks(size) {
            tracker.feed(piece);
        }
        (0..row.split(',').count())
            .map(|at| tracker.quoted(at))
            .collect()
    }

    #[test]
    fn quoted_cells_are_found_however_the_row_is_cut() {
        for pieces in [1, 2, 3, 7, 40] {
            assert_eq!(
                quoted("a,\"\",,\"x,\"\"y\"\"\",b\r\n", pieces)[..5],
                [false, true, false, true, false],
                "{pieces} pieces"
            );
        }
        assert!(quoted("\"\"", 1)[0]);
        assert!(
            !QuoteTracker::new(4).quoted(3),
            "an unseen cell is not quoted"
        );
    }
}
