//! The ingest library other front ends build on (the compatible endpoints of `userhub-compat`):
//! bounded body reading, record building, submitting a parsed request as a task, and waiting
//! for its outcomes. The native API uses the same pieces.

pub use crate::options::flag;
pub use crate::request::ParsedRequest;
pub use userhub_http_common::decode::{
    BodyError, BudgetError, ContentEncoding, PayloadFormat, RawRecord, RecordContent,
    bounded_array, broken_record, check_columns, check_value_count, decoded_stream, failed_record,
    json_record, json_rows, media_type, read_columns, row_cells,
};
pub use userhub_tasks::intake::{Created, Submitted};
pub use userhub_tasks::readback::{
    Awaited, Finished, OutcomeEntry, RecordOutcome, await_task, outcomes,
};
