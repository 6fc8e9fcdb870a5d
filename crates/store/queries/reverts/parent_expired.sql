-- Whether the reverted task's before-images were deleted after the retention period; holds the
-- task's row for sharing, so that the sweeper (which skips locked rows) cannot delete them while
-- the chunk restores from them.
SELECT revert_expired_at IS NOT NULL FROM tasks WHERE domain_id = $1 AND id = $2 FOR SHARE
