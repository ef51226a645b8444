// Package pgtest starts a throwaway PostgreSQL cluster with wal_level=logical
// for tests, benchmarks and demos, like net/http/httptest does for HTTP
// servers.
//
// Start runs initdb and pg_ctl from the local PostgreSQL binaries in a
// temporary directory, on a free loopback port, and Stop removes it again.
// PostgreSQL refuses to run as root, so when the process runs as root the
// cluster runs as the "postgres" system user (or "nobody" when that user does
// not exist). The binaries are looked up in $BEMI_PG_BIN, then next to initdb
// on $PATH, then in the newest /usr/lib/postgresql/<version>/bin.
//
// When BEMI_TEST_DATABASE_URL is set, no cluster is started: databases are
// created on that server instead, which must have wal_level=logical and let
// the user create databases and replication slots.
//
// In tests, share one cluster per package:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }
//
//	func TestSomething(t *testing.T) {
//		url := pgtest.NewDatabase(t) // a fresh, empty database
//		...
//	}
package pgtest
