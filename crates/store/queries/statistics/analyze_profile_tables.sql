-- Fresh planner statistics for the tables that bulk writes grow: their sizes, and the columns
-- that their lookups filter on (the JSON columns are left out: statistics of them would cost most
-- of the time and no query filters on them). A sample of 3 000 rows instead of the default
-- 30 000 gives the same plans for every lookup (`EXPLAIN` on 300 000 and 800 000 profiles)
-- at a sixth of the cost; autovacuum later analyses the partitions with the default sample.
SET LOCAL default_statistics_target = 10;
ANALYZE core_profiles (id, domain_id, updated_at),
        identities (domain_id, kind, normalized, core_profile_id),
        app_profiles (pid, domain_id, core_profile_id, app_id, updated_at);
