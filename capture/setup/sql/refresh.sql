-- The tracking side: which tables are tracked, and the function that brings
-- triggers, replica identities and the publication in line with bemi.config.

-- bemi.tracked_tables returns the tables that the configuration tracks. The
-- roots (is_root) are permanent plain and partitioned tables outside the
-- system schemas and schema bemi that pass the include and exclude lists. The
-- destination table and tables owned by an extension never qualify. The
-- permanent partitions of the roots follow them (is_root is false).
CREATE OR REPLACE FUNCTION bemi.tracked_tables()
RETURNS TABLE (relation oid, is_root boolean)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
    WITH cfg AS (
        SELECT * FROM bemi.config
    ),
    roots AS (
        SELECT c.oid, c.relkind
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        CROSS JOIN cfg
        WHERE c.relkind IN ('r', 'p')
          AND c.relpersistence = 'p'
          AND NOT c.relispartition
          -- PostgreSQL reserves the pg_ prefix for system schemas.
          AND n.nspname NOT LIKE 'pg\_%'
          AND n.nspname NOT IN ('information_schema', 'bemi')
          AND NOT (n.nspname = cfg.destination_schema AND c.relname = cfg.destination_table)
          AND NOT EXISTS (
              SELECT FROM pg_depend d
              WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
          AND (NOT EXISTS (SELECT FROM bemi.table_filter f WHERE f.kind = 'include')
               OR EXISTS (
                   SELECT FROM bemi.table_filter f
                   WHERE f.kind = 'include' AND f.schema_name = n.nspname
                     AND (f.table_name IS NULL OR f.table_name = c.relname)))
          AND NOT EXISTS (
              SELECT FROM bemi.table_filter f
              WHERE f.kind = 'exclude' AND f.schema_name = n.nspname
                AND (f.table_name IS NULL OR f.table_name = c.relname))
    )
    SELECT oid, true FROM roots
    UNION ALL
    SELECT t.relid, false
    FROM roots r
    CROSS JOIN LATERAL pg_partition_tree(r.oid) t
    JOIN pg_class c ON c.oid = t.relid
    WHERE r.relkind = 'p'
      AND t.level > 0
      AND c.relkind IN ('r', 'p')
      AND c.relpersistence = 'p'
$function$;

-- bemi.refresh brings the database in line with bemi.config. It creates the
-- publication and the event trigger when missing. It sets REPLICA IDENTITY
-- FULL and the _bemi_context trigger on every tracked table and partition,
-- and makes the publication list exactly the tracked top-level tables. It
-- undoes all of that for tables that are no longer tracked, or for every
-- table when untrack_all is true.
-- It returns one row per change, or per planned change when apply is false:
-- kind is 'publication', 'table', 'event trigger' or 'warning', and relation
-- is the table concerned, if any.
--
-- While it runs, the transaction-local setting bemi.refreshing is 'on', so
-- that the event trigger skips the DDL that bemi.refresh runs itself. (A SET
-- clause on the function would be simpler, but PostgreSQL 15 lets only
-- superusers attach a custom setting to a function.)
CREATE OR REPLACE FUNCTION bemi.refresh(apply boolean DEFAULT true, untrack_all boolean DEFAULT false)
RETURNS TABLE (kind text, action text, relation oid)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    cfg bemi.config;
    pub pg_publication;
    capture_fn oid := 'bemi.capture_context()'::regprocedure;
    -- BEFORE (2) | INSERT (4) | DELETE (8) | UPDATE (16) | TRUNCATE (32),
    -- without the ROW bit (1): a statement-level trigger.
    trigger_type constant int := 62;
    tracked oid[];
    roots oid[];
    item record;
    identity_index name;
BEGIN
    SELECT * INTO cfg FROM bemi.config WHERE singleton;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'bemi.config is empty'
            USING HINT = 'Run bemi setup, or the SQL that bemi setup --print-sql prints.';
    END IF;
    PERFORM set_config('bemi.refreshing', 'on', true);

    IF untrack_all THEN
        tracked := '{}';
        roots := '{}';
    ELSE
        SELECT coalesce(array_agg(t.relation), '{}'),
               coalesce(array_agg(t.relation) FILTER (WHERE t.is_root), '{}')
        INTO tracked, roots
        FROM bemi.tracked_tables() t;
    END IF;

    -- The publication.
    SELECT * INTO pub FROM pg_publication WHERE pubname = cfg.publication;
    IF NOT untrack_all THEN
        kind := 'publication';
        relation := NULL;
        IF pub.oid IS NULL THEN
            action := format('create publication %I', cfg.publication);
            IF apply THEN
                EXECUTE format('CREATE PUBLICATION %I WITH (publish = %L, publish_via_partition_root = true)',
                    cfg.publication, 'insert, update, delete, truncate');
            END IF;
            RETURN NEXT;
        ELSIF pub.puballtables THEN
            RAISE EXCEPTION 'publication % publishes all tables, so it cannot honor the include and exclude lists',
                cfg.publication
                USING HINT = 'Drop the publication, or configure another publication name.';
        ELSIF NOT (pub.pubinsert AND pub.pubupdate AND pub.pubdelete AND pub.pubtruncate AND pub.pubviaroot) THEN
            action := format('set publish = ''insert, update, delete, truncate'' and publish_via_partition_root '
                'on publication %I', cfg.publication);
            IF apply THEN
                EXECUTE format('ALTER PUBLICATION %I SET (publish = %L, publish_via_partition_root = true)',
                    cfg.publication, 'insert, update, delete, truncate');
            END IF;
            RETURN NEXT;
        END IF;
    END IF;

    -- REPLICA IDENTITY FULL on every tracked table and partition, remembering
    -- the previous identity for teardown.
    FOR item IN
        SELECT c.oid, c.relreplident, format('%I.%I', n.nspname, c.relname) AS qualified
        FROM unnest(tracked) AS t(oid)
        JOIN pg_class c ON c.oid = t.oid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relreplident <> 'f'
        ORDER BY n.nspname, c.relname
    LOOP
        kind := 'table';
        action := format('set replica identity full on %s (was %s)', item.qualified,
            CASE item.relreplident WHEN 'd' THEN 'default' WHEN 'n' THEN 'nothing' ELSE 'using index' END);
        relation := item.oid;
        IF apply THEN
            SELECT ic.relname INTO identity_index
            FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
            WHERE i.indrelid = item.oid AND i.indisreplident;
            INSERT INTO bemi.replica_identity (relation, identity, index_name)
            VALUES (item.oid, item.relreplident, identity_index)
            ON CONFLICT DO NOTHING;
            EXECUTE format('ALTER TABLE %s REPLICA IDENTITY FULL', item.qualified);
        END IF;
        RETURN NEXT;
    END LOOP;

    -- The _bemi_context trigger on every tracked table and partition.
    FOR item IN
        SELECT c.oid, format('%I.%I', n.nspname, c.relname) AS qualified,
               EXISTS (SELECT FROM pg_trigger g WHERE g.tgrelid = c.oid AND g.tgname = '_bemi_context') AS has_other
        FROM unnest(tracked) AS t(oid)
        JOIN pg_class c ON c.oid = t.oid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE NOT EXISTS (
            SELECT FROM pg_trigger g
            WHERE g.tgrelid = c.oid AND g.tgname = '_bemi_context'
              AND g.tgfoid = capture_fn AND g.tgtype = trigger_type)
        ORDER BY n.nspname, c.relname
    LOOP
        kind := 'table';
        action := format('create trigger _bemi_context on %s', item.qualified);
        relation := item.oid;
        IF apply THEN
            IF item.has_other THEN
                EXECUTE format('DROP TRIGGER _bemi_context ON %s', item.qualified);
            END IF;
            EXECUTE format('CREATE TRIGGER _bemi_context BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON %s '
                'FOR EACH STATEMENT EXECUTE FUNCTION bemi.capture_context()', item.qualified);
        END IF;
        RETURN NEXT;
    END LOOP;

    -- The publication lists exactly the tracked top-level tables; partitions
    -- are published through their root (publish_via_partition_root).
    FOR item IN
        SELECT c.oid, format('%I.%I', n.nspname, c.relname) AS qualified
        FROM unnest(roots) AS t(oid)
        JOIN pg_class c ON c.oid = t.oid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE NOT EXISTS (SELECT FROM pg_publication_rel pr WHERE pr.prpubid = pub.oid AND pr.prrelid = c.oid)
        ORDER BY n.nspname, c.relname
    LOOP
        kind := 'table';
        action := format('add %s to publication %I', item.qualified, cfg.publication);
        relation := item.oid;
        IF apply THEN
            EXECUTE format('ALTER PUBLICATION %I ADD TABLE ONLY %s', cfg.publication, item.qualified);
        END IF;
        RETURN NEXT;
    END LOOP;

    FOR item IN
        SELECT c.oid, format('%I.%I', n.nspname, c.relname) AS qualified
        FROM pg_publication_rel pr
        JOIN pg_class c ON c.oid = pr.prrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE pr.prpubid = pub.oid
          AND NOT EXISTS (SELECT FROM unnest(roots) AS r(oid) WHERE r.oid = c.oid)
        ORDER BY n.nspname, c.relname
    LOOP
        kind := 'table';
        action := format('drop %s from publication %I', item.qualified, cfg.publication);
        relation := item.oid;
        IF apply THEN
            EXECUTE format('ALTER PUBLICATION %I DROP TABLE ONLY %s', cfg.publication, item.qualified);
        END IF;
        RETURN NEXT;
    END LOOP;

    -- Undo the trigger and the replica identity of tables no longer tracked.
    FOR item IN
        SELECT c.oid, format('%I.%I', n.nspname, c.relname) AS qualified
        FROM pg_trigger g
        JOIN pg_class c ON c.oid = g.tgrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE g.tgfoid = capture_fn
          AND NOT EXISTS (SELECT FROM unnest(tracked) AS t(oid) WHERE t.oid = c.oid)
        ORDER BY n.nspname, c.relname
    LOOP
        kind := 'table';
        action := format('drop trigger _bemi_context on %s', item.qualified);
        relation := item.oid;
        IF apply THEN
            EXECUTE format('DROP TRIGGER _bemi_context ON %s', item.qualified);
        END IF;
        RETURN NEXT;
    END LOOP;

    FOR item IN
        SELECT r.relation::oid AS oid, r.identity, r.index_name, c.relreplident,
               format('%I.%I', n.nspname, c.relname) AS qualified,
               EXISTS (SELECT FROM pg_class ic WHERE ic.relname = r.index_name AND ic.relnamespace = c.relnamespace
                       AND ic.relkind IN ('i', 'I')) AS index_exists
        FROM bemi.replica_identity r
        JOIN pg_class c ON c.oid = r.relation
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE NOT EXISTS (SELECT FROM unnest(tracked) AS t(oid) WHERE t.oid = c.oid)
        ORDER BY n.nspname, c.relname
    LOOP
        kind := 'table';
        relation := item.oid;
        IF item.identity = 'i' AND item.index_exists THEN
            action := format('restore replica identity using index %I on %s', item.index_name, item.qualified);
        ELSE
            action := format('restore replica identity %s on %s',
                CASE item.identity WHEN 'n' THEN 'nothing' WHEN 'f' THEN 'full' ELSE 'default' END, item.qualified);
        END IF;
        IF apply THEN
            IF item.identity = 'i' AND item.index_exists THEN
                EXECUTE format('ALTER TABLE %s REPLICA IDENTITY USING INDEX %I', item.qualified, item.index_name);
            ELSE
                EXECUTE format('ALTER TABLE %s REPLICA IDENTITY %s', item.qualified,
                    CASE item.identity WHEN 'n' THEN 'NOTHING' WHEN 'f' THEN 'FULL' ELSE 'DEFAULT' END);
            END IF;
            DELETE FROM bemi.replica_identity WHERE bemi.replica_identity.relation = item.oid;
        END IF;
        RETURN NEXT;
    END LOOP;

    -- Records of dropped tables need no action.
    IF apply THEN
        DELETE FROM bemi.replica_identity r WHERE NOT EXISTS (SELECT FROM pg_class c WHERE c.oid = r.relation);
    END IF;

    -- The event trigger that runs bemi.refresh after DDL. Only superusers may
    -- create event triggers.
    IF NOT untrack_all AND NOT EXISTS (SELECT FROM pg_event_trigger WHERE evtname = 'bemi_track_tables') THEN
        relation := NULL;
        IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
            kind := 'event trigger';
            action := 'create event trigger bemi_track_tables';
            IF apply THEN
                -- The function runs with its owner's rights, so its owner must be
                -- a superuser to track tables that other roles create.
                EXECUTE 'ALTER FUNCTION bemi.track_tables() OWNER TO ' || quote_ident(current_user);
                CREATE EVENT TRIGGER bemi_track_tables ON ddl_command_end
                    WHEN TAG IN ('CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO', 'ALTER TABLE')
                    EXECUTE FUNCTION bemi.track_tables();
            END IF;
        ELSE
            kind := 'warning';
            action := format('no event trigger: role %I is not a superuser, and only superusers may create event triggers, '
                'so tables created from now on are not tracked until bemi setup runs again, and a new partition '
                'of a tracked table without a primary key rejects UPDATE and DELETE until then', current_user);
        END IF;
        RETURN NEXT;
    END IF;

    PERFORM set_config('bemi.refreshing', '', true);
END
$function$;

REVOKE ALL ON FUNCTION bemi.refresh(boolean, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION bemi.tracked_tables() FROM PUBLIC;

-- bemi.track_tables runs bemi.refresh after DDL that creates or alters a
-- permanent table: CREATE TABLE (partitions included), CREATE TABLE AS,
-- SELECT INTO and ALTER TABLE (ATTACH and DETACH PARTITION, SET SCHEMA,
-- RENAME). It runs as its owner, a superuser, because the role that creates
-- a table usually does not own the publication.
CREATE OR REPLACE FUNCTION bemi.track_tables() RETURNS event_trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    IF current_setting('bemi.refreshing', true) = 'on' THEN
        RETURN;
    END IF;

    IF EXISTS (
        SELECT FROM pg_event_trigger_ddl_commands() cmd
        JOIN pg_class c ON c.oid = cmd.objid
        WHERE cmd.classid = 'pg_class'::regclass
          AND NOT cmd.in_extension
          AND c.relpersistence = 'p'
    ) THEN
        PERFORM bemi.refresh();
    END IF;
END
$function$;

REVOKE ALL ON FUNCTION bemi.track_tables() FROM PUBLIC;
