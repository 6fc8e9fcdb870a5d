-- A new task in state `created`, unless another domain has a task with this id (ids are unique
-- within a domain by the key; across domains this check keeps them apart, so that task ids,
-- event ids and webhook ids name one task). No row: draw another id.
INSERT INTO tasks (id, domain_id, action, state, input_format, total, chunks_total,
                   idempotency_key, request_hash, chunk_manifest, options, parent_task_id,
                   accepted_in_batches)
SELECT $1::int8, $2::int8, $3::text, 'created', $4::text, $5::int8, $6::int4, $7::text,
       $8::bytea, $9::jsonb, $10::jsonb, $11::int8, $12::bool
 WHERE NOT EXISTS (SELECT 1 FROM tasks WHERE id = $1::int8)
