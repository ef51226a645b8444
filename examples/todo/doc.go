// Command todo is a small REST service over a todo table whose every change
// is tracked by Bemi. The capture worker stores each INSERT, UPDATE and
// DELETE in the changes table, together with the user who made it, the route
// pattern of the endpoint and the request parameters.
//
// # Running the demo
//
// From the repository root, on a machine with Go and the PostgreSQL server
// binaries (Debian: apt-get install postgresql):
//
//	make demo                  # or: cd examples/todo && go run . demo
//
// The demo starts a throwaway PostgreSQL cluster (or uses $DATABASE_URL when
// set), starts the service with its capture worker on a free loopback port,
// plays the scenario of the Bemi README over HTTP, prints the changes table,
// and then checks that a pgbench run (direct SQL, no application context)
// is captured row for row. It exits with status 0 when every check holds.
// Flags: --store, --router, --slot, --no-worker, --skip-pgbench,
// --pgbench PATH, --pgbench-duration (default 5s), --pgbench-clients
// (default 2), --timeout, --log-level.
//
// # Running the service
//
//	DATABASE_URL=postgres://postgres@127.0.0.1:5432/app go run . serve --port 8080
//
// serve creates the todo table when it is missing, runs Bemi setup (which
// needs wal_level=logical and a role that may create a replication slot),
// starts the capture worker in a goroutine and listens on 127.0.0.1. The
// API:
//
//	POST   /todo                {"task": "Sleep"}   create a todo (201)
//	GET    /todo                                    list todos (200)
//	PUT    /todo/{id}/complete                      complete a todo (200, 404)
//	DELETE /todo/{id}                               delete a todo (204, 404)
//
// The X-User-ID request header names the user: a decimal integer is stored
// as a JSON number, anything else as a string, and without the header the
// context has no userId. A real service takes the user from its
// authentication instead. The context of each write is
//
//	{"userId": 187234, "method": "PUT", "endpoint": "/todo/{id}/complete", "params": {"id": "1"}}
//
// where endpoint is the route pattern (gin writes it "/todo/:id/complete")
// and params is the JSON request body or, without one, the URL parameters.
//
// Flags of serve: --database-url (default $DATABASE_URL), --port (default
// 8080), --store, --router (chi or gin, default chi), --slot (default bemi),
// --no-setup, --no-worker, --log-level.
//
// # Running the worker separately
//
// With --no-worker the service runs no capture worker. Run the bemi command
// on the same database instead, from the repository root:
//
//	go run ./capture/cmd/bemi capture --database-url "$DATABASE_URL"
//
// With --no-setup the service skips Bemi setup as well: run
// go run ./capture/cmd/bemi setup after the service has created the table.
//
// # Stores and routers
//
// --store picks the data layer: gorm (GORM with the gormbemi plugin, the
// default), ent (an ent client with the entbemi driver), sqlc
// (sqlc-generated queries on a pgx pool wrapped by pgxbemi), or manual (pgx,
// sending the context through a transaction-local setting in a pgx batch
// with each write, as the adapters do).
// --router picks chi (middleware/chi) or gin (middleware/gin).
//
// # Limits
//
// The service listens on 127.0.0.1 only and has no authentication: the
// X-User-ID header is trusted as it comes. Replication slot names are unique
// per PostgreSQL server, so two databases of one server need two --slot
// values.
package main
