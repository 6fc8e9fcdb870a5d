-- Turns on the capture of before-images for task $1 until the transaction ends.
SELECT set_config('userhub.capture_task', $1::bigint::text, true)
