package capture_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/bemi-go/bemi/capture"
	"github.com/bemi-go/bemi/capture/convert"
	"github.com/bemi-go/bemi/capture/setup"
	"github.com/bemi-go/bemi/core/pgtest"
)

// newSetupSource creates a database, runs schema and installs tracking with
// setup.Run, as bemi setup does: the real trigger, publication and slot.
func newSetupSource(t *testing.T, schema string) *source {
	t.Helper()

	url := pgtest.NewDatabase(t)
	s := &source{t: t, url: url, slot: slotName(t, url), conn: connect(t, url)}
	if schema != "" {
		s.exec(schema)
	}
	if _, err := setup.Run(t.Context(), s.conn, setup.Config{Slot: s.slot}); err != nil {
		t.Fatalf("setup: %v", err)
	}

	return s
}

// connectWith opens a connection with extra session settings.
func connectWith(t *testing.T, url string, settings map[string]string) *pgx.Conn {
	t.Helper()

	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range settings {
		cfg.RuntimeParams[k] = v
	}
	conn, err := pgx.ConnectConfig(t.Context(), cfg)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })

	return conn
}

// e2eOracleSchema has a column of 50 types, which to_jsonb treats in
// different ways, and a TOASTed text that the update leaves unchanged.
const e2eOracleSchema = `
CREATE EXTENSION hstore;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN positive_int AS integer CHECK (VALUE > 0);
CREATE TYPE address AS (street text, zip integer, seen timestamptz, tags text[]);
CREATE TABLE oracle (
	id integer PRIMARY KEY,
	c_bool boolean, c_int2 smallint, c_int8 bigint, c_numeric numeric, c_numeric_scaled numeric(40,10),
	c_float4 real, c_float8 double precision, c_money money,
	c_text text, c_varchar varchar(20), c_bpchar char(5), c_char "char", c_name name, c_bytea bytea,
	c_date date, c_time time, c_timetz timetz, c_timestamp timestamp, c_timestamptz timestamptz, c_interval interval,
	c_uuid uuid, c_inet inet, c_cidr cidr, c_macaddr macaddr,
	c_json json, c_jsonb jsonb, c_xml xml, c_tsvector tsvector, c_bit bit(4), c_varbit varbit,
	c_point point, c_box box, c_circle circle,
	c_int4range int4range, c_tstzrange tstzrange, c_daterange daterange, c_int4multirange int4multirange,
	c_pg_lsn pg_lsn, c_oid oid, c_enum mood, c_domain positive_int, c_composite address,
	c_text_array text[], c_int_matrix integer[][], c_numeric_array numeric[], c_timestamptz_array timestamptz[],
	c_jsonb_array jsonb[], c_enum_array mood[], c_interval_array interval[], c_bytea_array bytea[],
	c_hstore hstore,
	c_big text
)`

// writerSettings are the writer's session settings, none of them the
// default: dates are read day first, times without an offset are in
// Kathmandu (+05:45), and interval signs follow the SQL standard.
var writerSettings = map[string]string{
	"DateStyle":          "SQL, DMY",
	"TimeZone":           "Asia/Kathmandu",
	"IntervalStyle":      "sql_standard",
	"extra_float_digits": "-3",
	"bytea_output":       "escape",
}

