-- name: CreateTodo :one
INSERT INTO todos (title) VALUES ($1) RETURNING id, title, done;

-- name: GetTodo :one
SELECT id, title, done FROM todos WHERE id = $1;

-- name: ListTodos :many
SELECT id, title, done FROM todos ORDER BY id;

-- name: CompleteTodo :exec
UPDATE todos SET done = true WHERE id = $1;

-- name: RenameTodos :execrows
UPDATE todos SET title = $2 WHERE title = $1;

-- name: DeleteTodo :exec
DELETE FROM todos WHERE id = $1;

-- name: DeleteDoneTodos :execrows
DELETE FROM todos WHERE done;

-- name: CopyTodos :copyfrom
INSERT INTO todos (title, done) VALUES ($1, $2);

-- name: CreateTodos :batchexec
INSERT INTO todos (title) VALUES ($1);

-- name: InsertManyTodos :execrows
INSERT INTO todos (title) SELECT unnest(sqlc.arg(titles)::text[]);

-- name: AddTodoThroughFunction :one
SELECT add_todo(sqlc.arg(title)::text)::bigint AS id;

-- name: SetTodoDone :exec
UPDATE todos SET done = $2 WHERE id = $1;
