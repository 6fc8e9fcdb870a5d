//! Refusing request heads that end a line with a bare LF. HTTP/1.1 lets a recipient accept
//! them, and hyper's parser does, with no option to refuse; but two parsers that disagree on
//! where a line ends are how requests are smuggled past a proxy. This reader follows the
//! request stream of a connection (heads, then `Content-Length` or chunked bodies, then the
//! next head) and turns a bare LF inside a head or a chunk line into a NUL, which hyper's
//! parser refuses with `400 Bad Request`. Kept by hand: no crate offers a strict HTTP/1
//! framing check to put in front of hyper.

use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// How much of a head line is kept: enough for the framing headers' names and values.
const LINE_KEPT: usize = 256;

/// What is known of a request head while it arrives; only the lines that decide the body's
/// framing are kept, so a large head costs nothing here.
#[derive(Debug, Default)]
struct Head {
    /// The first bytes of the line being read.
    line: Vec<u8>,
    /// The length of the line being read (without its CR).
    line_len: usize,
    /// Whether the line being read ended with CR so far.
    cr: bool,
    /// Whether the request line has been read.
    started: bool,
    content_length: Option<u64>,
    /// The last transfer coding named.
    last_coding: Option<String>,
    /// A framing header this reader cannot follow (hyper refuses or decides on its own).
    unclear: bool,
}

impl Head {
    /// Takes one byte; `Some` with the next framing when it ends the head or is refused.
    fn take(&mut self, byte: &mut u8) -> Option<Framing> {
        match *byte {
            b'\n' if !self.cr => {
                *byte = 0;
                Some(Framing::Untracked)
            }
            b'\n' => self.end_line(),
            b'\r' if !self.cr => {
                self.cr = true;
                None
            }
            other => {
                if self.cr {
                    // A CR inside a line: hyper refuses it; there is nothing to follow.
                    return Some(Framing::Untracked);
                }
                if self.line.len() < LINE_KEPT {
                    self.line.push(other);
                }
                self.line_len += 1;
                None
            }
        }
    }

    /// A line ended with CRLF.
    fn end_line(&mut self) -> Option<Framing> {
        let line = std::mem::take(&mut self.line);
        let length = std::mem::replace(&mut self.line_len, 0);
        self.cr = false;
        if length == 0 {
            // Blank lines before the request line are allowed (hyper skips them).
            return self.started.then(|| self.framing());
        }
        if !self.started {
            self.started = true;
            return None;
        }
        let colon = line.iter().position(|&b| b == b':')?;
        let name = String::from_utf8_lossy(&line[..colon]).to_ascii_lowercase();
        if name != "content-length" && name != "transfer-encoding" {
            return None;
        }
        let value = String::from_utf8_lossy(&line[colon + 1..])
            .trim()
            .to_ascii_lowercase();
        if length > LINE_KEPT {
            self.unclear = true;
        } else if name == "content-length" {
            match (value.parse::<u64>(), self.content_length) {
                (Ok(n), None) => self.content_length = Some(n),
                (Ok(n), Some(known)) if n == known => {}
                _ => self.unclear = true,
            }
        } else if let Some(coding) = value.rsplit(',').next() {
            self.last_coding = Some(coding.trim().to_owned());
        }
        None
    }

    /// How the body after this (complete) head is framed, as hyper reads it.
    fn framing(&self) -> Framing {
        if self.unclear {
            return Framing::Untracked;
        }
        match (&self.last_coding, self.content_length) {
            (Some(coding), _) if coding == "chunked" => Framing::Chunked(Chunk::Size {
                size: 0,
                extension: false,
                cr: false,
            }),
            (Some(_), _) => Framing::Untracked,
            (None, Some(0) | None) => Framing::Head(Head::default()),
            (None, Some(length)) => Framing::Fixed(length),
        }
    }
}

/// Where the reader is in the request stream.
#[derive(Debug)]
enum Framing {
    /// Inside a request head.
    Head(Head),
    /// Inside a body of known length: the bytes still to come.
    Fixed(u64),
    /// Inside a chunked body.
    Chunked(Chunk),
    /// No longer followed: the stream is one hyper refuses on its own (or ours was refused).
    Untracked,
}

