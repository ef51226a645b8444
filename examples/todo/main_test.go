package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/bemi-go/bemi/core/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }

// changeRow matches a data row of the printed changes table.
var changeRow = regexp.MustCompile(`(?m)^ \d+ +\| todo +\| (CREATE|UPDATE|DELETE) +\|.*"userId": 187234.*$`)

// checkDemoOutput checks the printed changes table and the pgbench report.
func checkDemoOutput(t *testing.T, out string) {
	t.Helper()

	header := regexp.MustCompile(`(?m)^ primary_key \| table \| operation \| +before +\| +after +\| +context +\| +committed_at$`)
	if !header.MatchString(out) {
		t.Errorf("output has no changes table header:\n%s", out)
	}

	rows := changeRow.FindAllStringSubmatch(out, -1)
	var operations []string
	for _, r := range rows {
		operations = append(operations, r[1])
	}
	want := []string{"CREATE", "CREATE", "CREATE", "UPDATE", "DELETE"}
	if strings.Join(operations, " ") != strings.Join(want, " ") {
		t.Errorf("printed operations %v, want %v:\n%s", operations, want, out)
	}
	if !strings.Contains(out, "(5 rows)") {
		t.Errorf("output does not end the changes table with (5 rows):\n%s", out)
	}
	if !regexp.MustCompile(`(?m)^OK: \d+ transactions \(pgbench and pgbench_history agree\)`).MatchString(out) {
		t.Errorf("output has no pgbench OK line:\n%s", out)
	}
}

// TestDemoThrowawayCluster runs the code path of make demo: no
// DATABASE_URL, so the demo starts and removes its own cluster.
func TestDemoThrowawayCluster(t *testing.T) {
	t.Setenv("DATABASE_URL", "")

	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"demo", "--pgbench-duration=1s"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("demo exited with %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}

	checkDemoOutput(t, stdout.String())
	if !strings.Contains(stdout.String(), "Starting a throwaway PostgreSQL cluster") {
		t.Errorf("demo did not say that it starts a cluster:\n%s", stdout.String())
	}
}

// TestDemoDatabaseURLTwice runs the demo twice on one existing database:
// the second run finds setup done and the pgbench tables in place.
func TestDemoDatabaseURLTwice(t *testing.T) {
	url := pgtest.NewDatabase(t)
	t.Setenv("DATABASE_URL", url)

	for i, args := range [][]string{
		{"demo", "--pgbench-duration=1s", "--slot=demo_twice"},
		{"demo", "--pgbench-duration=1s", "--slot=demo_twice", "--router=gin"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), args, &stdout, &stderr)
		if code != 0 {
			t.Fatalf("run %d: demo exited with %d\nstdout:\n%s\nstderr:\n%s", i+1, code, stdout.String(), stderr.String())
		}

		out := stdout.String()
		checkDemoOutput(t, out)
		if strings.Contains(out, "throwaway") {
			t.Errorf("run %d: demo started a cluster although DATABASE_URL is set:\n%s", i+1, out)
		}
		if i == 1 && !strings.Contains(out, "Using the existing pgbench tables") {
			t.Errorf("run 2: demo did not reuse the pgbench tables:\n%s", out)
		}
	}
}

func TestUnknownCommand(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"frobnicate"}, &stdout, &stderr); code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	if !strings.Contains(stderr.String(), `unknown command "frobnicate"`) {
		t.Errorf("stderr = %q, want the unknown command named", stderr.String())
	}
}

func TestDemoUnknownStoreAndRouter(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{name: "store", args: []string{"demo", "--store", "mongo"}, want: `unknown store "mongo"`},
		{name: "router", args: []string{"demo", "--router", "echo"}, want: `unknown router "echo"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), tc.args, &stdout, &stderr); code != 1 {
				t.Errorf("exit status %d, want 1", code)
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr = %q, want %q", stderr.String(), tc.want)
			}
			if strings.Contains(stdout.String(), "Starting") || strings.Contains(stdout.String(), "==>") {
				t.Errorf("the demo started before checking its flags: %q", stdout.String())
			}
		})
	}
}
