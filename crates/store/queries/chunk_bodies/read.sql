-- The stored records of chunk `$3` of task `$2`, kept (a chunk given up on keeps them for a
-- replay of its dead letter).
SELECT records FROM chunk_bodies WHERE domain_id = $1 AND task_id = $2 AND chunk_no = $3
