package setup

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/bemi-go/bemi/core/pgtest"
	"github.com/jackc/pgx/v5"
)

// newRole creates a login role with the given attributes, named after the
// test database because roles are shared by the whole cluster, and drops it
// at cleanup.
func newRole(t *testing.T, admin *pgx.Conn, dbURL, attributes string) string {
	t.Helper()

	role := "r_" + databaseName(t, dbURL)
	mustExec(t, admin, "CREATE ROLE "+quoteIdent(role)+" LOGIN "+attributes)
	t.Cleanup(func() {
		ctx := context.Background()
		_, _ = admin.Exec(ctx, "DROP OWNED BY "+quoteIdent(role))
		_, _ = admin.Exec(ctx, "DROP ROLE "+quoteIdent(role))
	})

	return role
}

func TestPreflightWALLevelReplica(t *testing.T) {
	t.Parallel()
	c, err := pgtest.Start(pgtest.Options{Settings: map[string]string{"wal_level": "replica"}, IgnoreEnv: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Log(err)
		}
	})
	conn := connect(t, c.URL)

	_, err = Run(context.Background(), conn, Config{})
	var walErr *WALLevelError
	if !errors.As(err, &walErr) {
		t.Fatalf("err = %v, want *WALLevelError", err)
	}
	if walErr.Level != "replica" {
		t.Errorf("Level = %q, want replica", walErr.Level)
	}
	if !strings.Contains(err.Error(), "ALTER SYSTEM SET wal_level = logical") || !strings.Contains(err.Error(), "restart") {
		t.Errorf("error %q does not say how to fix it", err)
	}
	if queryBool(t, conn, "SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = 'bemi')") {
		t.Error("a failed preflight installed schema bemi")
	}
}

func TestPreflightVersion(t *testing.T) {
	t.Parallel()
	s := server{version: 130011, versionText: "13.11", walLevel: "logical", superuser: true}
	err := s.preflight(resolved{})
	var versionErr *VersionError
	if !errors.As(err, &versionErr) {
		t.Fatalf("err = %v, want *VersionError", err)
	}
	if !strings.Contains(err.Error(), "PostgreSQL 13.11") || !strings.Contains(err.Error(), "14 or newer") {
		t.Errorf("error %q does not name the version and the minimum", err)
	}

	s.version, s.versionText = 140000, "14.0"
	if err := s.preflight(resolved{}); err != nil {
		t.Errorf("PostgreSQL 14.0: err = %v, want nil", err)
	}
}

func TestPreflightMissingReplication(t *testing.T) {
	t.Parallel()
	dbURL, admin := newDatabase(t, "")
	role := newRole(t, admin, dbURL, "")
	mustExec(t, admin, "GRANT CREATE ON DATABASE "+quoteIdent(databaseName(t, dbURL))+" TO "+quoteIdent(role))
	mustExec(t, admin, "GRANT CREATE ON SCHEMA public TO "+quoteIdent(role))
	mustExec(t, admin, "CREATE TABLE todos (id int PRIMARY KEY); ALTER TABLE todos OWNER TO "+quoteIdent(role))
	conn := connect(t, withUser(t, dbURL, role))
	cfg := testConfig(t, dbURL)

	_, err := Run(context.Background(), conn, cfg)
	var replErr *ReplicationError
	if !errors.As(err, &replErr) {
		t.Fatalf("err = %v, want *ReplicationError", err)
	}
	if replErr.Role != role || !strings.Contains(err.Error(), "ALTER ROLE "+role+" REPLICATION") {
		t.Errorf("error %q does not name the role and the fix", err)
	}

	// Without the slot, the table owner can set up everything but the event
	// trigger, and gets a warning about it.
	cfg.SkipSlot = true
	report := mustRun(t, conn, cfg)
	if len(report.Warnings) != 1 || !strings.Contains(report.Warnings[0], "not a superuser") ||
		!strings.Contains(report.Warnings[0], "bemi setup runs again") {
		t.Errorf("warnings = %q, want one about the missing event trigger and the refresh command", report.Warnings)
	}
	assertTracked(t, admin, "todos")

	// New tables are tracked when setup runs again.
	mustExec(t, conn, "CREATE TABLE later (id int)")
	assertUntracked(t, admin, "later")
	again := mustRun(t, conn, cfg)
	if again.NothingToDo() {
		t.Error("refresh run reports nothing to do after a new table")
	}
	assertTracked(t, admin, "later")
}

