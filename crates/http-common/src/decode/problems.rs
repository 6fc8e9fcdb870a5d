//! Why a request body could not be read into records, as typed values: each renders its own
//! sentence, naming the part the caller sent.

use super::body::BodyError;

/// What is wrong with the body's media type or encoding.
#[derive(Debug, thiserror::Error)]
pub enum MediaProblem {
    #[error(
        "a Content-Type is required: application/x-www-form-urlencoded, multipart/form-data, \
         application/json or text/csv"
    )]
    MissingContentType,
    #[error(
        "unsupported content type `{0}`; use application/x-www-form-urlencoded, \
         multipart/form-data, application/json or text/csv"
    )]
    ContentType(String),
    #[error("unsupported content encoding `{0}`; use gzip or none")]
    Encoding(String),
}

/// What is wrong with the records' container (the request is refused as a whole).
#[derive(Debug, thiserror::Error)]
pub enum PayloadProblem {
    #[error(transparent)]
    Body(#[from] BodyError),
    #[error("the multipart body has no boundary")]
    NoBoundary,
    #[error("malformed multipart body: {0}")]
    Multipart(multer::Error),
    #[error("the gzip `payload` part cannot be read: {0}")]
    GzipPartUnreadable(std::io::Error),
    #[error("the gzip `payload` part is cut short: {0}")]
    GzipPartCutShort(std::io::Error),
    #[error("the body is not UTF-8 text")]
    NotUtf8,
    /// `what` names the document, e.g. the body or the `payload` field.
    #[error("{what} is not valid JSON: {source}")]
    NotJson {
        what: &'static str,
        source: serde_json::Error,
    },
    #[error("{what} must be a JSON object, not {kind}")]
    NotAnObject {
        what: &'static str,
        kind: &'static str,
    },
    #[error("`payload` is required")]
    PayloadRequired,
    #[error("`payload` (or `columns` with `rows`) is required")]
    RecordsRequired,
    #[error("give either `payload` or `columns` with `rows`")]
    PayloadAndTable,
    #[error("give either the records or `upload_id`, not both")]
    PayloadAndUpload,
    #[error("`upload_id` must be a string, not {0}")]
    UploadIdNotAString(&'static str),
    #[error("`payload` must be a JSON array of records")]
    NotAnArray,
    #[error("`payload` is not a valid JSON array: {0}")]
    InvalidArray(serde_json::Error),
    #[error("the payload holds no records")]
    NoRecords,
    #[error("the JSON array is malformed at line {line}: {what}")]
    MalformedArray { line: u32, what: String },
    #[error("the CSV header row is longer than {max_bytes} bytes or {max_cells} cells")]
    CsvHeaderTooLong { max_bytes: usize, max_cells: usize },
    #[error("the CSV is empty: it needs a header row naming the columns")]
    CsvEmpty,
    #[error("the CSV holds a header but no rows")]
    CsvWithoutRows,
    #[error("`columns` must name at least one column")]
    NoColumns,
    #[error("there are {count} columns; at most {max} are accepted")]
    TooManyColumns { count: usize, max: usize },
    #[error("`columns` names more than {0} columns")]
    ColumnsOverLimit(usize),
    #[error("`columns` must be an array of strings")]
    ColumnsNotStrings,
    /// 1-based position of the column.
    #[error("column {position} must have a name of 1 to {max_chars} characters")]
    ColumnName { position: usize, max_chars: usize },
    #[error("column `{0}` appears more than once")]
    RepeatedColumn(String),
    #[error("`rows` must be an array of arrays: {0}")]
    RowsNotArrays(serde_json::Error),
    #[error("`rows` holds no rows")]
    NoRows,
    #[error("an export selector (`all`, `updated_since`, `identity`) must be the only record")]
    SelectorNotAlone,
}
