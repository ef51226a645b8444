-- Schema bemi and the tables that bemi.refresh reads and writes. The trigger
-- function is in capture.sql, bemi.refresh and the event trigger function in
-- refresh.sql. Every statement in the three files is idempotent, so running
-- them again upgrades the functions in place.

CREATE SCHEMA IF NOT EXISTS bemi;

-- Every role that writes to a tracked table runs bemi.capture_context, which
-- calls bemi.comment_payload by name: both need USAGE on the schema. The
-- tables below stay private to their owner.
GRANT USAGE ON SCHEMA bemi TO PUBLIC;

-- The configuration that bemi.refresh reads, one row.
CREATE TABLE IF NOT EXISTS bemi.config (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    publication text NOT NULL,
    slot text NOT NULL,
    destination_schema text NOT NULL,
    destination_table text NOT NULL
);

-- Include and exclude lists. A NULL table_name matches every table in the
-- schema. With no include row, every table is included.
CREATE TABLE IF NOT EXISTS bemi.table_filter (
    kind text NOT NULL CHECK (kind IN ('include', 'exclude')),
    schema_name text NOT NULL,
    table_name text
);

-- The replica identity of each table before setup changed it to FULL, so
-- that teardown can restore it. index_name is set for identity 'i' (USING
-- INDEX).
CREATE TABLE IF NOT EXISTS bemi.replica_identity (
    relation regclass PRIMARY KEY,
    identity "char" NOT NULL,
    index_name name
);
