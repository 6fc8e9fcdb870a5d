-- Identities a chunk adds to profiles that already existed are captured for a revert by the
-- worker's own statement (queries/reverts/capture_added_identities.sql) instead of an insert
-- trigger (issue 27). A statement trigger with a transition table on a partitioned table makes
-- PostgreSQL insert each `COPY` row on its own instead of in batches: about a fifth of the cost
-- of writing an import's identities. What is captured is unchanged.
DROP TRIGGER revert_capture_identity_insert ON identities;
DROP FUNCTION revert_capture_identity_insert();
