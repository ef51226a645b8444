package pgtest

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestMain(m *testing.M) { os.Exit(Run(m)) }

func TestNewDatabaseLogicalWAL(t *testing.T) {
	u := NewDatabase(t)
	c := Shared(t)

	out, err := exec.Command(c.Bin("psql"), "-X", "-A", "-t", "-d", u, "-c", "SHOW wal_level").CombinedOutput()
	if err != nil {
		t.Fatalf("psql: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "logical" {
		t.Fatalf("wal_level = %q, want logical", got)
	}
}

func TestNewDatabaseIsolated(t *testing.T) {
	a := NewDatabase(t)
	b := NewDatabase(t)
	if a == b {
		t.Fatalf("two databases share the URL %s", a)
	}

	c := Shared(t)
	if err := c.Exec(a, "CREATE TABLE only_in_a (id int)"); err != nil {
		t.Fatal(err)
	}
	if err := c.Exec(b, "SELECT * FROM only_in_a"); err == nil {
		t.Fatal("table created in one database is visible in another")
	}
}

func TestFirstBinDirMissing(t *testing.T) {
	_, err := firstBinDir([]string{"", t.TempDir()})
	if !errors.Is(err, ErrNoBinaries) {
		t.Fatalf("err = %v, want ErrNoBinaries", err)
	}
	if !strings.Contains(err.Error(), "apt-get install postgresql") {
		t.Errorf("error %q does not say how to install the binaries", err)
	}
}
