-- Baton schema, version 1 (PostgreSQL). The same logical schema as
-- migrations/sqlite/0001_schema.sql: same tables, columns and meaning;
-- only the types and the id generators are spelled the PostgreSQL way.
-- Times are milliseconds since the epoch. JSON is kept as text so what
-- was written is what is read back (replay compares the state byte for byte).

-- uploaded BPMN documents, byte for byte; identical XML is one deployment
CREATE TABLE deployments (
    id BIGSERIAL PRIMARY KEY,
    name TEXT,
    xml BYTEA NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    created BIGINT NOT NULL
);

-- versions per process id: (process id, version) -> deployment
CREATE TABLE definitions (
    id BIGSERIAL PRIMARY KEY,
    process_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    deployment BIGINT NOT NULL,
    UNIQUE (process_id, version)
);

-- instance ids; each node takes a block of 32 at a time
CREATE SEQUENCE instance_ids INCREMENT BY 32;

-- process instances; state_json is the whole state (element instances,
-- variables per scope, waits), see the views below
CREATE TABLE instances (
    id BIGINT PRIMARY KEY,
    deployment BIGINT NOT NULL,
    process_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    state INTEGER NOT NULL,
    business_key TEXT,
    parent_id BIGINT NOT NULL DEFAULT 0,
    parent_key BIGINT NOT NULL DEFAULT 0,
    started BIGINT NOT NULL,
    ended BIGINT NOT NULL DEFAULT 0,
    incidents INTEGER NOT NULL DEFAULT 0,
    seq BIGINT NOT NULL DEFAULT 0,
    state_json TEXT
);
CREATE INDEX instances_parent ON instances (parent_id, parent_key) WHERE parent_id <> 0;
CREATE INDEX instances_ended ON instances (ended) WHERE ended <> 0;
CREATE INDEX instances_business_key ON instances (business_key) WHERE business_key IS NOT NULL;

-- the token history: append-only, one row per record, seq contiguous from 1
CREATE TABLE history (
    instance BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    element TEXT,
    record TEXT NOT NULL,
    PRIMARY KEY (instance, seq)
);

CREATE TABLE jobs (
    id BIGSERIAL PRIMARY KEY,
    instance BIGINT NOT NULL,
    key BIGINT NOT NULL,
    type TEXT NOT NULL,
    element TEXT,
    retries INTEGER NOT NULL,
    available_at BIGINT NOT NULL DEFAULT 0,
    worker TEXT,
    lock_expiry BIGINT NOT NULL DEFAULT 0,
    created BIGINT NOT NULL,
    UNIQUE (instance, key)
);
CREATE INDEX jobs_type ON jobs (type, id);

-- instance timers (instance > 0) and timer start events (instance = 0)
CREATE TABLE timers (
    instance BIGINT NOT NULL,
    key BIGINT NOT NULL,
    due BIGINT NOT NULL,
    deployment BIGINT NOT NULL,
    element TEXT,
    repeat INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (instance, key)
);
CREATE INDEX timers_due ON timers (due, instance, key);

-- message (kind 0) and signal (kind 1) subscriptions
CREATE TABLE subscriptions (
    id BIGSERIAL PRIMARY KEY,
    kind INTEGER NOT NULL,
    instance BIGINT NOT NULL,
    key BIGINT NOT NULL,
    name TEXT NOT NULL,
    correlation TEXT,
    element TEXT,
    UNIQUE (kind, instance, key)
);
CREATE INDEX subscriptions_name ON subscriptions (kind, name, id);

CREATE TABLE user_tasks (
    id BIGSERIAL PRIMARY KEY,
    instance BIGINT NOT NULL,
    key BIGINT NOT NULL,
    element TEXT,
    name TEXT,
    process_id TEXT,
    assignee TEXT,
    details TEXT,
    created BIGINT NOT NULL,
    UNIQUE (instance, key)
);

CREATE TABLE incidents (
    id BIGSERIAL PRIMARY KEY,
    instance BIGINT NOT NULL,
    key BIGINT NOT NULL,
    element TEXT,
    kind TEXT,
    message TEXT,
    created BIGINT NOT NULL,
    UNIQUE (instance, key)
);

-- events between instances, written in the step's transaction
CREATE TABLE outbox (
    id BIGSERIAL PRIMARY KEY,
    kind INTEGER NOT NULL,
    instance BIGINT NOT NULL,
    key BIGINT NOT NULL,
    payload TEXT,
    created BIGINT NOT NULL
);
CREATE INDEX outbox_instance ON outbox (instance, id);

-- published messages waiting for a subscriber, until they expire
CREATE TABLE messages (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    correlation TEXT,
    message_id TEXT,
    variables TEXT,
    expires BIGINT NOT NULL
);
CREATE INDEX messages_name ON messages (name, correlation, id);
CREATE INDEX messages_message_id ON messages (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX messages_expires ON messages (expires);

-- element instances and variables per scope, read from the state
CREATE VIEW element_instances AS
    SELECT i.id AS instance,
           (e.value ->> 'key')::bigint AS key,
           (e.value ->> 'parent')::bigint AS parent,
           e.value ->> 'element' AS element,
           (e.value ->> 'state')::integer AS state
    FROM instances i, json_array_elements(i.state_json::json -> 'elements') AS e(value);

CREATE VIEW variables AS
    SELECT i.id AS instance,
           (e.value ->> 'key')::bigint AS scope,
           v.key AS name,
           v.value::text AS value
    FROM instances i,
         json_array_elements(i.state_json::json -> 'elements') AS e(value),
         json_each(e.value -> 'vars') AS v;
