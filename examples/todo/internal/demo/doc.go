// Package demo is the todo service's demo: the Bemi README's scenario over
// HTTP, the captured changes printed as a table, and a pgbench run whose
// every row change must be captured.
//
//	err := demo.Run(ctx, demo.Config{}, os.Stdout, logger)
//
// The zero Config starts a throwaway PostgreSQL cluster with pgtest; set
// Config.DatabaseURL to use an existing database (with wal_level=logical).
//
// # The pgbench check
//
// pgbench -i creates its four tables before Bemi setup runs, so their
// initial rows are not captured. After the scenario, pgbench runs its
// built-in TPC-B-like script: it truncates pgbench_history, then each
// transaction updates one row each of pgbench_accounts, pgbench_tellers and
// pgbench_branches and inserts one row into pgbench_history. The demo counts
// the transactions twice (pgbench's report and the rows of pgbench_history),
// then commits a marker UPDATE with a context of its own. The worker stores
// transactions in commit order, so once the marker is in the changes table,
// so is the whole run. The changes between the run's start and the marker
// must then be exactly one UPDATE per transaction on each of the three
// tables, one CREATE per transaction on pgbench_history and the TRUNCATE,
// all with the empty context {}.
//
// On an existing database that already has the pgbench tables, they are
// reused as they are.
package demo
