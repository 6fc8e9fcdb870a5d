-- A chunk's events as one compact outbox row.
INSERT INTO profile_event_outbox (domain_id, task_id, chunk_no, domain, workflow_id, occurred_at,
    profile_ids, created, field_lists, field_list_of, pids, app_ids, versions)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
