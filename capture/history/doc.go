// Package history reads back what the capture worker stored: audit queries
// over the changes table, the state of a record or a table as of a time,
// and reverts of a set of changes in the source database.
//
// # Audit queries
//
// A Reader reads the changes table of a destination database. Give it a
// *pgxpool.Pool to share it between goroutines:
//
//	pool, err := pgxpool.New(ctx, os.Getenv("BEMI_DESTINATION_URL"))
//	if err != nil {
//		return err
//	}
//	reader := history.NewReader(pool, history.Config{})
//
//	// The newest 50 changes of one record.
//	page, err := reader.Changes(ctx, history.Query{
//		Filter: history.Filter{Table: "todos", PrimaryKeys: []string{"26"}},
//		Order:  history.Descending,
//	})
//
//	// Everything user 187234 changed, page by page.
//	q := history.Query{Filter: history.Filter{Context: core.Fields{"userId": 187234}}}
//	for {
//		page, err := reader.Changes(ctx, q)
//		if err != nil {
//			return err
//		}
//		for _, c := range page.Changes {
//			diff, _ := history.Diff(c) // the changed columns of an UPDATE
//			...
//		}
//		if page.Next == "" {
//			break
//		}
//		q.After = page.Next
//	}
//
// Filters cover the table, primary keys, operations, a commit time range, a
// transaction (by commit LSN or xid) and context containment with jsonb's
// @> operator. Pages are ordered by commit time, commit LSN and ordinal, and
// paged by keyset: a cursor names the last change of a page, so new changes
// never shift a page and no change is returned twice. Results are
// core.Change values.
//
// # Time travel
//
// RecordAsOf returns one record as it was at a time, and TableAsOf a whole
// table, keyed by primary_key text. Both start from the newest snapshot
// taken at or before the time, if any, and apply the changes after it.
// TakeSnapshot (bemi snapshot) stores the current rows of the tracked tables
// in the destination, read on a snapshot exported by a temporary replication
// slot, so they match one replication position exactly. Take one right
// after bemi setup.
//
// The result is never a guess. Without a snapshot, a record's state is known
// from its last change at or before the time, and before its first change
// only when that change is a CREATE. A whole table always needs a snapshot,
// because rows that never changed are in no change. Otherwise the call
// returns a *HistoryError that names what is missing. A TRUNCATE empties
// the table, and an UPDATE that changed a primary key moves the row to its
// new key. Tables without a primary key return a *NoPrimaryKeyError.
//
// # Revert
//
// Revert undoes a set of changes selected by a Filter (one transaction, one
// request's context, one user's changes in a time range) in one source
// transaction that applies the inverse operations newest first:
//
//	ctx = core.With(ctx, core.Fields{"userId": admin.ID})
//	result, err := history.Revert(ctx, sourceConn, reader,
//		history.Filter{Context: core.Fields{"requestId": "c0ffee"}},
//		history.RevertOptions{By: admin.Email})
//	var conflicts *history.ConflictError
//	if errors.As(err, &conflicts) {
//		// rows changed since: show conflicts.Conflicts, or retry with Force
//	}
//
// Before writing, Revert locks each row and compares it with the state the
// changes left it in. The current row is read with the capture worker's
// session settings and converted by the same convert.Registry, so a value
// that the conversion writes differently from PostgreSQL (a float's digits,
// a timestamp's form) never looks like a change. A row changed since, or
// changed by another change between the ones being reverted, is a conflict;
// RevertOptions.Force reverts anyway. DryRun returns the statements without
// running them. Values travel as parameters and are turned back into column
// values by jsonb_populate_record, so no value can change the SQL.
//
// The revert sets the transaction-local setting bemi.context to the fields
// of ctx plus {"bemiRevert": {"filter": ..., "changes": N, "transactions":
// [...], "by": ...}}, so the capture worker records it like any change and
// it can be found, and reverted, in turn.
//
// Columns that the changes do not hold cannot be written back. Generated
// columns are recomputed by PostgreSQL. Masked and excluded columns (pass
// the worker's rules as RevertOptions.Columns) keep their current values in
// an UPDATE, with a warning; a deleted row that lacks them is inserted again
// only with RevertOptions.FillMissingColumns, and they then take their
// defaults. Without the rules, a value stored as capture.MaskedValue is
// rejected instead of written back.
//
// # Reading the table from GORM and ent
//
// The changes table is a plain table, so ORMs can read it too. With GORM,
// a model such as this one maps it (jsonb columns scan into
// json.RawMessage):
//
//	type Change struct {
//		ID            string `gorm:"primaryKey"`
//		Database      string
//		Schema        string
//		Table         string `gorm:"column:table"`
//		PrimaryKey    *string
//		Operation     string
//		Before        json.RawMessage `gorm:"type:jsonb"`
//		After         json.RawMessage `gorm:"type:jsonb"`
//		Context       json.RawMessage `gorm:"type:jsonb"`
//		CommittedAt   time.Time
//		QueuedAt      time.Time
//		CreatedAt     time.Time
//		TransactionID int64
//		Position      int64
//		Ordinal       int32
//	}
//
//	func (Change) TableName() string { return "changes" }
//
//	var changes []Change
//	err := db.Where(`"table" = ? AND primary_key = ?`, "todos", "26").
//		Where("context @> ?::jsonb", `{"userId": 187234}`).
//		Order("committed_at DESC, position DESC, ordinal DESC").
//		Limit(50).Find(&changes).Error
//
// With ent, a read-only schema maps it; the source table and schema columns
// get other Go names so they do not collide with ent's generated names:
//
//	type Change struct{ ent.Schema }
//
//	func (Change) Annotations() []schema.Annotation {
//		return []schema.Annotation{entsql.Annotation{Table: "changes"}}
//	}
//
//	func (Change) Fields() []ent.Field {
//		jsonb := map[string]string{dialect.Postgres: "jsonb"}
//		return []ent.Field{
//			field.UUID("id", uuid.UUID{}),
//			field.String("database"),
//			field.String("source_schema").StorageKey("schema"),
//			field.String("source_table").StorageKey("table"),
//			field.String("primary_key").Optional().Nillable(),
//			field.Enum("operation").Values("CREATE", "UPDATE", "DELETE", "TRUNCATE"),
//			field.JSON("before", json.RawMessage{}).SchemaType(jsonb),
//			field.JSON("after", json.RawMessage{}).SchemaType(jsonb),
//			field.JSON("context", json.RawMessage{}).SchemaType(jsonb),
//			field.Time("committed_at"),
//			field.Time("queued_at"),
//			field.Time("created_at"),
//			field.Int64("transaction_id"),
//			field.Int64("position"),
//			field.Int32("ordinal"),
//		}
//	}
//
// and a context filter is a raw predicate:
//
//	client.Change.Query().Where(func(s *sql.Selector) {
//		s.Where(sql.P(func(b *sql.Builder) {
//			b.Ident(s.C("context")).WriteString(" @> ").Arg(`{"userId": 187234}`).WriteString("::jsonb")
//		}))
//	})
//
// These two snippets are not compiled by this module, which depends on
// neither GORM nor ent. Keyset paging, as-of and revert are only in this
// package.
//
// # Limits
//
//   - TableAsOf holds the table's rows in memory.
//   - Snapshots store rows in the destination's schema bemi, in full; old
//     ones stay until deleted by hand (DELETE FROM bemi.snapshots WHERE id =
//     ..., which cascades).
//   - TakeSnapshot must run after the worker's slot exists, or the changes
//     between them are missing from the history. It applies the column
//     rules passed in SnapshotConfig.Columns, which must match the worker's.
//   - Two transactions that commit at the same moment can store commit
//     times a few microseconds out of commit LSN order, so a page read by
//     commit time while such a pair arrives can miss the later-stored one.
//   - An UPDATE that changed a primary key is found by the row's old content.
//     When a column was added to the table in between, the old content no
//     longer matches and RecordAsOf still reports the old key.
//   - Revert cannot undo a TRUNCATE, whose rows the changes do not hold, nor
//     the changes of tables without a primary key, nor changes of another
//     source database than the connection's.
package history
