-- Records of one domain's unfinished tasks not processed yet.
SELECT coalesce(sum(total - processed), 0)::int8 FROM tasks
 WHERE domain_id = $1 AND state <> 'completed'
