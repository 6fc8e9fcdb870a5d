-- completed | processing → processing: takes a replayed chunk's counts out ($2 chunks,
-- $3 records, $4 succeeded, $5 failed) so that it can be applied again.
UPDATE tasks SET
    chunks_done = chunks_done - $2,
    processed = processed - $3,
    succeeded = succeeded - $4,
    failed = failed - $5,
    state = 'processing', outcome = NULL, completed_at = NULL, failure_reason = NULL,
    last_progress_at = clock_timestamp()
 WHERE id = $1
