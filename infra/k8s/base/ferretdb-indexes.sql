-- Indexes FerretDB 1.24 can use, on the PostgreSQL database under it. Applied by
-- scripts/platform.sh at every start (idempotent), as the cluster's superuser; on Kubernetes by
-- CloudNativePG once, after initdb (infra/k8s/base/database.yaml, postInitApplicationSQLRefs;
-- apply a later change by hand with psql as postgres). infra/k8s/base/ferretdb-indexes.sql is
-- a copy, since kustomize reads files only under its root: tests/infra/test_k8s.py holds them equal.
--
-- FerretDB turns a filter {field: value} into `_jsonb -> 'field' @> value`. Its own indexes are
-- btree indexes on `_jsonb -> 'field'`, which cannot serve `@>`: every lookup by _id scans its
-- table, so the cost of each event grew with the data stored (docs/benchmarks.md). A GIN index
-- on the same expression serves `@>` (PostgreSQL plans it; measured with EXPLAIN on 3,000 rows:
-- a bitmap index scan, 0.02 ms, instead of a sequential scan).
--
-- Without fastupdate: by default a GIN index gathers new entries in a pending list that every
-- lookup scans in full until (auto)vacuum merges it. After 20,000 inserts a lookup by _id took
-- 0.9-1.0 ms instead of 0.4 (p50), and the inserts took no longer with the list off.
--
-- Every FerretDB table gets one on _id; the collections below get one on each field their hot
-- queries filter by. An event trigger does the same for each table FerretDB creates later (a
-- new collection, a test's database), and the backfill at the end for the tables already there.

CREATE TABLE IF NOT EXISTS public.liaison_gin_fields (
    collection text NOT NULL,  -- the MongoDB collection name, or '*' for every one
    field text NOT NULL,
    PRIMARY KEY (collection, field)
);

-- The application user creates FerretDB's tables, so the event trigger reads this as that user.
GRANT SELECT ON public.liaison_gin_fields TO PUBLIC;

INSERT INTO public.liaison_gin_fields (collection, field) VALUES
    ('*', '_id'),
    ('alerts', 'group_ids'),          -- a group's inbox
    ('alerts', 'enterprise_id'),      -- an enterprise's alerts
    ('alerts', 'status'),
    ('alerts', 'period_end'),         -- a group's weekly digest
    ('notification_items', 'key'),    -- what a notification carries
    ('notifications', 'status'),      -- what is still to be delivered (resync)
    ('console_report_points', 'enterprise_id')
ON CONFLICT DO NOTHING;

CREATE OR REPLACE FUNCTION public.liaison_gin_index(schema_name text, table_name text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    -- FerretDB names a collection's table <collection>_<8 hex digits of a hash>.
    collection_name text := regexp_replace(table_name, '_[0-9a-f]{8}$', '');
    wanted text;
    index_name text;
BEGIN
    IF table_name LIKE '\_ferretdb%' OR NOT EXISTS (
        SELECT 1 FROM information_schema.columns AS c
        WHERE c.table_schema = schema_name AND c.table_name = liaison_gin_index.table_name
          AND c.column_name = '_jsonb'
    ) THEN
        RETURN;  -- not a collection's table
    END IF;
    FOR wanted IN
        SELECT f.field FROM public.liaison_gin_fields AS f WHERE f.collection IN ('*', collection_name)
    LOOP
        index_name := 'liaison_gin_' || left(md5(schema_name || '.' || table_name || '.' || wanted), 24);
        EXECUTE format(
            'CREATE INDEX IF NOT EXISTS %I ON %I.%I USING gin ((_jsonb -> %L)) WITH (fastupdate = off)',
            index_name, schema_name, table_name, wanted
        );
        -- An index made before fastupdate was turned off: off now, and its pending list merged.
        IF EXISTS (
            SELECT 1 FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
            WHERE n.nspname = schema_name AND c.relname = index_name
              AND NOT coalesce(c.reloptions @> ARRAY['fastupdate=off'], false)
        ) THEN
            EXECUTE format('ALTER INDEX %I.%I SET (fastupdate = off)', schema_name, index_name);
            PERFORM gin_clean_pending_list(format('%I.%I', schema_name, index_name)::regclass);
        END IF;
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION public.liaison_gin_on_create() RETURNS event_trigger
LANGUAGE plpgsql AS $$
DECLARE
    created record;
BEGIN
    FOR created IN
        SELECT n.nspname AS schema_name, c.relname AS table_name
        FROM pg_event_trigger_ddl_commands() AS d
        JOIN pg_class AS c ON c.oid = d.objid
        JOIN pg_namespace AS n ON n.oid = c.relnamespace
        WHERE d.command_tag = 'CREATE TABLE' AND c.relkind = 'r'
    LOOP
        PERFORM public.liaison_gin_index(created.schema_name, created.table_name);
    END LOOP;
END
$$;

DROP EVENT TRIGGER IF EXISTS liaison_gin_on_create;
CREATE EVENT TRIGGER liaison_gin_on_create ON ddl_command_end WHEN TAG IN ('CREATE TABLE')
    EXECUTE FUNCTION public.liaison_gin_on_create();

SELECT count(public.liaison_gin_index(schemaname, tablename))
FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema', 'public');
