-- Upload $2 of domain $1, whether or not it has expired, and the task it became.
SELECT length, received, metadata, expires_at, task_id,
       expires_at < now() AND received < length AS expired
  FROM uploads WHERE domain_id = $1 AND id = $2
