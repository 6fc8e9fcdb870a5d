-- Unfinished tasks idle for at least $1 ms, locked for one stall detector; tasks another
-- process holds (a gateway publishing, a worker committing, another detector) are skipped.
SELECT domain_id, id, action, state, chunks_total, chunks_done, chunk_manifest,
       stalled_since IS NOT NULL AS marked,
       extract(epoch FROM clock_timestamp() - last_progress_at)::int8 AS idle
  FROM tasks
 WHERE state <> 'completed'
   AND last_progress_at < clock_timestamp() - make_interval(secs => $1::int8 / 1000.0)
 ORDER BY last_progress_at
 LIMIT $2
   FOR UPDATE SKIP LOCKED
