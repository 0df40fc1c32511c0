-- Baton schema, version 2 (PostgreSQL): find a message subscription by its
-- correlation key without walking every subscription with the message's
-- name (with thousands waiting for one message name, correlation slowed
-- down in proportion).
CREATE INDEX subscriptions_correlation ON subscriptions (kind, name, correlation, id);
