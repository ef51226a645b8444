package pgxbemi_test

import (
	"context"
	"errors"
	"testing"

	"github.com/bemi-go/bemi/core"
	"github.com/bemi-go/bemi/pgxbemi"
	"github.com/bemi-go/bemi/pgxbemi/internal/sqlctest"
	"github.com/jackc/pgx/v5"
)

var (
	userA = core.Fields{"userId": "a"}
	userB = core.Fields{"userId": "b"}
)

func TestTxContextsPerStatement(t *testing.T) {
	for _, mode := range execModes {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			d := newTrackedDB(t)
			db := pgxbemi.New(d.pool(t, withMode(mode)), pgxbemi.Config{})
			bg := context.Background()
			a, b := core.With(bg, userA), core.With(bg, userB)

			tx, err := db.Begin(bg)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(bg)
			if _, ok := tx.(*pgxbemi.Tx); !ok {
				t.Fatalf("Begin returned %T, want *pgxbemi.Tx", tx)
			}
			q := sqlctest.New(db).WithTx(tx)

			steps := []struct {
				ctx   context.Context
				title string
			}{
				{a, "a1"}, {a, "a2"}, {b, "b1"}, {bg, "none1"}, {a, "a3"}, {bg, "none2"}, {bg, "none3"}, {b, "b2"},
			}
			for _, s := range steps {
				if _, err := q.CreateTodo(s.ctx, s.title); err != nil {
					t.Fatalf("CreateTodo %s: %v", s.title, err)
				}
			}
			// An Exec without arguments goes over the simple protocol with a
			// comment while the setting holds b.
			if _, err := tx.Exec(a, "INSERT INTO todos (title) VALUES ('simple a')"); err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec(bg, "INSERT INTO todos (title) VALUES ('simple none')"); err != nil {
				t.Fatal(err)
			}
			if _, err := q.CreateTodo(a, "a4"); err != nil {
				t.Fatal(err)
			}
			if err := tx.Commit(bg); err != nil {
				t.Fatal(err)
			}

			ca, cb := fields(t, userA), fields(t, userB)
			d.wantChanges(t, []change{
				{op: "CREATE", title: "a1", context: ca},
				{op: "CREATE", title: "a2", context: ca},
				{op: "CREATE", title: "b1", context: cb},
				{op: "CREATE", title: "none1", context: "{}"},
				{op: "CREATE", title: "a3", context: ca},
				{op: "CREATE", title: "none2", context: "{}"},
				{op: "CREATE", title: "none3", context: "{}"},
				{op: "CREATE", title: "b2", context: cb},
				{op: "CREATE", title: "simple a", context: ca},
				{op: "CREATE", title: "simple none", context: "{}"},
				{op: "CREATE", title: "a4", context: ca},
			})
		})
	}
}

func TestTxSavepointRollbackRestoresSetting(t *testing.T) {
	t.Parallel()
	d := newTrackedDB(t)
	db := pgxbemi.New(d.pool(t), pgxbemi.Config{})
	q := sqlctest.New(db)
	bg := context.Background()
	a, b := core.With(bg, userA), core.With(bg, userB)

	tx, err := db.Begin(bg)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(bg)
	qtx := q.WithTx(tx)

	mustCreate(t, qtx, a, "before savepoint")

	// Rolled back: its setting b goes back to a.
	sp, err := tx.Begin(bg)
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, q.WithTx(sp), b, "rolled back")
	if err := sp.Rollback(bg); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, qtx, b, "b after rollback")
	mustCreate(t, qtx, a, "a after rollback")

	// Released: the setting stays.
	sp, err = tx.Begin(bg)
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, q.WithTx(sp), b, "released")
	if err := sp.Commit(bg); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, qtx, bg, "none after release")

	// Savepoints in raw SQL, sent with the context that the setting holds
	// so that nothing clears it on the way.
	if _, err := tx.Exec(a, "SAVEPOINT raw"); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, qtx, a, "raw rolled back")
	if _, err := tx.Exec(a, "ROLLBACK TO SAVEPOINT raw"); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, qtx, a, "a after raw rollback")
	mustCreate(t, qtx, bg, "none after raw rollback")

	if err := tx.Commit(bg); err != nil {
		t.Fatal(err)
	}

	ca, cb := fields(t, userA), fields(t, userB)
	d.wantChanges(t, []change{
		{op: "CREATE", title: "before savepoint", context: ca},
		{op: "CREATE", title: "b after rollback", context: cb},
		{op: "CREATE", title: "a after rollback", context: ca},
		{op: "CREATE", title: "released", context: cb},
		{op: "CREATE", title: "none after release", context: "{}"},
		{op: "CREATE", title: "a after raw rollback", context: ca},
		{op: "CREATE", title: "none after raw rollback", context: "{}"},
	})
}

// TestTxSharesConnectionWithDB interleaves statements of a transaction begun
// through a DB over one connection with statements sent through the DB
// itself, which run in the same transaction.
func TestTxSharesConnectionWithDB(t *testing.T) {
	t.Parallel()
	d := newTrackedDB(t)
	db := pgxbemi.New(d.conn(t), pgxbemi.Config{})
	q := sqlctest.New(db)
	bg := context.Background()
	a, b := core.With(bg, userA), core.With(bg, userB)

	tx, err := db.Begin(bg)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(bg)
	qtx := q.WithTx(tx)

	mustCreate(t, qtx, a, "tx a")
	mustCreate(t, q, bg, "db none")
	mustCreate(t, qtx, a, "tx a again")
	mustCreate(t, q, b, "db b")
	mustCreate(t, qtx, a, "tx a third")
	mustCreate(t, q, a, "db a")
	mustCreate(t, qtx, bg, "tx none")
	if err := tx.Commit(bg); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, q, b, "db b after commit")

	ca, cb := fields(t, userA), fields(t, userB)
	d.wantChanges(t, []change{
		{op: "CREATE", title: "tx a", context: ca},
		{op: "CREATE", title: "db none", context: "{}"},
		{op: "CREATE", title: "tx a again", context: ca},
		{op: "CREATE", title: "db b", context: cb},
		{op: "CREATE", title: "tx a third", context: ca},
		{op: "CREATE", title: "db a", context: ca},
		{op: "CREATE", title: "tx none", context: "{}"},
		{op: "CREATE", title: "db b after commit", context: cb},
	})
}

