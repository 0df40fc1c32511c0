-- Baton schema, version 4 (PostgreSQL): the job, user task and incident
-- listings (job_query, task_query, incident_query) read a page through an
-- index instead of walking the table. Each listing is ordered by
-- (instance, key), which the tables' UNIQUE (instance, key) index yields;
-- each index below yields the same order within its equality, so
-- "... AND (instance, key) > cursor ORDER BY instance, key LIMIT n" stops
-- after n rows. Job states other than "incident" depend on the clock and
-- candidate groups and users live in the details' JSON: those filter on
-- the walk in key order.
CREATE INDEX jobs_type_key ON jobs (type, instance, key);
CREATE INDEX jobs_incident ON jobs (instance, key) WHERE retries <= 0;
CREATE INDEX user_tasks_assignee ON user_tasks (assignee, instance, key)
    WHERE assignee IS NOT NULL;
CREATE INDEX user_tasks_process ON user_tasks (process_id, instance, key);
CREATE INDEX incidents_kind ON incidents (kind, instance, key);
CREATE INDEX incidents_element ON incidents (element, instance, key);
