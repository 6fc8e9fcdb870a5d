-- completed | processing → processing: takes a replayed chunk's counts out ($3 chunks,
-- $4 records, $5 succeeded, $6 failed) so that it can be applied again.
UPDATE tasks SET
    chunks_done = chunks_done - $3,
    processed = processed - $4,
    succeeded = succeeded - $5,
    failed = failed - $6,
    state = 'processing', outcome = NULL, completed_at = NULL, failure_reason = NULL,
    last_progress_at = clock_timestamp()
 WHERE domain_id = $1 AND id = $2
