package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/bemi-go/bemi/core"
	"github.com/jackc/pgx/v5"
)

// pgbenchWrites are the rows that one transaction of pgbench's built-in
// TPC-B-like script writes: one UPDATE each of pgbench_accounts,
// pgbench_tellers and pgbench_branches, and one INSERT into pgbench_history,
// which has no primary key.
var pgbenchWrites = []struct{ table, operation string }{
	{"pgbench_accounts", "UPDATE"},
	{"pgbench_tellers", "UPDATE"},
	{"pgbench_branches", "UPDATE"},
	{"pgbench_history", "CREATE"},
}

// pgbenchTables are the tables that pgbench -i creates.
var pgbenchTables = []string{"pgbench_accounts", "pgbench_tellers", "pgbench_branches", "pgbench_history"}

// markerContext is the context of the UPDATE that marks the end of the
// pgbench run in the WAL.
const markerContext = `{"demo": "end of the pgbench run"}`

// findPgbench returns the path of the pgbench program: explicit when set,
// else pgbench on $PATH, else the newest /usr/lib/postgresql/<version>/bin.
func findPgbench(explicit string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	if p, err := exec.LookPath("pgbench"); err == nil {
		return p, nil
	}

	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pgbench")
	slices.SortFunc(matches, func(a, b string) int { return versionOf(b) - versionOf(a) })
	if len(matches) > 0 {
		return matches[0], nil
	}

	return "", errors.New("pgbench not found: install it (Debian: apt-get install postgresql), pass --pgbench PATH, or pass --skip-pgbench")
}

func versionOf(path string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(path))))

	return v
}

// pgbenchTablesExist reports whether the four pgbench tables exist.
func pgbenchTablesExist(ctx context.Context, conn *pgx.Conn) (bool, error) {
	var n int
	err := conn.QueryRow(ctx, `SELECT count(to_regclass(t)) FROM unnest($1::text[]) AS t`, pgbenchTables).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("look up the pgbench tables: %w", err)
	}

	return n == len(pgbenchTables), nil
}

// runProgram runs a program and returns its combined output, with the
// output in the error when it fails.
func runProgram(ctx context.Context, path string, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, path, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("run %s: %w\n%s", filepath.Base(path), err, out)
	}

	return string(out), nil
}

var processedLine = regexp.MustCompile(`(?m)^number of transactions actually processed: (\d+)`)

// pgbenchRun is the outcome of a timed pgbench run.
type pgbenchRun struct {
	// Reported is the number of transactions that pgbench reports.
	Reported int64

	// HistoryRows is the number of rows the run inserted into
	// pgbench_history: one per committed transaction. pgbench truncates
	// pgbench_history before the run (its vacuum step, which -n leaves
	// out), so these are the rows in the table after the run.
	HistoryRows int64

	// StartLSN is the WAL position before the run, and MarkerLSN the commit
	// LSN of the marker transaction after it. The run's changes lie between.
	StartLSN  int64
	MarkerLSN int64
}

// runPgbench runs pgbench's TPC-B-like script on databaseURL for duration
// with the given number of clients, then commits the marker UPDATE.
func runPgbench(ctx context.Context, conn *pgx.Conn, pgbench, databaseURL string, duration time.Duration, clients int) (pgbenchRun, error) {
	var run pgbenchRun
	var err error
	if run.StartLSN, err = currentLSN(ctx, conn); err != nil {
		return run, err
	}

	seconds := strconv.Itoa(max(1, int(duration.Round(time.Second)/time.Second)))
	out, err := runProgram(ctx, pgbench, "-T", seconds, "-c", strconv.Itoa(clients), databaseURL)
	if err != nil {
		return run, err
	}
	m := processedLine.FindStringSubmatch(out)
	if m == nil {
		return run, fmt.Errorf("read pgbench output: no line \"number of transactions actually processed\" in\n%s", out)
	}
	run.Reported, _ = strconv.ParseInt(m[1], 10, 64)

	if run.HistoryRows, err = countRows(ctx, conn, "pgbench_history"); err != nil {
		return run, err
	}

	if err := writeMarker(ctx, conn); err != nil {
		return run, err
	}

	return run, nil
}

func countRows(ctx context.Context, conn *pgx.Conn, table string) (int64, error) {
	var n int64
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()).Scan(&n); err != nil {
		return 0, fmt.Errorf("count rows of %s: %w", table, err)
	}

	return n, nil
}

// writeMarker commits an UPDATE that changes no value, with markerContext,
// after the pgbench run. The worker stores transactions in commit order, so
// once the marker's change is stored, every change of the run is stored.
func writeMarker(ctx context.Context, conn *pgx.Conn) error {
	batch := &pgx.Batch{}
	batch.Queue("SELECT set_config('"+core.SettingName+"', $1, true)", markerContext)
	batch.Queue("UPDATE pgbench_branches SET bbalance = bbalance WHERE bid = 1")
	if err := conn.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("write the end-of-run marker to pgbench_branches: %w", err)
	}

	return nil
}

