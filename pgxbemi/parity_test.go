package pgxbemi_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/bemi-go/bemi/core"
	"github.com/bemi-go/bemi/pgxbemi"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// outcome is what a caller observes from one call: results, command tags
// and errors, with the error's type and server fields.
type outcome struct {
	Tag      string
	Err      string
	ErrType  string
	IsPgErr  bool // err is a *pgconn.PgError itself, not wrapped
	Code     string
	Position int32
	NoRows   bool // err == pgx.ErrNoRows
	Rows     [][]any
	RowsErr  string
	RowsTag  string
}

func observeErr(o *outcome, err error) {
	if err == nil {
		return
	}

	o.Err = err.Error()
	o.ErrType = fmt.Sprintf("%T", err)
	_, o.IsPgErr = err.(*pgconn.PgError)
	o.NoRows = err == pgx.ErrNoRows
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		o.Code = pgErr.Code
		o.Position = pgErr.Position
	}
}

func observeExec(tag pgconn.CommandTag, err error) outcome {
	o := outcome{Tag: tag.String()}
	observeErr(&o, err)

	return o
}

func observeRows(rows pgx.Rows, err error) outcome {
	var o outcome
	observeErr(&o, err)
	for rows.Next() {
		values, err := rows.Values()
		if err != nil {
			o.RowsErr = "values: " + err.Error()
		}
		o.Rows = append(o.Rows, values)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		o.RowsErr = err.Error()
	}
	o.RowsTag = rows.CommandTag().String()

	return o
}

func observeRow(row pgx.Row, dest ...any) outcome {
	var o outcome
	observeErr(&o, row.Scan(dest...))
	o.Rows = [][]any{dest}

	return o
}

// badArgument is an argument that pgx cannot encode. One value serves both
// calls of a case, because its address appears in the error text.
var badArgument = make(chan int)

// parityCases are calls whose outcome through a DB must equal their outcome
// through the wrapped pgx value. Each runs in a database where the earlier
// cases ran.
var parityCases = []struct {
	name string
	call func(ctx context.Context, db pgxbemi.DBTX) outcome
}{
	{"exec insert", func(ctx context.Context, db pgxbemi.DBTX) outcome {
		return observeExec(db.Exec(ctx, "INSERT INTO todos (id, title) VALUES ($1, $2)", 1, "one"))
	}},
	{"exec unique violation", func(ctx context.Context, db pgxbemi.DBTX) outcome {
		return observeExec(db.Exec(ctx, "INSERT INTO todos (id, title) VALUES ($1, $2)", 1, "one"))
	}},
	{"exec syntax error", func(ctx context.Context, db pgxbemi.DBTX) outcome {
		return observeExec(db.Exec(ctx, "INSERT INTO todos (title) VALUES ($1) RETURNING nonsense(", "x"))
	}},
	{"exec undefined table", func(ctx context.Context, db pgxbemi.DBTX) outcome {
		return observeExec(db.Exec(ctx, "INSERT INTO missing (title) VALUES ($1)", "x"))
	}},
	{"exec argument count", func(ctx context.Context, db pgxbemi.DBTX) outcome {
		return observeExec(db.Exec(ctx, "UPDATE todos SET title = $1 WHERE id = $2", "x"))
	}},
	{"exec argument encoding", func(ctx context.Context, db pgxbemi.DBTX) outcome {
		return observeExec(db.Exec(ctx, "UPDATE todos SET title = $1 WHERE id = $2", "x", badArgument))
	}},
	{"exec simple protocol syntax error", func(ctx context.Context, db pgxbemi.DBTX) outcome {
		return observeExec(db.Exec(ctx, "UPDATE todos SET title = 'x' WHERE id = 1 AND AND"))
	}},
	{"exec simple protocol error at end", func(ctx context.Context, db pgxbemi.DBTX) outcome {
		return observeExec(db.Exec(ctx, "UPDATE todos SET title = 'x' WHERE"))
	}},
	{"exec simple protocol undefined column", func(ctx context.Context, db pgxbemi.DBTX) outcome {
		return observeExec(db.Exec(ctx, "UPDATE todos SET title = 'x' WHERE missing = 1"))
	}},
	{"exec simple protocol several statements", func(ctx context.Context, db pgxbemi.DBTX) outcome {
		return observeExec(db.Exec(ctx, "INSERT INTO todos (title) VALUES ('s1'); UPDATE todos SET done = true WHERE title = 's1'"))
	}},
	{"exec named arguments", func(ctx context.Context, db pgxbemi.DBTX) outcome {
		return observeExec(db.Exec(ctx, "UPDATE todos SET title = @title WHERE id = @id", pgx.NamedArgs{"title": "named", "id": 1}))
	}},
	{"exec explicit exec mode", func(ctx context.Context, db pgxbemi.DBTX) outcome {
		return observeExec(db.Exec(ctx, "UPDATE todos SET title = $1 WHERE id = $2", pgx.QueryExecModeExec, "moded", 1))
	}},
	{"query returning", func(ctx context.Context, db pgxbemi.DBTX) outcome {
		return observeRows(db.Query(ctx, "INSERT INTO todos (title) VALUES ($1), ($2) RETURNING title, done", "r1", "r2"))
	}},
	{"query error while reading", func(ctx context.Context, db pgxbemi.DBTX) outcome {
		return observeRows(db.Query(ctx, "UPDATE todos SET done = true WHERE title = $1 RETURNING 1 / (id - id)", "r1"))
	}},
	{"query syntax error at end", func(ctx context.Context, db pgxbemi.DBTX) outcome {
		return observeRows(db.Query(ctx, "UPDATE todos SET title = $1 WHERE", "x"))
	}},
	{"query undefined column", func(ctx context.Context, db pgxbemi.DBTX) outcome {
		return observeRows(db.Query(ctx, "UPDATE todos SET missing = 1 WHERE id = $1 RETURNING id", 1))
	}},
	{"query result format option", func(ctx context.Context, db pgxbemi.DBTX) outcome {
		return observeRows(db.Query(ctx, "UPDATE todos SET done = false WHERE id = $1 RETURNING title", pgx.QueryResultFormats{pgx.TextFormatCode}, 1))
	}},
	{"query read", func(ctx context.Context, db pgxbemi.DBTX) outcome {
		return observeRows(db.Query(ctx, "SELECT id, title FROM todos WHERE title LIKE $1 ORDER BY id", "r%"))
	}},
	{"query row returning", func(ctx context.Context, db pgxbemi.DBTX) outcome {
		var id int64
		var title string
		return observeRow(db.QueryRow(ctx, "UPDATE todos SET title = $1 WHERE id = $2 RETURNING id, title", "row", 1), &id, &title)
	}},
	{"query row no rows", func(ctx context.Context, db pgxbemi.DBTX) outcome {
		var id int64
		return observeRow(db.QueryRow(ctx, "DELETE FROM todos WHERE id = $1 RETURNING id", -1), &id)
	}},
	{"query row error", func(ctx context.Context, db pgxbemi.DBTX) outcome {
		var id int64
		return observeRow(db.QueryRow(ctx, "DELETE FROM todos WHERE id = $1 RETURNING id / 0", 1), &id)
	}},
	{"query row driver bytes", func(ctx context.Context, db pgxbemi.DBTX) outcome {
		var b pgtype.DriverBytes
		return observeRow(db.QueryRow(ctx, "UPDATE todos SET done = true WHERE id = $1 RETURNING title", 1), &b)
	}},
	{"batch", func(ctx context.Context, db pgxbemi.DBTX) outcome {
		b := &pgx.Batch{}
		b.Queue("INSERT INTO todos (title) VALUES ($1)", "b1")
		b.Queue("SELECT count(*) FROM todos WHERE title = $1", "b1")
		b.Queue("INSERT INTO todos (id, title) VALUES ($1, $2)", 1, "duplicate")
		br := db.SendBatch(ctx, b)
		first := observeExec(br.Exec())
		rows := observeRows(br.Query())
		third := observeExec(br.Exec())
		extra := observeExec(br.Exec())
		var closed outcome
		observeErr(&closed, br.Close())

		return outcome{Tag: first.Tag + "|" + third.Tag, Err: third.Err + "|" + extra.Err + "|" + closed.Err, Rows: rows.Rows}
	}},
	{"copy", func(ctx context.Context, db pgxbemi.DBTX) outcome {
		n, err := db.CopyFrom(ctx, pgx.Identifier{"todos"}, []string{"title"}, pgx.CopyFromRows([][]any{{"c1"}, {"c2"}}))
		o := outcome{Tag: fmt.Sprint(n)}
		observeErr(&o, err)

		return o
	}},
	{"copy error", func(ctx context.Context, db pgxbemi.DBTX) outcome {
		n, err := db.CopyFrom(ctx, pgx.Identifier{"todos"}, []string{"id", "title"}, pgx.CopyFromRows([][]any{{1, "dup"}}))
		o := outcome{Tag: fmt.Sprint(n)}
		observeErr(&o, err)

		return o
	}},
}

