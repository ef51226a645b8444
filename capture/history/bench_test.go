package history

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bemi-go/bemi/capture"
	"github.com/bemi-go/bemi/core"
	"github.com/bemi-go/bemi/core/pgtest"
)

// Shape of the generated changes table: datasetRecords records spread over
// datasetTables tables, four changes per transaction, one transaction per
// millisecond, and datasetUsers users, so a context filter on one user
// matches rows/datasetUsers changes.
const (
	datasetRecords = 10000
	datasetTables  = 5
	datasetUsers   = 2000
)

var datasetStart = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// datasetSQL fills the changes table in one statement. Change i belongs to
// record i % datasetRecords, so each record has rows/datasetRecords changes:
// a CREATE first and UPDATEs after it, each UPDATE's before equal to the
// record's previous after.
const datasetSQL = `
INSERT INTO changes (database, schema, "table", primary_key, operation, before, after, context,
	committed_at, queued_at, transaction_id, position, ordinal)
SELECT 'bench', 'public', 't' || (i %% %[1]d %% %[2]d), (i %% %[1]d / %[2]d)::text,
	CASE WHEN i < %[1]d THEN 'CREATE' ELSE 'UPDATE' END,
	CASE WHEN i < %[1]d THEN '{}'::jsonb ELSE jsonb_build_object('id', i %% %[1]d / %[2]d, 'task', 'task ' || (i - %[1]d), 'n', i - %[1]d, 'done', (i - %[1]d) %% 7 = 0) END,
	jsonb_build_object('id', i %% %[1]d / %[2]d, 'task', 'task ' || i, 'n', i, 'done', i %% 7 = 0),
	jsonb_build_object('userId', (i / 4) %% %[3]d, 'requestId', 'req-' || (i / 4), 'endpoint', '/todo/' || (i %% 50)),
	$1::timestamptz + (i / 4) * interval '1 millisecond', $1::timestamptz + (i / 4) * interval '1 millisecond',
	1000 + i / 4, 100000 + (i / 4) * 1000, i %% 4
FROM generate_series(0, $2::int - 1) AS i`

var datasets struct {
	sync.Mutex
	urls map[int]string
}

// dataset returns the URL of a database whose changes table holds rows
// generated changes, built once per size and test binary.
func dataset(tb testing.TB, rows int) string {
	tb.Helper()

	datasets.Lock()
	defer datasets.Unlock()
	if u, ok := datasets.urls[rows]; ok {
		return u
	}

	u := pgtest.NewDatabase(tb)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(ctx)

	started := time.Now()
	if err := capture.Migrate(ctx, conn, "public"); err != nil {
		tb.Fatal(err)
	}
	if _, err := conn.Exec(ctx, fmt.Sprintf(datasetSQL, datasetRecords, datasetTables, datasetUsers), datasetStart, rows); err != nil {
		tb.Fatalf("generate %d changes: %v", rows, err)
	}
	// Vacuum sets the hint bits and visibility map, and the checkpoint
	// writes the dirty pages, so the timed reads do not do either.
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE changes"); err != nil {
		tb.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CHECKPOINT"); err != nil {
		tb.Fatal(err)
	}
	tb.Logf("generated %d changes in %s", rows, time.Since(started).Round(time.Millisecond))

	if datasets.urls == nil {
		datasets.urls = map[int]string{}
	}
	datasets.urls[rows] = u

	return u
}

// benchmarkReader opens a reader of a dataset of rows changes.
func benchmarkReader(b *testing.B, rows int) *Reader {
	b.Helper()

	conn, err := pgx.Connect(context.Background(), dataset(b, rows))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close(context.Background()) })

	return NewReader(conn, Config{})
}

// randomRecord returns a record of the dataset.
func randomRecord(rng *rand.Rand) Record {
	r := rng.IntN(datasetRecords)

	return Record{Table: Table{Name: "t" + strconv.Itoa(r%datasetTables)}, PrimaryKey: strconv.Itoa(r / datasetTables)}
}

const benchmarkRows = 1000000

// BenchmarkRecordHistory reads the newest page of 50 changes of one record.
func BenchmarkRecordHistory(b *testing.B) {
	r := benchmarkReader(b, benchmarkRows)
	rng := rand.New(rand.NewPCG(1, 2))

	b.ResetTimer()
	for b.Loop() {
		rec := randomRecord(rng)
		page, err := r.Changes(b.Context(), Query{Filter: Filter{Table: rec.Name, PrimaryKeys: []string{rec.PrimaryKey}}, Order: Descending, Limit: 50})
		if err != nil || len(page.Changes) != 50 {
			b.Fatalf("record history: %d changes, %v", len(page.Changes), err)
		}
	}
}

// BenchmarkContextFilter reads the newest page of 50 of the changes made
// by one user, who made benchmarkRows/datasetUsers (500) of them.
func BenchmarkContextFilter(b *testing.B) {
	r := benchmarkReader(b, benchmarkRows)
	rng := rand.New(rand.NewPCG(3, 4))

	b.ResetTimer()
	for b.Loop() {
		page, err := r.Changes(b.Context(), Query{Filter: Filter{Context: map[string]any{"userId": rng.IntN(datasetUsers)}}, Order: Descending, Limit: 50})
		if err != nil || len(page.Changes) != 50 {
			b.Fatalf("context filter: %d changes, %v", len(page.Changes), err)
		}
	}
}

