-- Records committed per bucket of $1 seconds over the last $2 seconds, with the time now.
SELECT floor(extract(epoch FROM now()))::int8 AS now_seconds,
       (floor(extract(epoch FROM c.committed_at))::int8 / $1::int8) * $1::int8 AS bucket_start,
       sum(c.records)::int8 AS records
  FROM task_chunks c
 WHERE c.committed_at > now() - make_interval(secs => $2::float8)
 GROUP BY 2
