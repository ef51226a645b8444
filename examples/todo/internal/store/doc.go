// Package store is the todo service's data layer: the Store interface over
// the todo table (id, task, is_completed) and one implementation per way of
// sending Bemi context to PostgreSQL.
//
// Every implementation writes the same rows with the same context, so the
// changes table looks the same whichever store made the changes (ids and
// times aside). Open picks one by name:
//
//	s, err := store.Open(ctx, store.Default(), os.Getenv("DATABASE_URL"))
//	if err != nil {
//		return err
//	}
//	defer s.Close()
//	todo, err := s.Create(core.With(ctx, core.Fields{"userId": 1}), "Sleep")
//
// Names lists the stores that this build offers:
//
//   - ent: an ent client (generated into package ent from ent/schema) whose
//     driver is wrapped by entbemi.
//   - manual: pgx without an adapter, sending the context itself through a
//     pgx batch (see OpenManual).
//
// The stores built on the Bemi adapters for GORM and sqlc join the list
// when those adapters become available.
//
// Migrate creates the table. It must run before Bemi setup, so that setup
// tracks the table.
package store