// TestParityWithPgx runs every parity case through a pool and through a DB
// over a pool, on two databases that see the same statements.
func TestParityWithPgx(t *testing.T) {
	for _, mode := range execModes {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			raw := newTrackedDB(t).pool(t, withMode(mode))
			wrapped := pgxbemi.New(newTrackedDB(t).pool(t, withMode(mode)), pgxbemi.Config{})
			bg := context.Background()
			ctx := core.With(bg, userA)

			for _, c := range parityCases {
				want := c.call(bg, raw)
				got := c.call(ctx, wrapped)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s:\ngot  %+v\nwant %+v", c.name, got, want)
				}
			}
		})
	}
}

// TestParityInTx runs every parity case in a transaction whose setting
// holds another context, so the wrapper changes it on the way, and rolls
// the transaction back after each case.
func TestParityInTx(t *testing.T) {
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeSimpleProtocol} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			raw := newTrackedDB(t).pool(t, withMode(mode))
			wrapped := pgxbemi.New(newTrackedDB(t).pool(t, withMode(mode)), pgxbemi.Config{})
			bg := context.Background()
			ctx := core.With(bg, userA)
			prime := "INSERT INTO todos (id, title) VALUES (1, 'prime')"

			for _, c := range parityCases {
				rawTx, err := raw.Begin(bg)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := rawTx.Exec(bg, prime); err != nil {
					t.Fatal(err)
				}
				want := c.call(bg, rawTx)
				_ = rawTx.Rollback(bg) // the case may have failed the transaction

				tx, err := wrapped.Begin(bg)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := tx.Exec(core.With(bg, userB), prime); err != nil {
					t.Fatal(err)
				}
				got := c.call(ctx, tx)
				_ = tx.Rollback(bg) // the case may have failed the transaction

				// The one documented difference: in a transaction, a
				// statement that fails to prepare returns the
				// *pgconn.PgError that pgx would wrap in a
				// *pgconn.PrepareError.
				if want.ErrType == "*pgconn.PrepareError" && got.ErrType == "*pgconn.PgError" {
					got.ErrType, got.IsPgErr = want.ErrType, want.IsPgErr
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s:\ngot  %+v\nwant %+v", c.name, got, want)
				}
			}
		})
	}
}
