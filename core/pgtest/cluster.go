package pgtest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// EnvDatabaseURL names the environment variable that points the tests at an
// existing server instead of a throwaway cluster.
const EnvDatabaseURL = "BEMI_TEST_DATABASE_URL"

// EnvBinDir names the environment variable that sets the directory of the
// PostgreSQL binaries.
const EnvBinDir = "BEMI_PG_BIN"

// ErrNoBinaries is returned by Start when no PostgreSQL binaries are found.
var ErrNoBinaries = errors.New("pgtest: PostgreSQL binaries (initdb, pg_ctl) not found: " +
	"install them (Debian: apt-get install postgresql), set " + EnvBinDir +
	" to their directory, or set " + EnvDatabaseURL + " to a server with wal_level=logical")

// Options configure a throwaway cluster. The zero value gives a cluster tuned
// for fast tests.
type Options struct {
	// BinDir is the directory of initdb, pg_ctl and psql. Empty means the
	// lookup described in the package documentation.
	BinDir string

	// Durable keeps fsync and full_page_writes on, as in production.
	// Benchmarks need it; tests run faster without it. synchronous_commit
	// stays on either way, because logical decoding only sends WAL that is
	// flushed, and tests expect a committed change to be decodable at once.
	Durable bool

	// Settings are extra postgresql.conf settings, such as
	// {"max_slot_wal_keep_size": "1GB"}.
	Settings map[string]string

	// IgnoreEnv starts a cluster even when BEMI_TEST_DATABASE_URL is set.
	IgnoreEnv bool
}

// Cluster is a running PostgreSQL server: a throwaway cluster started by
// Start, or the server named by BEMI_TEST_DATABASE_URL.
type Cluster struct {
	// URL connects to the "postgres" database as a superuser, or is the URL
	// from BEMI_TEST_DATABASE_URL.
	URL string

	// Port is the TCP port on 127.0.0.1 (0 for an external server).
	Port int

	binDir   string
	dir      string
	dataDir  string
	external bool
	cred     *syscall.Credential
}

// Start starts a throwaway cluster, or returns the server named by
// BEMI_TEST_DATABASE_URL when that is set and opts.IgnoreEnv is false.
func Start(opts Options) (*Cluster, error) {
	if u := os.Getenv(EnvDatabaseURL); u != "" && !opts.IgnoreEnv {
		bin, _ := findBinDir(opts.BinDir)

		return &Cluster{URL: u, binDir: bin, external: true}, nil
	}

	bin, err := findBinDir(opts.BinDir)
	if err != nil {
		return nil, err
	}

	c := &Cluster{binDir: bin}
	if err := c.init(opts); err != nil {
		c.removeDir()

		return nil, err
	}

	var startErr error
	for attempt := 0; attempt < 3; attempt++ {
		if startErr = c.start(opts); startErr == nil {
			return c, nil
		}
	}
	c.removeDir()

	return nil, startErr
}

func (c *Cluster) init(opts Options) error {
	dir, err := os.MkdirTemp("", "bemi-pgtest-")
	if err != nil {
		return fmt.Errorf("pgtest: create temporary directory: %w", err)
	}
	c.dir = dir
	c.dataDir = filepath.Join(dir, "data")
	if err := os.Chmod(dir, 0o755); err != nil {
		return fmt.Errorf("pgtest: chmod %s: %w", dir, err)
	}

	if os.Geteuid() == 0 {
		cred, err := unprivilegedUser()
		if err != nil {
			return err
		}
		c.cred = cred
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return fmt.Errorf("pgtest: chown %s: %w", dir, err)
		}
	}

	out, err := c.run("initdb", "-D", c.dataDir, "-U", "postgres", "--auth=trust",
		"--no-locale", "--encoding=UTF8", "--no-sync")
	if err != nil {
		return fmt.Errorf("pgtest: initdb: %w\n%s", err, out)
	}

	return nil
}

func (c *Cluster) start(opts Options) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	c.Port = port

	conf := settings(opts, port, c.dir)
	if err := os.WriteFile(filepath.Join(c.dataDir, "postgresql.auto.conf"), []byte(conf), 0o600); err != nil {
		return fmt.Errorf("pgtest: write settings: %w", err)
	}
	if c.cred != nil {
		if err := os.Chown(filepath.Join(c.dataDir, "postgresql.auto.conf"), int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return fmt.Errorf("pgtest: chown settings: %w", err)
		}
	}

	logFile := filepath.Join(c.dir, "postgresql.log")
	out, err := c.run("pg_ctl", "-D", c.dataDir, "-l", logFile, "-w", "-t", "60", "start")
	if err != nil {
		logText, _ := os.ReadFile(logFile)

		return fmt.Errorf("pgtest: pg_ctl start on port %d: %w\n%s\n%s", port, err, out, tail(logText, 4000))
	}

	c.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)

	return nil
}

func settings(opts Options, port int, socketDir string) string {
	s := map[string]string{
		"listen_addresses":        "'127.0.0.1'",
		"port":                    strconv.Itoa(port),
		"unix_socket_directories": "'" + socketDir + "'",
		"wal_level":               "logical",
		// Test databases are never dropped during a run, and neither are
		// their slots, so a package with many tests needs many slots.
		"max_replication_slots": "512",
		"max_wal_senders":       "128",
		"max_connections":       "200",
		"shared_buffers":        "128MB",
		"max_wal_size":          "2GB",
		"log_min_messages":      "warning",
		"logging_collector":     "off",
	}
	if !opts.Durable {
		s["fsync"] = "off"
		s["full_page_writes"] = "off"
	}
	for k, v := range opts.Settings {
		s[k] = v
	}

	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)

	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s = %s\n", k, s[k])
	}

	return b.String()
}

