-- Takes the stored records of chunk `$3` of task `$2`: gone once the chunk's transaction commits.
DELETE FROM chunk_bodies
 WHERE domain_id = $1 AND task_id = $2 AND chunk_no = $3
RETURNING records
