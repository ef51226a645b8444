package demo

import (
	"strings"
	"testing"
)

func TestWriteTableAligned(t *testing.T) {
	var b strings.Builder
	err := writeTable(&b, []string{"id", "task"}, [][]string{{"1", "Sleep"}, {"27", "Eat é"}})
	if err != nil {
		t.Fatal(err)
	}

	want := "" +
		" id | task\n" +
		"----+-------\n" +
		" 1  | Sleep\n" +
		" 27 | Eat é\n" +
		"(2 rows)\n"
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestWriteTableOneRow(t *testing.T) {
	var b strings.Builder
	if err := writeTable(&b, []string{"primary_key"}, [][]string{{"1"}}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(b.String(), "(1 row)\n") {
		t.Errorf("table %q does not end with (1 row)", b.String())
	}
}

func TestWritePgbenchReportMismatch(t *testing.T) {
	tests := []struct {
		name    string
		run     pgbenchRun
		counts  []pgbenchCount
		context int64
		wantErr string
	}{
		{
			name:    "missing change",
			run:     pgbenchRun{Reported: 2, HistoryRows: 2},
			counts:  []pgbenchCount{{Table: "pgbench_accounts", Operation: "UPDATE", Expected: 2, Captured: 1}},
			wantErr: "captured 1 changes of the pgbench tables, want 2",
		},
		{
			name:    "pgbench and table disagree",
			run:     pgbenchRun{Reported: 3, HistoryRows: 2},
			counts:  []pgbenchCount{{Table: "pgbench_accounts", Operation: "UPDATE", Expected: 2, Captured: 2}},
			wantErr: "pgbench reported 3 transactions, but pgbench_history gained 2 rows",
		},
		{
			name:    "unexpected context",
			run:     pgbenchRun{Reported: 2, HistoryRows: 2},
			counts:  []pgbenchCount{{Table: "pgbench_accounts", Operation: "UPDATE", Expected: 2, Captured: 2}},
			context: 1,
			wantErr: "1 changes made by pgbench carry a context",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			err := writePgbenchReport(&b, tt.run, tt.counts, tt.context)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
			if strings.Contains(b.String(), "OK:") {
				t.Errorf("report says OK despite the error:\n%s", b.String())
			}
		})
	}
}
