package convert_test

import (
	"errors"
	"maps"
	"reflect"
	"testing"

	"github.com/bemi-go/bemi/capture/convert"
	"github.com/bemi-go/bemi/core/pgtest"
)

// settingsSchema has the columns whose text depends on session settings.
const settingsSchema = `CREATE TABLE shaped (
	id integer PRIMARY KEY,
	c_timestamptz timestamptz,
	c_timestamp timestamp,
	c_date date,
	c_time time,
	c_timetz timetz,
	c_interval interval,
	c_float8 double precision,
	c_float4 real,
	c_bytea bytea,
	c_money money,
	c_tstzrange tstzrange,
	c_timestamptz_array timestamptz[],
	c_interval_array interval[]
)`

// settingsValues are literals that every DateStyle and IntervalStyle reads
// the same way.
const settingsValues = `(
	'2023-12-11 17:09:09.123456+00', '2023-12-11 17:09:09', '2023-12-11', '17:09:09', '17:09:09+05:30',
	'1 year 2 mons 3 days 04:05:06.5', 0.1, 0.1, '\x6101', 12.5,
	'[2023-12-11 17:09:09+00,2023-12-12 00:00:00+00)', '{"2023-12-11 17:09:09+00"}', '{"3 days 04:05:06"}')`

// writerSettings differ from SessionSettings in every setting that shapes
// text output.
var writerSettings = map[string]string{
	"DateStyle":          "SQL, DMY",
	"TimeZone":           "Asia/Kathmandu",
	"IntervalStyle":      "iso_8601",
	"extra_float_digits": "-15",
	"bytea_output":       "escape",
}

func TestAppendRowIgnoresWriterSessionSettings(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	url := pgtest.NewDatabase(t)

	setup := connect(t, ctx, url, nil)
	mustExec(t, ctx, setup, settingsSchema)
	slot := createSlot(t, ctx, setup)

	mustExec(t, ctx, setup, "INSERT INTO shaped VALUES (1, "+settingsValues[1:])
	odd := connect(t, ctx, url, writerSettings)
	mustExec(t, ctx, odd, "INSERT INTO shaped VALUES (2, "+settingsValues[1:])

	reader := connect(t, ctx, url, convert.SessionSettings())
	inserted := peekInserts(t, ctx, reader, slot)
	if len(inserted) != 2 {
		t.Fatalf("slot has %d inserts, want 2", len(inserted))
	}

	reg := convert.NewRegistry()
	cols := convert.NewColumns(inserted[0].columns[1:])
	var outputs [2][]byte
	for i, row := range inserted {
		out, err := reg.AppendRow(nil, cols, row.values[1:])
		if err != nil {
			t.Fatalf("row %d: %v", i+1, err)
		}
		outputs[i] = out
	}
	if string(outputs[0]) != string(outputs[1]) {
		t.Errorf("a writer with other settings changed the JSON:\ndefault writer: %s\nother writer:   %s", outputs[0], outputs[1])
	}

	got := decodeObject(t, "AppendRow output", outputs[1])
	if ts := got["c_timestamptz"]; ts != "2023-12-11T17:09:09.123456+00:00" {
		t.Errorf("c_timestamptz = %v, want 2023-12-11T17:09:09.123456+00:00", ts)
	}
	if iv := got["c_interval"]; iv != "1 year 2 mons 3 days 04:05:06.5" {
		t.Errorf("c_interval = %v, want the IntervalStyle postgres form", iv)
	}

	oracle := toJSONB(t, ctx, reader, "shaped")
	for i := range oracle {
		want := decodeObject(t, "to_jsonb output", oracle[i])
		delete(want, "id")
		if !reflect.DeepEqual(got, want) {
			t.Errorf("row %d: AppendRow gives %s, to_jsonb gives %s", i+1, marshal(got), marshal(want))
		}
	}
}

func TestAppendRowReportsNonISODateStyle(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	url := pgtest.NewDatabase(t)

	setup := connect(t, ctx, url, nil)
	mustExec(t, ctx, setup, settingsSchema)
	slot := createSlot(t, ctx, setup)
	mustExec(t, ctx, setup, "INSERT INTO shaped VALUES (1, "+settingsValues[1:])

	settings := convert.SessionSettings()
	settings["DateStyle"] = "SQL, DMY"
	reader := connect(t, ctx, url, settings)
	inserted := peekInserts(t, ctx, reader, slot)
	if len(inserted) != 1 {
		t.Fatalf("slot has %d inserts, want 1", len(inserted))
	}

	reg := convert.NewRegistry()
	out, err := reg.AppendRow(nil, convert.NewColumns(inserted[0].columns), inserted[0].values)

	var valueErr *convert.ValueError
	if !errors.As(err, &valueErr) {
		t.Fatalf("AppendRow with DateStyle SQL error = %v, want a *ValueError", err)
	}
	if valueErr.Column != "c_timestamptz" {
		t.Errorf("ValueError.Column = %q, want c_timestamptz, the first date column", valueErr.Column)
	}
	got := decodeObject(t, "AppendRow output", out)
	if ts := got["c_timestamptz"]; ts != string(inserted[0].values[1]) {
		t.Errorf("c_timestamptz = %v, want its text %q kept as a string", ts, inserted[0].values[1])
	}
}

func TestSessionSettingsReturnsCopy(t *testing.T) {
	a := convert.SessionSettings()
	want := maps.Clone(a)
	a["DateStyle"] = "German"
	if b := convert.SessionSettings(); !maps.Equal(b, want) {
		t.Errorf("SessionSettings after a caller changed its map = %v, want %v", b, want)
	}
	if want["DateStyle"] != "ISO" || want["TimeZone"] != "UTC" || want["IntervalStyle"] != "postgres" {
		t.Errorf("SessionSettings = %v, want DateStyle ISO, TimeZone UTC and IntervalStyle postgres", want)
	}
}
