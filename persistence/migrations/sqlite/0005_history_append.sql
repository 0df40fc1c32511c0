-- Baton schema, version 5 (SQLite): the history becomes a rowid table with
-- its (instance, seq) primary key as a separate index.
--
-- As a WITHOUT ROWID table clustered on (instance, seq), a step's records
-- went into the middle of the tree, next to the same instance's earlier
-- ones: with many instances running, the leaf there was usually full, and
-- SQLite balanced it with its neighbours, so a step often wrote four or
-- five history pages to the WAL for about a fifth of a page of records. In
-- a rowid table every record is appended at the right edge (a full last
-- leaf just gets a new neighbour), and the (instance, seq) index, a dozen
-- bytes an entry, takes the middle inserts on pages of some three hundred
-- entries, which split rarely: 3.0 history pages per step instead of 3.7
-- in bench-store (docs/performance.md, "## Stores"). Reading an instance's
-- history (through that index) and the contiguity check (the index alone)
-- keep indexed plans. The columns are those of version 4. On an existing
-- database the copy costs one more write of the whole history, and the old
-- table's pages stay in the file as free pages for later rows.
ALTER TABLE history RENAME TO history_v4;
CREATE TABLE history (
    instance INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    element TEXT,
    record TEXT NOT NULL,
    PRIMARY KEY (instance, seq)
);
INSERT INTO history (instance, seq, at, kind, element, record)
    SELECT instance, seq, at, kind, element, record FROM history_v4 ORDER BY instance, seq;
DROP TABLE history_v4;