// Stop stops a throwaway cluster and removes its files. It does nothing for
// an external server.
func (c *Cluster) Stop() error {
	if c == nil || c.external {
		return nil
	}

	out, err := c.run("pg_ctl", "-D", c.dataDir, "-m", "fast", "-w", "-t", "30", "stop")
	if err != nil {
		out2, err2 := c.run("pg_ctl", "-D", c.dataDir, "-m", "immediate", "-w", "stop")
		if err2 != nil {
			return fmt.Errorf("pgtest: pg_ctl stop: %w\n%s\n%s", err, out, out2)
		}
	}
	c.removeDir()

	return nil
}

// Restart stops and starts a throwaway cluster on the same port, as a
// server restart in production would: replication connections drop and
// every session ends.
func (c *Cluster) Restart() error {
	if c.external {
		return errors.New("pgtest: cannot restart the external server from " + EnvDatabaseURL)
	}

	out, err := c.run("pg_ctl", "-D", c.dataDir, "-m", "fast", "-w", "-t", "60",
		"-l", filepath.Join(c.dir, "postgresql.log"), "restart")
	if err != nil {
		return fmt.Errorf("pgtest: pg_ctl restart: %w\n%s", err, out)
	}

	return nil
}

// External reports whether the cluster is the server named by
// BEMI_TEST_DATABASE_URL.
func (c *Cluster) External() bool { return c.external }

// Bin returns the path of a PostgreSQL program, such as "pgbench" or
// "pg_recvlogical", from the cluster's binary directory.
func (c *Cluster) Bin(name string) string {
	if c.binDir == "" {
		return name
	}

	return filepath.Join(c.binDir, name)
}

// DatabaseURL returns the URL of the named database on the cluster.
func (c *Cluster) DatabaseURL(name string) string {
	u, err := url.Parse(c.URL)
	if err != nil {
		return c.URL
	}
	u.Path = "/" + name

	return u.String()
}

// CreateDatabase creates an empty database and returns its URL.
func (c *Cluster) CreateDatabase(name string) (string, error) {
	if err := c.Exec(c.URL, "CREATE DATABASE "+quoteIdent(name)); err != nil {
		return "", err
	}

	return c.DatabaseURL(name), nil
}

// DropDatabase drops a database and the replication slots on it.
func (c *Cluster) DropDatabase(name string) error {
	err := c.Exec(c.URL, fmt.Sprintf(
		"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = %s",
		quoteLiteral(name)))
	if err != nil {
		return err
	}

	return c.Exec(c.URL, "DROP DATABASE IF EXISTS "+quoteIdent(name)+" WITH (FORCE)")
}

// Exec runs SQL with psql against the database at dbURL and returns an error
// with psql's output when it fails.
func (c *Cluster) Exec(dbURL, sql string) error {
	cmd := exec.Command(c.Bin("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dbURL, "-c", sql)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("pgtest: psql %q: %w\n%s", truncate(sql, 200), err, out)
	}

	return nil
}

// run runs a PostgreSQL program as the cluster's owner.
func (c *Cluster) run(name string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(c.binDir, name), args...)
	cmd.Dir = os.TempDir()
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	// pg_ctl start leaves the server running; do not let it hold our pipes.
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()

	return out.Bytes(), err
}

func (c *Cluster) removeDir() {
	if c.dir != "" {
		_ = os.RemoveAll(c.dir)
	}
}

func findBinDir(explicit string) (string, error) {
	candidates := []string{explicit, os.Getenv(EnvBinDir)}
	if p, err := exec.LookPath("initdb"); err == nil {
		// Debian links initdb into /usr/local/bin or /usr/bin; the other
		// programs (psql, pgbench, pg_recvlogical) sit next to the target.
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		candidates = append(candidates, filepath.Dir(p))
	}
	versions, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(versions, func(i, j int) bool { return versionOf(versions[i]) > versionOf(versions[j]) })
	candidates = append(candidates, versions...)

	return firstBinDir(candidates)
}

// firstBinDir returns the first directory that holds initdb and pg_ctl.
func firstBinDir(candidates []string) (string, error) {
	for _, dir := range candidates {
		if dir == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "pg_ctl")); err == nil {
				return dir, nil
			}
		}
	}

	return "", ErrNoBinaries
}

func versionOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))

	return v
}

func unprivilegedUser() (*syscall.Credential, error) {
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)

		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}

	return nil, errors.New("pgtest: running as root, and neither the postgres nor the nobody user exists to run PostgreSQL as: create one, or run the tests as an unprivileged user")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: find a free port: %w", err)
	}
	defer l.Close()

	return l.Addr().(*net.TCPAddr).Port, nil
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func quoteLiteral(s string) string { return `'` + strings.ReplaceAll(s, `'`, `''`) + `'` }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}

	return s[:n] + "..."
}

func tail(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}

	return string(b[len(b)-n:])
}
