package pgtest

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// shared is the cluster of one test binary, started on first use by
// NewDatabase and stopped by Run.
var shared struct {
	once    sync.Once
	cluster *Cluster
	err     error
	seq     atomic.Int64
}

// Run runs the tests of a package and stops the shared cluster afterwards.
// Call it from TestMain: os.Exit(pgtest.Run(m)).
func Run(m *testing.M) int {
	code := m.Run()
	if shared.cluster != nil {
		if err := shared.cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}

	return code
}

// Shared returns the package's shared cluster, starting it on first use. A
// test fails (it is never skipped) when no cluster can be started.
func Shared(t testing.TB) *Cluster {
	t.Helper()

	shared.once.Do(func() {
		shared.cluster, shared.err = Start(Options{})
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}

	return shared.cluster
}

var unsafeName = regexp.MustCompile(`[^a-z0-9_]+`)

// NewDatabase creates an empty database on the shared cluster and returns
// its URL. The database is named after the test; on an external server it is
// dropped when the test ends, with its replication slots.
func NewDatabase(t testing.TB) string {
	t.Helper()

	c := Shared(t)
	name := unsafeName.ReplaceAllString(strings.ToLower(t.Name()), "_")
	if len(name) > 40 {
		name = name[:40]
	}
	name = fmt.Sprintf("t_%s_%d", name, shared.seq.Add(1))

	u, err := c.CreateDatabase(name)
	if err != nil {
		t.Fatal(err)
	}
	if c.External() {
		t.Cleanup(func() {
			if err := c.DropDatabase(name); err != nil {
				t.Logf("pgtest: drop database %s: %v", name, err)
			}
		})
	}

	return u
}
