-- Baton schema, version 3 (PostgreSQL): filtered instance listings and counts
-- (instance_query, instance_count) read a page through an index instead of
-- walking every instance. Each index yields ids in order within its
-- equality, so "... AND id > cursor ORDER BY id LIMIT n" stops after n rows
-- and a count of active instances reads the index alone.
CREATE INDEX instances_state ON instances (state, id);
CREATE INDEX instances_process ON instances (process_id, id);
CREATE INDEX instances_incidents ON instances (id) WHERE incidents > 0;
-- The message start check (an active instance of this process with this
-- business key?) probes the key and the process together; on the key
-- alone, a process with a million instances made the planner walk them.
DROP INDEX instances_business_key;
CREATE INDEX instances_business_key ON instances (business_key, process_id)
    WHERE business_key IS NOT NULL;
