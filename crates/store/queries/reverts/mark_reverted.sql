-- Records that revert task $4 undid task $3's changes to the domain's profiles $2.
UPDATE revert_marks SET reverted_by = $4
 WHERE domain_id = $1 AND task_id = $3 AND core_profile_id = ANY($2)
