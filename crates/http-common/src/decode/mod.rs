//! Reading request bodies into records, shared by every HTTP front end (the native API and
//! the compatible endpoints): the body as a bounded stream of decoded bytes (gzip undone, limits
//! on decompressed bytes), JSON with a budget of values, and records split from JSON arrays,
//! JSONL, tables (`columns` + `rows`) and CSV — whole bodies, or files of any size piece by
//! piece — each a [`RawRecord`] with its position and line.
//! [`DecodeError`] says why a body could not be read, and maps to its answer once.

mod array_stream;
mod body;
mod bom;
mod csv;
mod csv_quotes;
mod file;
mod json_budget;
mod payload;
mod problems;
mod tabular;

pub use array_stream::ArraySplitter;
pub use body::{BodyError, ContentEncoding, collect, decoded_stream, media_type};
pub use csv::CsvCollector;
pub use file::{FileLayout, FileSplitter};
pub use json_budget::{BudgetError, bounded_array, check_value_count};
pub use payload::{PayloadCollector, whole_array};
pub use problems::{MediaProblem, PayloadProblem};
pub use tabular::{
    CSV_NULL, Cell, MAX_COLUMNS, RowCells, broken_record, check_columns, decode_cell,
    failed_record, json_record, json_rows, native_record, read_columns, row_cells, table_records,
};
pub use userhub_domain::record::raw::{PayloadFormat, RawRecord, RecordContent};

use crate::error::ApiError;
use crate::limits::BodyTimeout;
use axum::http::StatusCode;

/// Why a body could not be read into records (the request is refused as a whole).
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("the payload holds more than {limit} records")]
    TooManyRecords { limit: usize },
    #[error("the request body is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error(transparent)]
    TimedOut(#[from] BodyTimeout),
    #[error(transparent)]
    Invalid(#[from] PayloadProblem),
}

impl From<BodyError> for DecodeError {
    fn from(error: BodyError) -> Self {
        match error {
            BodyError::TooLarge { limit } => DecodeError::TooLarge { limit },
            BodyError::TimedOut(timeout) => DecodeError::TimedOut(timeout),
            BodyError::BadGzip(_) | BodyError::Read(_) => {
                DecodeError::Invalid(PayloadProblem::Body(error))
            }
        }
    }
}

impl From<DecodeError> for ApiError {
    fn from(error: DecodeError) -> Self {
        let message = error.to_string();
        match error {
            DecodeError::TooManyRecords { limit } => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "TOO_MANY_RECORDS", message)
                    .with_details(serde_json::json!({ "limit": limit }))
            }
            DecodeError::TooLarge { limit } => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", message)
                    .with_details(serde_json::json!({ "limit_bytes": limit }))
            }
            DecodeError::TimedOut(timeout) => ApiError::from(timeout),
            DecodeError::Invalid(_) => {
                ApiError::new(StatusCode::BAD_REQUEST, "INVALID_PAYLOAD", message)
            }
        }
    }
}
