//! The request body as a stream of decoded bytes: gzip is undone when asked, and the limit
//! counts decompressed bytes and is enforced while reading, with or without `Content-Length`.

use crate::limits::BodyTimeout;
use axum::body::Body;
use bytes::Bytes;
use flate2::write::GzDecoder;
use futures_util::{Stream, StreamExt};
use std::io::Write;

/// Compressed input is fed to the decoder in slices this small, so that one slice can expand
/// to at most about half a megabyte (deflate's ratio is at most about 1 032 : 1).
const GZIP_FEED_BYTES: usize = 512;
/// A decoded piece is handed on once it holds this much: a small compressed chunk that inflates
/// to hundreds of megabytes arrives as many pieces, each checked against the limit and the
/// reader's own budget before the next is decoded.
const DECODED_PIECE_BYTES: usize = 256 * 1024;

/// Why the body could not be read.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BodyError {
    #[error("the request body is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error(
        "the body is labelled `Content-Encoding: gzip` but is not gzip data ({0}); send it \
         compressed or drop the header"
    )]
    BadGzip(String),
    #[error("the request body could not be read: {0}")]
    Read(String),
    #[error(transparent)]
    TimedOut(#[from] BodyTimeout),
}

impl BodyError {
    fn of_read(error: axum::Error) -> BodyError {
        match BodyTimeout::behind(&error) {
            Some(timeout) => BodyError::TimedOut(timeout),
            None => BodyError::Read(error.to_string()),
        }
    }
}

/// How the body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentEncoding {
    Identity,
    Gzip,
}

impl ContentEncoding {
    /// `None` for encodings we do not support.
    pub fn parse(header: Option<&str>) -> Option<ContentEncoding> {
        match header.map(|value| value.trim().to_ascii_lowercase()) {
            None => Some(ContentEncoding::Identity),
            Some(value) if value.is_empty() || value == "identity" => {
                Some(ContentEncoding::Identity)
            }
            Some(value) if value == "gzip" || value == "x-gzip" => Some(ContentEncoding::Gzip),
            Some(_) => None,
        }
    }
}

struct DecodeState {
    inner: axum::body::BodyDataStream,
    decoder: Option<GzDecoder<Vec<u8>>>,
    /// Compressed input received but not decoded yet.
    pending: Bytes,
    total: u64,
    limit: u64,
    finished: bool,
}

impl DecodeState {
    fn count(&mut self, produced: usize) -> Result<(), BodyError> {
        self.total += produced as u64;
        if self.total > self.limit {
            Err(BodyError::TooLarge { limit: self.limit })
        } else {
            Ok(())
        }
    }

    /// Decodes pending input until a piece of [`DECODED_PIECE_BYTES`] is ready or the input is
    /// used up (plain bodies pass through).
    fn decode_some(&mut self) -> Result<Bytes, BodyError> {
        let Some(decoder) = self.decoder.as_mut() else {
            let input = std::mem::take(&mut self.pending);
            self.count(input.len())?;
            return Ok(input);
        };
        let mut output = Vec::new();
        while !self.pending.is_empty() && output.len() < DECODED_PIECE_BYTES {
            let slice = self
                .pending
                .split_to(GZIP_FEED_BYTES.min(self.pending.len()));
            decoder
                .write_all(&slice)
                .map_err(|error| BodyError::BadGzip(error.to_string()))?;
            let produced = std::mem::take(decoder.get_mut());
            self.total += produced.len() as u64;
            if self.total > self.limit {
                return Err(BodyError::TooLarge { limit: self.limit });
            }
            output.extend_from_slice(&produced);
        }
        Ok(Bytes::from(output))
    }

    fn finish(&mut self) -> Result<Bytes, BodyError> {
        let Some(decoder) = self.decoder.as_mut() else {
            return Ok(Bytes::new());
        };
        decoder
            .try_finish()
            .map_err(|error| BodyError::BadGzip(error.to_string()))?;
        let rest = std::mem::take(decoder.get_mut());
        self.count(rest.len())?;
        Ok(Bytes::from(rest))
    }
}