// e2eOracleRows are written by a session with writerSettings, so every date
// and time literal is day first.
var e2eOracleRows = []string{
	`INSERT INTO oracle VALUES (1,
		true, 12, 9007199254740993, 123.450, 1.5, 1.5, 3.14159, 12.5,
		'hello', 'world', 'ab', 'x', 'a_name', '\x0102ff',
		'11/12/2023', '17:09:09.123', '17:09:09+05:30', '11/12/2023 17:09:09.123456', '11/12/2023 17:09:09.5', '-1 2:03:04',
		'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '192.168.1.5/24', '10.0.0.0/8', '08:00:2b:01:02:03',
		'{"b": [1, 2.50, "x"], "a": {"c": null}}', '{"b": [1, 2.50, "x"], "big": 123456789012345678901234567890}',
		'<a>x &amp; y</a>', 'a fat cat', B'1010', B'10101',
		'(1.5,2)', '((3,4),(1,2))', '<(1,2),3>',
		'[1,10)', '["11/12/2023 00:00","12/12/2023 00:00")', '[01/01/2023,01/02/2023)', '{[1,3),[5,8)}',
		'16/B374D848', 4294967295, 'happy', 42, ROW('Main St 1', 12345, '11/12/2023 17:09:09', '{a,"b c"}'),
		'{a,b,"c d"}', '{{1,2},{3,4}}', '{1.50,2.000,-3}', '{"11/12/2023 17:09:09.5"}',
		ARRAY['{"a": 1}'::jsonb, '[1, "two"]'], '{happy,sad}', '{"1 day","-1 2:03:04"}', '{"\\x01","\\x"}',
		'a=>1, "b c"=>"d"',
		(SELECT string_agg(md5(i::text), '') FROM generate_series(1, 400) i))
		/*Bemi {"step":"insert","row":1} Bemi*/`,

	`INSERT INTO oracle (id, c_int2, c_int8, c_numeric, c_numeric_scaled, c_float4, c_float8, c_money,
		c_text, c_date, c_timestamp, c_timestamptz, c_interval, c_json, c_jsonb, c_tstzrange,
		c_numeric_array, c_timestamptz_array, c_int_matrix, c_composite)
	VALUES (2, -32768, -9223372036854775808, 1234567890123456789012345678901234567890.1234567890000,
		-0.0000000001, 3.4028235e38, 'NaN', -92233720368547758.08,
		E'tab\t "q" \\ € 😀 日本 \u0001', 'infinity', '-infinity', '01/01/4713 00:00:00+00 BC', '-178000000 years',
		'{"big": 123456789012345678901234567890, "exp": 1.5E+3, "small": 1e-7, "dup": 1, "dup": 2}',
		'{"exp": 1.5E+3, "frac": 0.100, "s": "é\n"}', '(,infinity]',
		'{NaN,Infinity,-0.5}', '{infinity,NULL}', '[0:1][1:2]={{1,NULL},{NULL,4}}',
		ROW(E'a "b" \\c, (d)', NULL, '-infinity', '{NULL,"NULL"}'))
		/*Bemi {"step":"insert","row":2} Bemi*/`,

	`INSERT INTO oracle (id) VALUES (3) /*Bemi {"step":"insert","row":3} Bemi*/`,

	`INSERT INTO oracle (id, c_text, c_varchar, c_bpchar, c_bytea, c_json, c_jsonb, c_tsvector, c_varbit,
		c_int4range, c_int4multirange, c_text_array, c_jsonb_array, c_enum_array, c_bytea_array, c_hstore, c_xml)
	VALUES (4, '', '', '', '', '""', '{}', '', B'', 'empty', '{}', '{}', '{}', '{}', '{""}', '', '')
		/*Bemi {"step":"insert","row":4} Bemi*/`,
}

// TestE2EOracleMatchesToJSONB writes rows of 50 column types from a session
// with other DateStyle, TimeZone and IntervalStyle settings, updates and
// deletes some, and compares every stored before and after with
// PostgreSQL's own to_jsonb of the row at that time.
func TestE2EOracleMatchesToJSONB(t *testing.T) {
	t.Parallel()
	s := newSetupSource(t, e2eOracleSchema)
	s.start(capture.Config{})

	var types int
	if err := s.conn.QueryRow(t.Context(), "SELECT count(DISTINCT atttypid) FROM pg_attribute WHERE attrelid = 'oracle'::regclass AND attnum > 0").Scan(&types); err != nil {
		t.Fatal(err)
	}
	if types < 40 {
		t.Fatalf("oracle table has %d column types, want at least 40", types)
	}

	writer := connectWith(t, s.url, writerSettings)
	oracle := connectWith(t, s.url, convert.SessionSettings())
	for _, sql := range e2eOracleRows {
		if _, err := writer.Exec(t.Context(), sql); err != nil {
			t.Fatalf("insert: %v", err)
		}
	}
	inserted := rowsAsJSONB(t, oracle)
	hstoreText := hstoreTexts(t, oracle)

	mustExecConn(t, writer, `UPDATE oracle SET c_text = 'changed', c_timestamptz = '01/02/2024 08:00', c_interval = '3 4:05:06',
		c_numeric = NULL, c_jsonb = c_jsonb || '{"new": true}', c_date = '29/02/2024'
		WHERE id IN (1, 2) /*Bemi {"step":"update"} Bemi*/`)
	mustExecConn(t, writer, `UPDATE oracle SET c_bool = false, c_enum = 'ok', c_composite = ROW(NULL, NULL, NULL, NULL),
		c_interval_array = '{"-1 2:03:04"}' WHERE id = 3`)
	mustExecConn(t, writer, `BEGIN; SELECT set_config('bemi.context', '{"step":"delete"}', true); DELETE FROM oracle WHERE id = 4; COMMIT`)
	updated := rowsAsJSONB(t, oracle)

	waitChanges(t, s.url, 8)
	got := readRawChanges(t, s.conn)

	want := []struct {
		op      string
		key     string
		before  map[string]json.RawMessage
		after   map[string]json.RawMessage
		context string
	}{
		{"CREATE", "1", nil, inserted["1"], `{"row": 1, "step": "insert"}`},
		{"CREATE", "2", nil, inserted["2"], `{"row": 2, "step": "insert"}`},
		{"CREATE", "3", nil, inserted["3"], `{"row": 3, "step": "insert"}`},
		{"CREATE", "4", nil, inserted["4"], `{"row": 4, "step": "insert"}`},
		{"UPDATE", "1", inserted["1"], updated["1"], `{"step": "update"}`},
		{"UPDATE", "2", inserted["2"], updated["2"], `{"step": "update"}`},
		{"UPDATE", "3", inserted["3"], updated["3"], `{}`},
		{"DELETE", "4", inserted["4"], nil, `{"step": "delete"}`},
	}
	if len(got) != len(want) {
		t.Fatalf("changes table holds %d rows, want %d", len(got), len(want))
	}
	for i, w := range want {
		c := got[i]
		if c.operation != w.op || c.key != w.key {
			t.Errorf("change %d: %s of key %s, want %s of %s", i, c.operation, c.key, w.op, w.key)

			continue
		}
		if c.context != w.context {
			t.Errorf("change %d (%s %s): context %s, want %s", i, w.op, w.key, c.context, w.context)
		}
		compareRow(t, i, "before", decodeRaw(t, c.before), w.before, hstoreText[w.key])
		compareRow(t, i, "after", decodeRaw(t, c.after), w.after, hstoreText[w.key])
	}
}