func TestPreflightNotOwner(t *testing.T) {
	t.Parallel()
	dbURL, admin := newDatabase(t, `
CREATE SCHEMA app;
CREATE TABLE public.mine (id int);
CREATE TABLE public.theirs (id int);
CREATE TABLE app."Theirs Too" (id int);
`)
	role := newRole(t, admin, dbURL, "REPLICATION")
	mustExec(t, admin, "GRANT CREATE ON DATABASE "+quoteIdent(databaseName(t, dbURL))+" TO "+quoteIdent(role))
	mustExec(t, admin, "ALTER TABLE public.mine OWNER TO "+quoteIdent(role))
	conn := connect(t, withUser(t, dbURL, role))
	cfg := testConfig(t, dbURL)

	_, err := Run(context.Background(), conn, cfg)
	var ownErr *OwnershipError
	if !errors.As(err, &ownErr) {
		t.Fatalf("err = %v, want *OwnershipError", err)
	}
	if want := []string{`app."Theirs Too"`, "public.theirs"}; strings.Join(ownErr.Tables, ",") != strings.Join(want, ",") {
		t.Errorf("Tables = %q, want %q", ownErr.Tables, want)
	}
	if !strings.Contains(err.Error(), "exclude them") {
		t.Errorf("error %q does not offer excluding the tables", err)
	}
	if queryBool(t, admin, "SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = 'bemi')") {
		t.Error("a failed ownership check left schema bemi behind")
	}
	if queryBool(t, admin, "SELECT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = $1)", cfg.Slot) {
		t.Error("a failed ownership check created the slot")
	}

	cfg.ExcludeTables = []string{"public.theirs", "app.*"}
	mustRun(t, conn, cfg)
	assertTracked(t, admin, "public.mine")
}

func TestPreflightNoCreatePrivilege(t *testing.T) {
	t.Parallel()
	dbURL, admin := newDatabase(t, "")
	role := newRole(t, admin, dbURL, "REPLICATION")
	conn := connect(t, withUser(t, dbURL, role))

	_, err := Run(context.Background(), conn, testConfig(t, dbURL))
	var createErr *CreatePrivilegeError
	if !errors.As(err, &createErr) {
		t.Fatalf("err = %v, want *CreatePrivilegeError", err)
	}
	db := databaseName(t, dbURL)
	if createErr.Role != role || createErr.Database != db {
		t.Errorf("CreatePrivilegeError = %+v, want role %s and database %s", createErr, role, db)
	}
	if !strings.Contains(err.Error(), "GRANT CREATE ON DATABASE "+db+" TO "+role) {
		t.Errorf("error %q does not give the GRANT to run", err)
	}
}

// A role without REPLICATION writes to a tracked table: the trigger runs as
// that role, so pg_logical_emit_message must need no privilege.
func TestCaptureUnprivilegedWriter(t *testing.T) {
	t.Parallel()
	dbURL, admin := newDatabase(t, todosSchema)
	cfg := testConfig(t, dbURL)
	cfg.SkipSlot = true
	mustRun(t, admin, cfg)
	wal := startWAL(t, dbURL)

	role := newRole(t, admin, dbURL, "")
	mustExec(t, admin, "GRANT INSERT, UPDATE ON todos TO "+quoteIdent(role))
	conn := connect(t, withUser(t, dbURL, role))
	mustExec(t, conn, `INSERT INTO todos (id, title) VALUES (1, 'a') /*Bemi {"user":"app"} Bemi*/`)
	mustExec(t, conn, `BEGIN; SELECT set_config('bemi.context', '{"user":"app"}', true);
UPDATE todos SET done = true; COMMIT;`)

	assertTransactions(t, wal.transactions(t), [][]string{
		{`msg {"user":"app"}`, "INSERT public.todos"},
		{`msg {"user":"app"}`, "UPDATE public.todos"},
	})
}