/// Where the reader is in a chunked body.
#[derive(Debug)]
enum Chunk {
    /// The chunk-size line: the size so far, whether an extension began, whether CR was seen.
    Size {
        size: u64,
        extension: bool,
        cr: bool,
    },
    /// Chunk data: bytes still to come.
    Data(u64),
    /// The CRLF after chunk data: whether CR was seen.
    DataEnd { cr: bool },
    /// Trailer lines: the length of the current line, whether CR was seen.
    Trailer { line: usize, cr: bool },
}

/// A connection's read side with bare-LF heads refused (see the module comment).
#[derive(Debug)]
pub struct StrictHeads<S> {
    inner: S,
    framing: Framing,
}

impl<S> StrictHeads<S> {
    pub fn new(inner: S) -> StrictHeads<S> {
        StrictHeads {
            inner,
            framing: Framing::Head(Head::default()),
        }
    }
}

impl Framing {
    /// Follows `bytes`, turning a bare LF where one is not allowed into NUL.
    fn follow(&mut self, bytes: &mut [u8]) {
        let mut at = 0;
        while at < bytes.len() {
            at += match self {
                Framing::Untracked => return,
                Framing::Head(_) => self.follow_head(&mut bytes[at..]),
                Framing::Fixed(remaining) => {
                    let taken =
                        (bytes.len() - at).min(usize::try_from(*remaining).unwrap_or(usize::MAX));
                    *remaining -= taken as u64;
                    if *remaining == 0 {
                        *self = Framing::Head(Head::default());
                    }
                    taken
                }
                Framing::Chunked(_) => self.follow_chunk(&mut bytes[at..]),
            };
        }
    }

    /// Follows head bytes up to the head's end; returns how many were taken.
    fn follow_head(&mut self, bytes: &mut [u8]) -> usize {
        let Framing::Head(head) = self else { return 0 };
        for (n, byte) in bytes.iter_mut().enumerate() {
            if let Some(next) = head.take(byte) {
                *self = next;
                return n + 1;
            }
        }
        bytes.len()
    }

    /// Follows chunked-body bytes up to the body's end; returns how many were taken.
    fn follow_chunk(&mut self, bytes: &mut [u8]) -> usize {
        let mut taken = 0;
        while taken < bytes.len() {
            let Framing::Chunked(chunk) = self else {
                return taken;
            };
            if let Chunk::Data(remaining) = chunk {
                let data =
                    (bytes.len() - taken).min(usize::try_from(*remaining).unwrap_or(usize::MAX));
                *remaining -= data as u64;
                taken += data;
                if *remaining == 0 {
                    *chunk = Chunk::DataEnd { cr: false };
                }
                continue;
            }
            let byte = &mut bytes[taken];
            taken += 1;
            if let Some(next) = next_chunk_state(chunk, byte) {
                *self = next;
            }
        }
        taken
    }
}

/// The framing after a byte of a chunk line; `Some` when it leaves the chunk states.
fn next_chunk_state(chunk: &mut Chunk, byte: &mut u8) -> Option<Framing> {
    let line_byte = *byte;
    let was_cr = match chunk {
        Chunk::Size { cr, .. } | Chunk::DataEnd { cr } | Chunk::Trailer { cr, .. } => *cr,
        Chunk::Data(_) => false,
    };
    if line_byte == b'\n' && !was_cr {
        *byte = 0;
        return Some(Framing::Untracked);
    }
    match chunk {
        Chunk::Size {
            size,
            extension,
            cr,
        } => match line_byte {
            b'\r' => *cr = true,
            b'\n' if *size == 0 => *chunk = Chunk::Trailer { line: 0, cr: false },
            b'\n' => *chunk = Chunk::Data(*size),
            b';' => *extension = true,
            _ if *extension => {}
            digit => match (digit as char).to_digit(16) {
                Some(value) if *size < (1 << 56) => *size = *size * 16 + u64::from(value),
                // Not a size, or one hyper refuses as too large: its decoder answers that.
                _ => return Some(Framing::Untracked),
            },
        },
        Chunk::DataEnd { cr } => match line_byte {
            b'\r' if !*cr => *cr = true,
            b'\n' => {
                *chunk = Chunk::Size {
                    size: 0,
                    extension: false,
                    cr: false,
                }
            }
            _ => return Some(Framing::Untracked),
        },
        Chunk::Trailer { line, cr } => match line_byte {
            b'\r' => *cr = true,
            b'\n' if *line == 0 => return Some(Framing::Head(Head::default())),
            b'\n' => *chunk = Chunk::Trailer { line: 0, cr: false },
            _ => {
                *line += 1;
                *cr = false;
            }
        },
        Chunk::Data(_) => {}
    }
    None
}