// TestNewTxRawSavepoints wraps a transaction begun outside the package and
// rolls back savepoints through the raw pgx.Tx, which the wrapper cannot
// see.
func TestNewTxRawSavepoints(t *testing.T) {
	t.Parallel()
	d := newTrackedDB(t)
	pool := d.pool(t)
	bg := context.Background()
	a, b := core.With(bg, userA), core.With(bg, userB)

	raw, err := pool.Begin(bg)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Rollback(bg)
	wrapped := pgxbemi.NewTx(raw, pgxbemi.Config{})
	q := sqlctest.New(wrapped)

	mustCreate(t, q, a, "a1")
	sp, err := raw.Begin(bg)
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, q, b, "rolled back")
	if err := sp.Rollback(bg); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, q, bg, "none")
	mustCreate(t, q, a, "a2")
	if err := raw.Commit(bg); err != nil {
		t.Fatal(err)
	}

	ca := fields(t, userA)
	d.wantChanges(t, []change{
		{op: "CREATE", title: "a1", context: ca},
		{op: "CREATE", title: "none", context: "{}"},
		{op: "CREATE", title: "a2", context: ca},
	})
}

func TestTxBeginTxOptionsAndClose(t *testing.T) {
	t.Parallel()
	d := newTrackedDB(t)
	db := pgxbemi.New(d.pool(t), pgxbemi.Config{})
	bg := context.Background()

	tx, err := db.BeginTx(bg, pgx.TxOptions{IsoLevel: pgx.Serializable, AccessMode: pgx.ReadOnly})
	if err != nil {
		t.Fatal(err)
	}
	var iso string
	if err := tx.QueryRow(bg, "SHOW transaction_isolation").Scan(&iso); err != nil {
		t.Fatal(err)
	}
	if iso != "serializable" {
		t.Errorf("transaction_isolation = %q, want serializable", iso)
	}
	_, err = tx.Exec(core.With(bg, userA), "INSERT INTO todos (title) VALUES ($1)", "read only")
	if err == nil {
		t.Error("insert in a read-only transaction succeeded")
	}
	if err := tx.Rollback(bg); err != nil {
		t.Fatalf("Rollback: %v", err)
	}

	// After the end, every method returns pgx.ErrTxClosed, as pgx.Tx does.
	if err := tx.Rollback(bg); !errors.Is(err, pgx.ErrTxClosed) {
		t.Errorf("second Rollback = %v, want pgx.ErrTxClosed", err)
	}
	if err := tx.Commit(bg); !errors.Is(err, pgx.ErrTxClosed) {
		t.Errorf("Commit after Rollback = %v, want pgx.ErrTxClosed", err)
	}
	if _, err := tx.Exec(core.With(bg, userA), "INSERT INTO todos (title) VALUES ($1)", "closed"); !errors.Is(err, pgx.ErrTxClosed) {
		t.Errorf("Exec after Rollback = %v, want pgx.ErrTxClosed", err)
	}

	// A nested DB over a transaction takes no options.
	outer, err := db.Begin(bg)
	if err != nil {
		t.Fatal(err)
	}
	defer outer.Rollback(bg)
	if _, err := pgxbemi.New(outer, pgxbemi.Config{}).BeginTx(bg, pgx.TxOptions{IsoLevel: pgx.Serializable}); err == nil {
		t.Error("BeginTx with options on a transaction succeeded")
	}
}

func TestBatchBeginTx(t *testing.T) {
	t.Parallel()
	d := newTrackedDB(t)
	db := pgxbemi.New(d.pool(t), pgxbemi.Config{})
	bg := context.Background()
	a := core.With(bg, userA)

	b := &pgx.Batch{}
	b.BeginTx(pgx.TxOptions{})
	b.Queue("INSERT INTO todos (title) VALUES ($1)", "in batch")
	br := db.SendBatch(a, b)
	tx := br.Tx()
	if tx == nil {
		t.Fatal("BatchResults.Tx returned nil for a batch with BeginTx")
	}
	if _, ok := tx.(*pgxbemi.Tx); !ok {
		t.Errorf("BatchResults.Tx returned %T, want *pgxbemi.Tx", tx)
	}
	if err := br.Close(); err != nil {
		t.Fatal(err)
	}

	q := sqlctest.New(db).WithTx(tx)
	mustCreate(t, q, bg, "none in tx")
	mustCreate(t, q, a, "a in tx")
	if err := tx.Commit(bg); err != nil {
		t.Fatal(err)
	}

	ca := fields(t, userA)
	d.wantChanges(t, []change{
		{op: "CREATE", title: "in batch", context: ca},
		{op: "CREATE", title: "none in tx", context: "{}"},
		{op: "CREATE", title: "a in tx", context: ca},
	})
}

func mustCreate(t testing.TB, q *sqlctest.Queries, ctx context.Context, title string) {
	t.Helper()

	if _, err := q.CreateTodo(ctx, title); err != nil {
		t.Fatalf("CreateTodo %q: %v", title, err)
	}
}
