-- The schema of the tables that the pgxbemi tests and benchmarks write
-- through sqlc-generated code.
CREATE TABLE todos (
    id bigserial PRIMARY KEY,
    title text NOT NULL,
    done boolean NOT NULL DEFAULT false
);

-- add_todo inserts from inside a function, the case that needs
-- Config.AllStatements: the statement that calls it is a SELECT.
CREATE FUNCTION add_todo(todo_title text) RETURNS bigint
LANGUAGE sql
AS $$ INSERT INTO todos (title) VALUES (todo_title) RETURNING id $$;