// waitForMarker waits until the marker's change is stored and returns its
// position.
func waitForMarker(ctx context.Context, conn *pgx.Conn, after int64, timeout time.Duration) (int64, error) {
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	ticker := time.NewTicker(100 * time.Millisecond)
	defer ticker.Stop()
	for {
		var position int64
		err := conn.QueryRow(ctx, `
SELECT position FROM changes
WHERE database = current_database() AND "table" = 'pgbench_branches' AND position > $1 AND context @> $2::jsonb`,
			after, markerContext).Scan(&position)
		if err == nil {
			return position, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) && ctx.Err() == nil {
			return 0, fmt.Errorf("look up the end-of-run marker: %w", err)
		}

		select {
		case <-ctx.Done():
			if err := context.Cause(parent); err != nil {
				return 0, fmt.Errorf("wait for the end-of-run marker: %w", err)
			}

			return 0, fmt.Errorf("wait for the end-of-run marker: not captured after %s: is the capture worker running?", timeout)
		case <-ticker.C:
		}
	}
}

// pgbenchCount is the number of changes of one table and operation: those
// the run made and those the worker captured.
type pgbenchCount struct {
	Table, Operation   string
	Expected, Captured int64
}

// countPgbenchChanges counts the captured changes of the pgbench tables
// between the run's start and its marker, next to the rows the run wrote.
// It also returns the number of those changes that carry a context, which
// direct SQL does not send.
func countPgbenchChanges(ctx context.Context, conn *pgx.Conn, run pgbenchRun) ([]pgbenchCount, int64, error) {
	rows, err := conn.Query(ctx, `
SELECT "table", operation, count(*), count(*) FILTER (WHERE context <> '{}')
FROM changes
WHERE database = current_database() AND "table" LIKE 'pgbench\_%' AND position > $1 AND position < $2
GROUP BY 1, 2`, run.StartLSN, run.MarkerLSN)
	if err != nil {
		return nil, 0, fmt.Errorf("count the changes of the pgbench tables: %w", err)
	}

	captured := map[[2]string]int64{}
	var withContext int64
	for rows.Next() {
		var table, operation string
		var n, nContext int64
		if err := rows.Scan(&table, &operation, &n, &nContext); err != nil {
			return nil, 0, fmt.Errorf("count the changes of the pgbench tables: %w", err)
		}
		captured[[2]string{table, operation}] = n
		withContext += nContext
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("count the changes of the pgbench tables: %w", err)
	}

	counts := make([]pgbenchCount, 0, len(pgbenchWrites)+1)
	for _, w := range pgbenchWrites {
		key := [2]string{w.table, w.operation}
		counts = append(counts, pgbenchCount{Table: w.table, Operation: w.operation, Expected: run.HistoryRows, Captured: captured[key]})
		delete(captured, key)
	}
	key := [2]string{"pgbench_history", "TRUNCATE"}
	counts = append(counts, pgbenchCount{Table: key[0], Operation: key[1], Expected: 1, Captured: captured[key]})
	delete(captured, key)

	// Anything else (a DELETE, another table) is unexpected and shown as such.
	for key, n := range captured {
		counts = append(counts, pgbenchCount{Table: key[0], Operation: key[1], Captured: n})
	}

	return counts, withContext, nil
}

// writePgbenchReport writes the counts as a table with a total row, and
// returns an error when a captured count differs from the expected one, or
// when pgbench's report and pgbench_history disagree.
func writePgbenchReport(w io.Writer, run pgbenchRun, counts []pgbenchCount, withContext int64) error {
	rows := make([][]string, 0, len(counts)+1)
	var expected, captured int64
	mismatch := false
	for _, c := range counts {
		rows = append(rows, []string{c.Table, c.Operation, strconv.FormatInt(c.Expected, 10), strconv.FormatInt(c.Captured, 10)})
		expected += c.Expected
		captured += c.Captured
		mismatch = mismatch || c.Expected != c.Captured
	}
	rows = append(rows, []string{"total", "", strconv.FormatInt(expected, 10), strconv.FormatInt(captured, 10)})
	if err := writeTable(w, []string{"table", "operation", "expected", "captured"}, rows); err != nil {
		return err
	}

	switch {
	case run.Reported != run.HistoryRows:
		return fmt.Errorf("pgbench reported %d transactions, but pgbench_history gained %d rows", run.Reported, run.HistoryRows)
	case mismatch:
		return fmt.Errorf("captured %d changes of the pgbench tables, want %d (4 per transaction and 1 TRUNCATE)", captured, expected)
	case withContext > 0:
		return fmt.Errorf("%d changes made by pgbench carry a context, want none", withContext)
	}
	fmt.Fprintf(w, "OK: %d transactions (pgbench and pgbench_history agree) x 4 rows = %d row changes captured,\n"+
		"    plus pgbench's TRUNCATE of pgbench_history before the run; all %d with context {}\n",
		run.HistoryRows, 4*run.HistoryRows, captured)

	return nil
}
