-- Upload $2 of domain $1, locked until the caller's transaction ends: whether it is complete and
-- the task it already became.
SELECT received = length AS complete, task_id
  FROM uploads WHERE domain_id = $1 AND id = $2
   FOR UPDATE
