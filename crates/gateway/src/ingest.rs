//! The ingest library other front ends build on (the compatible endpoints of `userhub-compat`):
//! bounded body reading, record building, submitting a parsed request as a task, and waiting
//! for its outcomes. The native API uses the same pieces.

pub use crate::body::{BodyError, ContentEncoding, decoded_stream, media_type};
pub use crate::json_budget::{BudgetError, bounded_array, check_value_count};
pub use crate::options::flag;
pub use crate::payload::{PayloadFormat, RawRecord, RecordContent};
pub use crate::request::ParsedRequest;
pub use crate::submit::{Created, Submitted, submit};
pub use crate::sync::{Awaited, Finished, OutcomeEntry, RecordOutcome, await_task, outcomes};
pub use crate::tabular::{
    broken_record, check_columns, failed_record, json_record, json_rows, read_columns, row_cells,
};
