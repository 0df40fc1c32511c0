-- Baton schema, version 5 (PostgreSQL): one index for finding subscriptions.
-- With both (kind, name, id) and (kind, name, correlation, id), a plan made
-- before the table's statistics exist (a fresh database under load, until
-- autovacuum analyzes it; prepared statements keep such a plan) read the
-- message lookup's `correlation IS NULL` branch through the first index
-- and filtered out every subscription waiting for that message name. The
-- second index serves every lookup (signals by its (kind, name) prefix,
-- then a sort of the few rows by id), so no plan can pick the walk.
DROP INDEX IF EXISTS subscriptions_name;
