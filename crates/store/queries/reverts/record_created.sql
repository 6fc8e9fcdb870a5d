-- Lists the core profiles chunk $2 of task $1 created.
INSERT INTO revert_created (task_id, chunk_no, domain_id, core_profile_ids)
VALUES ($1, $2, $3, $4)
ON CONFLICT (domain_id, task_id, chunk_no) DO NOTHING
