-- Up to $1 of the oldest outbox rows that no other relay holds, locked; a row has either the
-- compact columns or (written before migration 0015) the spelled-out ones.
SELECT domain_id, id, event_ids, routing_keys, bodies, task_id, chunk_no, domain, workflow_id, occurred_at,
       profile_ids, created, field_lists, field_list_of, pids, app_ids, versions
  FROM profile_event_outbox
 ORDER BY id
 LIMIT $1
   FOR UPDATE SKIP LOCKED
