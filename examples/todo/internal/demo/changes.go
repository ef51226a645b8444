package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Change is one row of the changes table, with the columns the Bemi README
// shows.
type Change struct {
	// PrimaryKey is "" for a table without a primary key.
	PrimaryKey  string
	Table       string
	Operation   string
	Before      json.RawMessage
	After       json.RawMessage
	Context     json.RawMessage
	CommittedAt time.Time

	// Position is the commit LSN of the change's transaction, in bytes.
	Position int64
}

// Columns are the column names that Rows writes, in order.
var Columns = []string{"primary_key", "table", "operation", "before", "after", "context", "committed_at"}

// Rows returns the changes as text cells under Columns, with JSON as
// PostgreSQL prints jsonb and times in UTC.
func Rows(changes []Change) [][]string {
	rows := make([][]string, 0, len(changes))
	for _, c := range changes {
		rows = append(rows, []string{
			c.PrimaryKey, c.Table, c.Operation,
			string(c.Before), string(c.After), string(c.Context),
			c.CommittedAt.UTC().Format("2006-01-02 15:04:05.000-07"),
		})
	}

	return rows
}

// currentLSN returns the server's current WAL write position in bytes.
// Every transaction that commits later has a larger commit LSN, so its
// changes have a larger position.
func currentLSN(ctx context.Context, conn *pgx.Conn) (int64, error) {
	var lsn int64
	err := conn.QueryRow(ctx, "SELECT (pg_current_wal_lsn() - '0/0')::bigint").Scan(&lsn)
	if err != nil {
		return 0, fmt.Errorf("read current WAL position: %w", err)
	}

	return lsn, nil
}

// ChangesSince returns the changes of table in the connected database whose
// transaction committed after the WAL position lsn, in commit order. It
// returns no changes and no error while the changes table does not exist
// yet, because the worker creates it when it starts.
func ChangesSince(ctx context.Context, conn *pgx.Conn, table string, lsn int64) ([]Change, error) {
	rows, err := conn.Query(ctx, `
SELECT coalesce(primary_key, ''), "table", operation, before::text, after::text, context::text,
	committed_at, position
FROM changes
WHERE database = current_database() AND "table" = $1 AND position > $2
ORDER BY position, ordinal`, table, lsn)
	if err != nil {
		if isUndefinedTable(err) {
			return nil, nil
		}

		return nil, fmt.Errorf("query changes of table %s: %w", table, err)
	}

	changes, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Change, error) {
		var c Change
		var before, after, context string
		err := row.Scan(&c.PrimaryKey, &c.Table, &c.Operation, &before, &after, &context, &c.CommittedAt, &c.Position)
		c.Before, c.After, c.Context = json.RawMessage(before), json.RawMessage(after), json.RawMessage(context)

		return c, err
	})
	if err != nil {
		if isUndefinedTable(err) {
			return nil, nil
		}

		return nil, fmt.Errorf("query changes of table %s: %w", table, err)
	}

	return changes, nil
}

// WaitForChanges polls ChangesSince until it returns at least n changes, and
// returns them. It fails when timeout passes first, or with the cause of
// ctx's cancellation (see context.WithCancelCause).
func WaitForChanges(ctx context.Context, conn *pgx.Conn, table string, lsn int64, n int, timeout time.Duration) ([]Change, error) {
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	ticker := time.NewTicker(100 * time.Millisecond)
	defer ticker.Stop()
	for {
		changes, err := ChangesSince(ctx, conn, table, lsn)
		if err != nil && ctx.Err() == nil {
			return nil, err
		}
		if len(changes) >= n {
			return changes, nil
		}

		select {
		case <-ctx.Done():
			if err := context.Cause(parent); err != nil {
				return changes, fmt.Errorf("wait for %d changes of table %s: %w", n, table, err)
			}

			return changes, fmt.Errorf("wait for %d changes of table %s: %d captured after %s: is the capture worker running?",
				n, table, len(changes), timeout)
		case <-ticker.C:
		}
	}
}

func isUndefinedTable(err error) bool {
	var pgErr *pgconn.PgError

	return errors.As(err, &pgErr) && pgErr.Code == "42P01"
}
