-- name: CreateTodo :one
INSERT INTO todo (task) VALUES ($1) RETURNING id, task, is_completed;

-- name: ListTodos :many
SELECT id, task, is_completed FROM todo ORDER BY id;

-- name: CompleteTodo :one
UPDATE todo SET is_completed = true WHERE id = $1 RETURNING id, task, is_completed;

-- name: DeleteTodo :execrows
DELETE FROM todo WHERE id = $1;
