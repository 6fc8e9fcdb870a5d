-- The domains that have a task with this id (an operator's lookup across domains; task ids are
-- unique within a domain, and time-ordered with random bits across domains).
SELECT domain_id FROM tasks WHERE id = $1 ORDER BY domain_id
