-- Whether task $2's before-images were deleted after the retention period.
SELECT revert_expired_at IS NOT NULL FROM tasks WHERE domain_id = $1 AND id = $2
