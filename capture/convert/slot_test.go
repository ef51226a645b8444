package convert_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"

	"github.com/bemi-go/bemi/capture/convert"
	"github.com/bemi-go/bemi/core/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)

	return ctx
}

// connect opens a connection with the given session settings as startup
// parameters, the way the capture worker pins them. Its commits wait for
// their WAL flush, because the test cluster runs with synchronous_commit
// off and logical decoding reads only flushed WAL.
func connect(t *testing.T, ctx context.Context, url string, settings map[string]string) *pgx.Conn {
	t.Helper()

	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["synchronous_commit"] = "on"
	for k, v := range settings {
		cfg.RuntimeParams[k] = v
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })

	return conn
}

func mustExec(t *testing.T, ctx context.Context, conn *pgx.Conn, sql string) {
	t.Helper()
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("exec %.300s: %v", sql, err)
	}
}

// testPublication names the publication that createSlot creates.
const testPublication = "bemi_test"

// createSlot creates a publication for all tables and a pgoutput slot, and
// returns the slot's name. Slots belong to the cluster, so the name is the
// database's, which is unique.
func createSlot(t *testing.T, ctx context.Context, conn *pgx.Conn) string {
	t.Helper()

	mustExec(t, ctx, conn, "CREATE PUBLICATION "+testPublication+" FOR ALL TABLES")
	var slot string
	err := conn.QueryRow(ctx, "SELECT slot_name FROM pg_create_logical_replication_slot(current_database(), 'pgoutput')").Scan(&slot)
	if err != nil {
		t.Fatalf("create slot: %v", err)
	}

	return slot
}

// insertedRow is one INSERT read from the slot: its table's columns and
// the values as pgoutput sent them, nil for NULL.
type insertedRow struct {
	table   string
	columns []convert.Column
	values  [][]byte
}

// peekInserts decodes the inserts pending in the slot, without consuming
// them, with pgoutput protocol version 1 on conn. The text values depend
// on conn's session settings, as they do on a replication connection.
func peekInserts(t *testing.T, ctx context.Context, conn *pgx.Conn, slot string) []insertedRow {
	t.Helper()

	rows, err := conn.Query(ctx, `SELECT data FROM pg_logical_slot_peek_binary_changes($1, NULL, NULL,
		'proto_version', '1', 'publication_names', $2)`, slot, testPublication)
	if err != nil {
		t.Fatalf("read slot %s: %v", slot, err)
	}
	messages, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		t.Fatalf("read slot %s: %v", slot, err)
	}

	relations := map[uint32]*pglogrepl.RelationMessage{}
	var inserted []insertedRow
	for _, data := range messages {
		msg, err := pglogrepl.Parse(data)
		if err != nil {
			t.Fatalf("decode pgoutput message %q: %v", data[:1], err)
		}
		switch m := msg.(type) {
		case *pglogrepl.RelationMessage:
			relations[m.RelationID] = m
		case *pglogrepl.InsertMessage:
			rel, ok := relations[m.RelationID]
			if !ok {
				t.Fatalf("insert into relation %d before its Relation message", m.RelationID)
			}
			inserted = append(inserted, tupleRow(t, rel, m.Tuple))
		}
	}

	return inserted
}

func tupleRow(t *testing.T, rel *pglogrepl.RelationMessage, tuple *pglogrepl.TupleData) insertedRow {
	t.Helper()

	row := insertedRow{table: rel.RelationName}
	for i, col := range rel.Columns {
		row.columns = append(row.columns, convert.Column{Name: col.Name, TypeOID: col.DataType})

		data := tuple.Columns[i]
		switch data.DataType {
		case pglogrepl.TupleDataTypeText:
			row.values = append(row.values, data.Data)
		case pglogrepl.TupleDataTypeNull:
			row.values = append(row.values, nil)
		default:
			t.Fatalf("column %s: tuple data type %q, want text or null", col.Name, data.DataType)
		}
	}

	return row
}

func typeOIDs(cols []convert.Column) []uint32 {
	oids := make([]uint32, len(cols))
	for i, c := range cols {
		oids[i] = c.TypeOID
	}

	return oids
}

// decodeObject decodes a JSON object, keeping numbers as their text.
func decodeObject(t *testing.T, source string, data []byte) map[string]any {
	t.Helper()

	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		t.Fatalf("decode %s %s: %v", source, data, err)
	}
	if dec.More() {
		t.Fatalf("decode %s %s: text after the object", source, data)
	}

	return obj
}

// toJSONB returns to_jsonb(t) of every row of table, ordered by id, read on
// conn.
func toJSONB(t *testing.T, ctx context.Context, conn *pgx.Conn, table string) [][]byte {
	t.Helper()

	rows, err := conn.Query(ctx, "SELECT to_jsonb(t)::text FROM "+table+" t ORDER BY id")
	if err != nil {
		t.Fatalf("to_jsonb of %s: %v", table, err)
	}
	texts, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		t.Fatalf("to_jsonb of %s: %v", table, err)
	}

	return texts
}