impl<S: AsyncRead + Unpin> AsyncRead for StrictHeads<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(context, buf);
        if let Poll::Ready(Ok(())) = polled {
            this.framing.follow(&mut buf.filled_mut()[before..]);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for StrictHeads<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(context, data)
    }

    fn poll_flush(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(context)
    }

    fn poll_shutdown(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(context)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        data: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(context, data)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `stream` followed in pieces of `cut` bytes; the bytes as hyper would read them.
    fn followed(stream: &[u8], cut: usize) -> Vec<u8> {
        let mut framing = Framing::Head(Head::default());
        let mut out = stream.to_vec();
        for piece in out.chunks_mut(cut.max(1)) {
            framing.follow(piece);
        }
        out
    }

    const PIPELINE: &[u8] = b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nab\ncd\
GET /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\na\nb\r\n0\r\nT: 1\r\n\r\n\
\r\nGET /c HTTP/1.1\r\nHost: x\r\n\r\n";

    #[test]
    fn crlf_heads_and_bodies_with_lf_pass_unchanged() {
        for cut in [1, 2, 7, PIPELINE.len()] {
            assert_eq!(followed(PIPELINE, cut), PIPELINE, "cut {cut}");
        }
    }

    #[test]
    fn a_bare_lf_in_a_request_line_or_header_is_refused() {
        for stream in [
            &b"GET / HTTP/1.1\nHost: x\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\nHost: x\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\n\n",
        ] {
            assert!(followed(stream, 3).contains(&0), "{stream:?}");
        }
    }

    #[test]
    fn a_bare_lf_after_a_body_is_found_in_the_next_head() {
        let stream =
            b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\n\n\nGET / HTTP/1.1\nHost: x\r\n\r\n";
        let out = followed(stream, 5);
        let body_start = stream.len() - b"\n\nGET / HTTP/1.1\nHost: x\r\n\r\n".len();
        assert_eq!(
            &out[body_start..body_start + 2],
            b"\n\n",
            "body bytes are untouched"
        );
        assert!(out[body_start + 2..].contains(&0));
    }

    #[test]
    fn a_bare_lf_in_a_chunk_line_is_refused() {
        let stream = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\nab\r\n0\r\n\r\n";
        assert!(followed(stream, 4).contains(&0));
    }

    proptest! {
        #[test]
        fn well_formed_pipelines_are_never_changed(
            bodies in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 1..5),
            chunked in any::<bool>(),
            cut in 1usize..64,
        ) {
            let mut stream = Vec::new();
            for body in &bodies {
                if chunked {
                    stream.extend_from_slice(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
                    for piece in body.chunks(7) {
                        stream.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
                        stream.extend_from_slice(piece);
                        stream.extend_from_slice(b"\r\n");
                    }
                    stream.extend_from_slice(b"0\r\n\r\n");
                } else {
                    stream.extend_from_slice(
                        format!("POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n", body.len()).as_bytes(),
                    );
                    stream.extend_from_slice(body);
                }
            }
            prop_assert_eq!(followed(&stream, cut), stream);
        }

        #[test]
        fn a_bare_lf_anywhere_in_a_head_is_refused(at in 0usize..40, cut in 1usize..16) {
            let head = b"GET /resource HTTP/1.1\r\nHost: example\r\nAccept: */*\r\n\r\n";
            let crlfs: Vec<usize> = head.windows(2).enumerate()
                .filter(|(_, pair)| pair == b"\r\n").map(|(n, _)| n).collect();
            let drop_cr = crlfs[at % crlfs.len()];
            let mut stream = head.to_vec();
            stream.remove(drop_cr);
            prop_assert!(followed(&stream, cut).contains(&0));
        }
    }
}