// BenchmarkRecordAsOf reconstructs one record at a time in the middle of
// its history.
func BenchmarkRecordAsOf(b *testing.B) {
	r := benchmarkReader(b, benchmarkRows)
	rng := rand.New(rand.NewPCG(5, 6))
	middle := datasetStart.Add(benchmarkRows / 8 * time.Millisecond)

	b.ResetTimer()
	for b.Loop() {
		state, err := r.RecordAsOf(b.Context(), randomRecord(rng), middle)
		if err != nil || !state.Exists {
			b.Fatalf("record as of: %+v, %v", state, err)
		}
	}
}

// planRows is the dataset size of the plan test: large enough for the
// planner to prefer indexes as it does at a million rows, small enough to
// generate in seconds.
const planRows = 200000

// TestQueryPlansUseIndexes checks with EXPLAIN that the benchmarked queries
// read the changes table through an index, never a sequential scan.
func TestQueryPlansUseIndexes(t *testing.T) {
	conn, err := pgx.Connect(t.Context(), dataset(t, planRows))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	r := NewReader(conn, Config{})

	at := datasetStart.Add(planRows / 8 * time.Millisecond)
	recordHistory, historyArgs, _, err := r.pageSQL(Query{Filter: Filter{Table: "t1", PrimaryKeys: []string{"42"}}, Order: Descending, Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	byContext, contextArgs, _, err := r.pageSQL(Query{Filter: Filter{Context: map[string]any{"userId": 42}}, Order: Descending, Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	nextPage, nextArgs, _, err := r.pageSQL(Query{Filter: Filter{Table: "t1", PrimaryKeys: []string{"42"}}, Limit: 50,
		After: Cursor(coreChangeAt(at))})
	if err != nil {
		t.Fatal(err)
	}
	byPosition, positionArgs, _, err := r.pageSQL(Query{Filter: Filter{Position: 100000 + 5000*1000}})
	if err != nil {
		t.Fatal(err)
	}
	byXid, xidArgs, _, err := r.pageSQL(Query{Filter: Filter{TransactionID: 1000 + 5000}})
	if err != nil {
		t.Fatal(err)
	}
	row := `{"id": 42, "n": 1, "done": false, "task": "task 1"}`

	queries := []struct {
		name string
		sql  string
		args []any
	}{
		{"record history", recordHistory, historyArgs},
		{"record history, next page", nextPage, nextArgs},
		{"context filter", byContext, contextArgs},
		{"as-of last change", fmt.Sprintf(lastChangeSQL, changeColumns, r.table), []any{"t1", "42", "public", "", at, int64(0)}},
		{"as-of truncate", fmt.Sprintf(truncateSQL, changeColumns, r.table), []any{"t1", "public", "bench", at.Add(-time.Hour), at, int64(0), int32(0), endOfHistory.position, endOfHistory.ordinal}},
		{"as-of key change", fmt.Sprintf(movedAwaySQL, changeColumns, r.table), []any{row, "t1", "public", "bench", "42", at, int64(0), int32(0)}},
		{"as-of first change", fmt.Sprintf(firstChangeAfterSQL, changeColumns, r.table), []any{"t1", "42", "public", "", at}},
		{"transaction by position", byPosition, positionArgs},
		{"transaction by xid", byXid, xidArgs},
	}
	for _, q := range queries {
		t.Run(q.name, func(t *testing.T) {
			var plan string
			if err := conn.QueryRow(t.Context(), "EXPLAIN (FORMAT JSON) "+q.sql, q.args...).Scan(&plan); err != nil {
				t.Fatalf("explain: %v\n%s", err, q.sql)
			}
			var doc []struct{ Plan planNode }
			if err := json.Unmarshal([]byte(plan), &doc); err != nil || len(doc) != 1 {
				t.Fatalf("decode plan %s: %v", plan, err)
			}

			seq, indexed := scans(doc[0].Plan)
			if seq {
				t.Errorf("plan reads changes with a sequential scan:\n%s", plan)
			}
			if !indexed {
				t.Errorf("plan reads changes through no index:\n%s", plan)
			}
		})
	}
}

// planNode is a node of EXPLAIN (FORMAT JSON) output.
type planNode struct {
	NodeType     string     `json:"Node Type"`
	RelationName string     `json:"Relation Name"`
	IndexName    string     `json:"Index Name"`
	Plans        []planNode `json:"Plans"`
}

// scans reports whether the plan scans the changes table sequentially, and
// whether it uses an index of it.
func scans(n planNode) (seq, indexed bool) {
	switch n.NodeType {
	case "Seq Scan":
		seq = n.RelationName == "changes"
	case "Index Scan", "Index Only Scan", "Bitmap Index Scan":
		indexed = len(n.IndexName) >= len("changes") && n.IndexName[:len("changes")] == "changes"
	}
	for _, child := range n.Plans {
		s, i := scans(child)
		seq, indexed = seq || s, indexed || i
	}

	return seq, indexed
}

// coreChangeAt returns a change of the dataset's shape at a time, for a
// cursor.
func coreChangeAt(at time.Time) core.Change {
	return core.Change{CommittedAt: at, Position: 100000, Ordinal: 0, Database: "bench"}
}