// rowsAsJSONB returns to_jsonb of every oracle row by id, column by column,
// as jsonb prints them.
func rowsAsJSONB(t *testing.T, conn *pgx.Conn) map[string]map[string]json.RawMessage {
	t.Helper()

	rows, err := conn.Query(t.Context(), "SELECT id::text, to_jsonb(o)::text FROM oracle o")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]json.RawMessage{}
	for rows.Next() {
		var id, row string
		if err := rows.Scan(&id, &row); err != nil {
			t.Fatal(err)
		}
		out[id] = decodeRaw(t, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}

	return out
}

// hstoreTexts returns the text of the hstore column by id, which the
// converter stores as a JSON string: a documented difference from
// to_jsonb, which calls hstore's cast to json.
func hstoreTexts(t *testing.T, conn *pgx.Conn) map[string]*string {
	t.Helper()

	rows, err := conn.Query(t.Context(), "SELECT id::text, c_hstore::text FROM oracle")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*string{}
	for rows.Next() {
		var id string
		var text *string
		if err := rows.Scan(&id, &text); err != nil {
			t.Fatal(err)
		}
		out[id] = text
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}

	return out
}

// rawChange is a changes row with its jsonb columns as jsonb prints them.
type rawChange struct {
	operation, key, before, after, context string
}

func readRawChanges(t *testing.T, conn *pgx.Conn) []rawChange {
	t.Helper()

	rows, err := conn.Query(t.Context(), `
SELECT operation, coalesce(primary_key, ''), before::text, after::text, context::text
FROM changes ORDER BY position, ordinal`)
	if err != nil {
		t.Fatal(err)
	}
	var out []rawChange
	for rows.Next() {
		var c rawChange
		if err := rows.Scan(&c.operation, &c.key, &c.before, &c.after, &c.context); err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}

	return out
}

func decodeRaw(t *testing.T, text string) map[string]json.RawMessage {
	t.Helper()

	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(text), &m); err != nil {
		t.Fatalf("decode %q: %v", text, err)
	}

	return m
}

// compareRow compares a stored row with to_jsonb's, column by column and
// byte for byte as jsonb prints them. A nil want means the empty object.
// The hstore column is the one documented difference that the oracle
// table shows: it must hold hstoreText as a JSON string.
func compareRow(t *testing.T, change int, which string, got, want map[string]json.RawMessage, hstoreText *string) {
	t.Helper()

	if want == nil {
		if len(got) != 0 {
			t.Errorf("change %d: %s has %d columns, want {}", change, which, len(got))
		}

		return
	}
	if len(got) != len(want) {
		t.Errorf("change %d: %s has %d columns, to_jsonb has %d", change, which, len(got), len(want))
	}

	for column, w := range want {
		g, ok := got[column]
		if !ok {
			t.Errorf("change %d: %s lacks column %s", change, which, column)

			continue
		}
		if column == "c_hstore" && hstoreText != nil {
			var text string
			if err := json.Unmarshal(g, &text); err != nil || text != *hstoreText {
				t.Errorf("change %d: %s.c_hstore = %s, want the hstore text %q as a string", change, which, g, *hstoreText)
			}

			continue
		}
		if !bytes.Equal(g, w) {
			t.Errorf("change %d: %s.%s = %s, to_jsonb gives %s", change, which, column, g, w)
		}
	}
}

func mustExecConn(t *testing.T, conn *pgx.Conn, sql string) {
	t.Helper()

	if _, err := conn.Exec(t.Context(), sql); err != nil {
		t.Fatalf("exec %q: %v", sql, err)
	}
}
