-- The trigger side: how a statement's application context becomes a _bemi
-- logical decoding message in the WAL.

-- bemi.comment_payload returns the payload of the last /*Bemi ... Bemi*/
-- comment in query, or NULL: the text from the last '/*Bemi ' to the first
-- ' Bemi*/' after it. The comment counts only when nothing follows it but
-- whitespace, semicolons, complete block comments (which nest) and line
-- comments without quote characters (', " and $). So a tracing comment
-- appended after ours does not hide it, while a string literal that merely
-- looks like a Bemi comment is never taken: the literal's closing quote
-- follows it. This is the rule of core.ParseComment in Go; the tests compare
-- the two.
CREATE OR REPLACE FUNCTION bemi.comment_payload(query text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $function$
DECLARE
    -- Position of the last ' imeB*/' in the reversed text, which is the last
    -- '/*Bemi ' in query.
    reversed_pos int := pg_catalog.strpos(pg_catalog.reverse(query), ' imeB*/');
    body text;
    end_pos int;
    rest text;
    depth int;
    open_pos int;
    close_pos int;
    line_end int;
    cr_pos int;
    line text;
BEGIN
    IF reversed_pos = 0 THEN
        RETURN NULL;
    END IF;

    body := pg_catalog.substr(query, pg_catalog.length(query) - reversed_pos + 2);
    end_pos := pg_catalog.strpos(body, ' Bemi*/');
    IF end_pos = 0 THEN
        RETURN NULL;
    END IF;

    rest := pg_catalog.substr(body, end_pos + 7);
    LOOP
        -- Whitespace as PostgreSQL's scanner counts it (space, \t, \n, \r,
        -- \f, \v), and semicolons.
        rest := pg_catalog.ltrim(rest, E' \t\n\r\f;' || pg_catalog.chr(11));
        EXIT WHEN rest = '';

        IF pg_catalog.starts_with(rest, '--') THEN
            -- A line comment ends at a newline or carriage return.
            line_end := pg_catalog.strpos(rest, E'\n');
            cr_pos := pg_catalog.strpos(rest, E'\r');
            IF line_end = 0 OR (cr_pos > 0 AND cr_pos < line_end) THEN
                line_end := cr_pos;
            END IF;
            IF line_end = 0 THEN
                line := rest;
                rest := '';
            ELSE
                line := pg_catalog.substr(rest, 1, line_end - 1);
                rest := pg_catalog.substr(rest, line_end);
            END IF;
            IF pg_catalog.strpos(line, '''') > 0 OR pg_catalog.strpos(line, '"') > 0
                OR pg_catalog.strpos(line, '$') > 0 THEN
                RETURN NULL;
            END IF;
        ELSIF pg_catalog.starts_with(rest, '/*') THEN
            -- Skip one nested block comment; an unclosed one is not trivia.
            depth := 0;
            LOOP
                open_pos := pg_catalog.strpos(rest, '/*');
                close_pos := pg_catalog.strpos(rest, '*/');
                IF close_pos = 0 THEN
                    RETURN NULL;
                END IF;

                IF open_pos > 0 AND open_pos < close_pos THEN
                    depth := depth + 1;
                    rest := pg_catalog.substr(rest, open_pos + 2);
                ELSE
                    depth := depth - 1;
                    rest := pg_catalog.substr(rest, close_pos + 2);
                    EXIT WHEN depth = 0;
                END IF;
            END LOOP;
        ELSE
            RETURN NULL;
        END IF;
    END LOOP;

    RETURN pg_catalog.substr(body, 1, end_pos - 1);
END
$function$;

-- Explicit, in case default privileges revoke EXECUTE from PUBLIC: every
-- writing role runs this function through bemi.capture_context.
GRANT EXECUTE ON FUNCTION bemi.comment_payload(text) TO PUBLIC;

-- bemi.capture_context is the statement-level BEFORE trigger on every tracked
-- table. It emits a transactional _bemi message with the statement's context
-- unless the latest _bemi message of the transaction already carries it, and
-- the reset payload {} when a statement without context follows one with
-- context. The context comes from the transaction-local setting bemi.context
-- when that is non-empty, else from the last Bemi comment of the top-level
-- statement (current_query), so cascaded changes, changes made by other
-- triggers and data-modifying CTEs get the top-level statement's context.
--
-- bemi.emitted stores the context of the latest message. set_config(..., true)
-- is undone by ROLLBACK TO SAVEPOINT, and logical decoding drops the messages
-- of an aborted subtransaction, so the setting always matches the decoded
-- stream.
--
-- The function runs as the writing role, so it needs no SECURITY DEFINER:
-- pg_logical_emit_message is executable by PUBLIC and checks no role
-- attribute (tested on PostgreSQL 15; setup warns when a server revokes it).
CREATE OR REPLACE FUNCTION bemi.capture_context() RETURNS trigger
LANGUAGE plpgsql
AS $function$
DECLARE
    payload text;
    emitted text;
    lsn pg_catalog.pg_lsn;
BEGIN
    -- The fast path is one expression because PL/pgSQL pays for each
    -- expression it evaluates: about 0.6 us each in a PL/pgSQL loop on
    -- PostgreSQL 15, where this one costs about what two do. It returns when
    -- the setting is non-empty and already emitted, or when there is neither
    -- a setting nor a Bemi comment and nothing was emitted. A Bemi comment
    -- makes the left side NULL, so the comparison is not true and the full
    -- path below runs.
    IF coalesce(
        NULLIF(pg_catalog.current_setting('bemi.context', true), ''),
        CASE WHEN pg_catalog.strpos(pg_catalog.current_query(), '/*Bemi ') = 0 THEN '' END
    ) = coalesce(pg_catalog.current_setting('bemi.emitted', true), '') THEN
        RETURN NULL;
    END IF;

    payload := coalesce(
        NULLIF(pg_catalog.current_setting('bemi.context', true), ''),
        bemi.comment_payload(pg_catalog.current_query()),
        ''
    );
    IF payload = coalesce(pg_catalog.current_setting('bemi.emitted', true), '') THEN
        RETURN NULL;
    END IF;

    -- Assignments, not PERFORM: PL/pgSQL evaluates an assignment as a simple
    -- expression, while PERFORM starts the executor for a SELECT.
    lsn := pg_catalog.pg_logical_emit_message(true, '_bemi', CASE WHEN payload = '' THEN '{}' ELSE payload END);
    emitted := pg_catalog.set_config('bemi.emitted', payload, true);

    RETURN NULL;
END
$function$;