/// The request's media type (`Content-Type` without parameters, lowercase; empty if absent).
pub fn media_type(headers: &axum::http::HeaderMap) -> String {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Streams the decoded body, failing once more than `limit` decoded bytes were produced; it
/// keeps answering `None` once it has ended. A body refused early is left unread: the answer
/// closes the connection (see `userhub_http_common`'s body watch).
pub fn decoded_stream(
    body: Body,
    encoding: ContentEncoding,
    limit: u64,
) -> impl Stream<Item = Result<Bytes, BodyError>> + Send + Unpin + 'static {
    let state = DecodeState {
        inner: body.into_data_stream(),
        decoder: (encoding == ContentEncoding::Gzip).then(|| GzDecoder::new(Vec::new())),
        pending: Bytes::new(),
        total: 0,
        limit,
        finished: false,
    };

    Box::pin(futures_util::stream::unfold(
        state,
        |mut state| async move {
            if state.finished {
                return None;
            }
            loop {
                if !state.pending.is_empty() {
                    match state.decode_some() {
                        Ok(bytes) if bytes.is_empty() => continue,
                        Ok(bytes) => return Some((Ok(bytes), state)),
                        Err(error) => {
                            state.finished = true;
                            return Some((Err(error), state));
                        }
                    }
                }
                let next = state.inner.next().await;
                match next {
                    Some(Ok(chunk)) => state.pending = chunk,
                    Some(Err(error)) => {
                        state.finished = true;
                        return Some((Err(BodyError::of_read(error)), state));
                    }
                    None => {
                        state.finished = true;
                        return match state.finish() {
                            Ok(bytes) if bytes.is_empty() => None,
                            result => Some((result, state)),
                        };
                    }
                }
            }
        },
    ))
    .fuse()
}

/// Reads the whole decoded body (for the small url-encoded and JSON bodies).
pub async fn collect(
    mut stream: impl Stream<Item = Result<Bytes, BodyError>> + Unpin,
) -> Result<Vec<u8>, BodyError> {
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        body.extend_from_slice(&chunk?);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[tokio::test]
    async fn gzip_bodies_are_decoded() {
        let body = Body::from(gzip(b"hello world"));
        let decoded = collect(decoded_stream(body, ContentEncoding::Gzip, 100))
            .await
            .unwrap();
        assert_eq!(decoded, b"hello world");
    }

    #[tokio::test]
    async fn a_gzip_bomb_stops_at_the_decompressed_limit() {
        let bomb = gzip(&vec![b'a'; 50 * 1024 * 1024]);
        assert!(bomb.len() < 100 * 1024, "the bomb is small when compressed");
        let result = collect(decoded_stream(
            Body::from(bomb),
            ContentEncoding::Gzip,
            1024 * 1024,
        ))
        .await;
        assert!(matches!(
            result,
            Err(BodyError::TooLarge { limit: 1_048_576 })
        ));
    }

    #[tokio::test]
    async fn a_small_compressed_chunk_inflates_in_bounded_pieces() {
        let data: Vec<u8> = (0..40 * 1024 * 1024).map(|at| b"<a/>"[at % 4]).collect();
        let bomb = gzip(&data);
        let mut stream = decoded_stream(Body::from(bomb), ContentEncoding::Gzip, u64::MAX);
        let (mut pieces, mut total, mut largest) = (0, 0, 0);
        while let Some(piece) = stream.next().await {
            let piece = piece.unwrap();
            pieces += 1;
            total += piece.len();
            largest = largest.max(piece.len());
        }
        assert_eq!(total, data.len());
        assert!(pieces > 40, "{pieces} pieces");
        assert!(
            largest <= DECODED_PIECE_BYTES + 1032 * GZIP_FEED_BYTES,
            "{largest}"
        );
    }

    #[tokio::test]
    async fn plain_bodies_over_the_limit_fail_without_content_length() {
        let chunks: Vec<Result<Bytes, std::io::Error>> =
            (0..10).map(|_| Ok(Bytes::from(vec![b'x'; 1000]))).collect();
        let body = Body::from_stream(futures_util::stream::iter(chunks));
        let result = collect(decoded_stream(body, ContentEncoding::Identity, 5000)).await;
        assert!(matches!(result, Err(BodyError::TooLarge { .. })));
    }

    #[tokio::test]
    async fn broken_gzip_is_reported() {
        let result = collect(decoded_stream(
            Body::from("not gzip at all"),
            ContentEncoding::Gzip,
            100,
        ))
        .await;
        assert!(matches!(result, Err(BodyError::BadGzip(_))));
    }

    #[test]
    fn only_gzip_and_identity_encodings_are_known() {
        assert_eq!(
            ContentEncoding::parse(Some("GZIP")),
            Some(ContentEncoding::Gzip)
        );
        assert_eq!(
            ContentEncoding::parse(None),
            Some(ContentEncoding::Identity)
        );
        assert_eq!(ContentEncoding::parse(Some("br")), None);
    }
}
