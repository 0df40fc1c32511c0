-- Baton schema, version 1 (SQLite). The same logical schema as
-- migrations/postgres/0001_schema.sql: same tables, columns and meaning;
-- only the types and the id generators are spelled the SQLite way.
-- Times are milliseconds since the epoch.

-- uploaded BPMN documents, byte for byte; identical XML is one deployment
CREATE TABLE deployments (
    id INTEGER PRIMARY KEY,
    name TEXT,
    xml BLOB NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    created INTEGER NOT NULL
);

-- versions per process id: (process id, version) -> deployment
CREATE TABLE definitions (
    id INTEGER PRIMARY KEY,
    process_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    deployment INTEGER NOT NULL,
    UNIQUE (process_id, version)
);

-- id generators (PostgreSQL uses sequences)
CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO counters (name, value) VALUES ('instance', 0);

-- process instances; state_json is the whole state (element instances,
-- variables per scope, waits), see the views below
CREATE TABLE instances (
    id INTEGER PRIMARY KEY,
    deployment INTEGER NOT NULL,
    process_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    state INTEGER NOT NULL,
    business_key TEXT,
    parent_id INTEGER NOT NULL DEFAULT 0,
    parent_key INTEGER NOT NULL DEFAULT 0,
    started INTEGER NOT NULL,
    ended INTEGER NOT NULL DEFAULT 0,
    incidents INTEGER NOT NULL DEFAULT 0,
    seq INTEGER NOT NULL DEFAULT 0,
    state_json TEXT
);
CREATE INDEX instances_parent ON instances (parent_id, parent_key) WHERE parent_id <> 0;
CREATE INDEX instances_ended ON instances (ended) WHERE ended <> 0;
CREATE INDEX instances_business_key ON instances (business_key) WHERE business_key IS NOT NULL;

-- the token history: append-only, one row per record, seq contiguous from 1
CREATE TABLE history (
    instance INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    element TEXT,
    record TEXT NOT NULL,
    PRIMARY KEY (instance, seq)
) WITHOUT ROWID;

CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,
    instance INTEGER NOT NULL,
    key INTEGER NOT NULL,
    type TEXT NOT NULL,
    element TEXT,
    retries INTEGER NOT NULL,
    available_at INTEGER NOT NULL DEFAULT 0,
    worker TEXT,
    lock_expiry INTEGER NOT NULL DEFAULT 0,
    created INTEGER NOT NULL,
    UNIQUE (instance, key)
);
CREATE INDEX jobs_type ON jobs (type, id);

-- instance timers (instance > 0) and timer start events (instance = 0)
CREATE TABLE timers (
    instance INTEGER NOT NULL,
    key INTEGER NOT NULL,
    due INTEGER NOT NULL,
    deployment INTEGER NOT NULL,
    element TEXT,
    repeat INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (instance, key)
);
CREATE INDEX timers_due ON timers (due, instance, key);

-- message (kind 0) and signal (kind 1) subscriptions
CREATE TABLE subscriptions (
    id INTEGER PRIMARY KEY,
    kind INTEGER NOT NULL,
    instance INTEGER NOT NULL,
    key INTEGER NOT NULL,
    name TEXT NOT NULL,
    correlation TEXT,
    element TEXT,
    UNIQUE (kind, instance, key)
);
CREATE INDEX subscriptions_name ON subscriptions (kind, name, id);

CREATE TABLE user_tasks (
    id INTEGER PRIMARY KEY,
    instance INTEGER NOT NULL,
    key INTEGER NOT NULL,
    element TEXT,
    name TEXT,
    process_id TEXT,
    assignee TEXT,
    details TEXT,
    created INTEGER NOT NULL,
    UNIQUE (instance, key)
);

CREATE TABLE incidents (
    id INTEGER PRIMARY KEY,
    instance INTEGER NOT NULL,
    key INTEGER NOT NULL,
    element TEXT,
    kind TEXT,
    message TEXT,
    created INTEGER NOT NULL,
    UNIQUE (instance, key)
);

-- events between instances, written in the step's transaction
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind INTEGER NOT NULL,
    instance INTEGER NOT NULL,
    key INTEGER NOT NULL,
    payload TEXT,
    created INTEGER NOT NULL
);
CREATE INDEX outbox_instance ON outbox (instance, id);

-- published messages waiting for a subscriber, until they expire
CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    correlation TEXT,
    message_id TEXT,
    variables TEXT,
    expires INTEGER NOT NULL
);
CREATE INDEX messages_name ON messages (name, correlation, id);
CREATE INDEX messages_message_id ON messages (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX messages_expires ON messages (expires);

-- element instances and variables per scope, read from the state
CREATE VIEW element_instances AS
    SELECT i.id AS instance,
           json_extract(e.value, '$.key') AS key,
           json_extract(e.value, '$.parent') AS parent,
           json_extract(e.value, '$.element') AS element,
           json_extract(e.value, '$.state') AS state
    FROM instances i, json_each(i.state_json, '$.elements') e;

CREATE VIEW variables AS
    SELECT i.id AS instance,
           json_extract(e.value, '$.key') AS scope,
           v.key AS name,
           json_quote(v.value) AS value
    FROM instances i, json_each(i.state_json, '$.elements') e, json_each(e.value, '$.vars') v;
