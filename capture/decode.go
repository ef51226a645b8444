package capture

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/bemi-go/bemi/core"
)

// handleWAL decodes one pgoutput message and feeds it to the stitcher and
// the destination.
func (s *session) handleWAL(ctx context.Context, xld pglogrepl.XLogData) error {
	msg, err := pglogrepl.Parse(xld.WALData)
	if err != nil {
		return fmt.Errorf("parse pgoutput message at %s: %w", xld.WALStart, err)
	}

	// A stop must not interrupt a write half-way: the destination and the
	// catalog lookups bound their own time instead.
	wctx := context.WithoutCancel(ctx)

	switch m := msg.(type) {
	case *pglogrepl.RelationMessage:
		rel, err := s.rels.update(wctx, m)
		if err != nil {
			return err
		}
		if s.isOwnTable(rel) {
			// Storing these changes would write new changes in turn.
			rel.own = true
			s.log.Warn("publication includes the worker's own table: its changes are ignored; remove it from the publication",
				"table", rel.schema+"."+rel.table, "lsn", xld.WALStart)
		}
	case *pglogrepl.BeginMessage:
		s.begin(m)
	case *pglogrepl.CommitMessage:
		return s.commitSource(wctx, m)
	case *pglogrepl.LogicalDecodingMessage:
		s.message(m)
	case *pglogrepl.InsertMessage:
		return s.change(m.RelationID, core.OperationCreate, nil, m.Tuple, false)
	case *pglogrepl.UpdateMessage:
		return s.change(m.RelationID, core.OperationUpdate, m.OldTuple, m.NewTuple, m.OldTupleType == pglogrepl.UpdateMessageTupleTypeKey)
	case *pglogrepl.DeleteMessage:
		return s.change(m.RelationID, core.OperationDelete, m.OldTuple, nil, m.OldTupleType == pglogrepl.DeleteMessageTupleTypeKey)
	case *pglogrepl.TruncateMessage:
		for _, id := range m.RelationIDs {
			if err := s.change(id, core.OperationTruncate, nil, nil, false); err != nil {
				return err
			}
		}
	}
	// Type messages are not needed: Relation messages load column types
	// from the catalog. Origin messages name the origin of replicated
	// transactions, which the changes table does not record.

	return nil
}

func (s *session) begin(m *pglogrepl.BeginMessage) {
	s.txn = &sourceTxn{
		xid:         m.Xid,
		commitLSN:   m.FinalLSN,
		committedAt: m.CommitTime,
		skip:        m.FinalLSN <= s.checkpoint,
	}
	s.stitcher.Begin()
	if s.txn.skip {
		s.log.Debug("skipping transaction stored before", "xid", m.Xid, "lsn", m.FinalLSN)
	}
}

// message applies a logical decoding message to the stitcher.
// Non-transactional messages arrive outside transactions and are ignored, as
// are other prefixes.
func (s *session) message(m *pglogrepl.LogicalDecodingMessage) {
	if s.txn == nil || !m.Transactional || m.Prefix != core.MessagePrefix {
		return
	}

	// The content points into the connection's read buffer, which the next
	// receive overwrites.
	content := bytes.Clone(m.Content)
	if s.stitcher.Message(m.Prefix, m.Transactional, content) == core.MessageInvalid {
		reason := s.stitcher.InvalidReason()
		s.w.warnings.warn(s.log, "invalid context: "+reason.Error(),
			"context message cannot be stored as jsonb: kept as text under "+core.InvalidContextKey,
			"reason", reason, "xid", s.txn.xid, "lsn", m.LSN, "size", len(content))
		if s.w.invalid != nil {
			s.w.invalid.InvalidContext(InvalidContextEvent{TransactionID: s.txn.xid, LSN: m.LSN, Size: len(content), Reason: reason})
		}
	}
}

// change builds one change row and adds it to the destination.
func (s *session) change(relID uint32, op core.Operation, oldTuple, newTuple *pglogrepl.TupleData, oldKeyOnly bool) error {
	if s.txn == nil {
		return fmt.Errorf("decode %s: change outside a transaction", op)
	}
	if s.txn.skip {
		return nil
	}

	rel, err := s.rels.get(relID)
	if err != nil {
		return err
	}
	if rel.own {
		return nil
	}

	before, err := s.rows.object(rel, oldTuple, nil, oldKeyOnly)
	if err != nil {
		return err
	}
	after, err := s.rows.object(rel, newTuple, oldTuple, false)
	if err != nil {
		return err
	}

	var key *string
	switch op {
	case core.OperationTruncate:
	case core.OperationDelete:
		key, err = primaryKey(rel, oldTuple, nil)
	default:
		key, err = primaryKey(rel, newTuple, oldTuple)
	}
	if err != nil {
		return err
	}

	stitched := s.stitcher.Context()
	row := []any{
		changeID(s.database, uint64(s.txn.commitLSN), s.txn.ordinal, s.txn.committedAt),
		s.database, rel.schema, rel.table, key, string(op),
		before, after, []byte(stitched),
		s.txn.committedAt, time.Now(), int64(s.txn.xid), int64(s.txn.commitLSN), s.txn.ordinal,
	}
	s.txn.ordinal++

	hasContext := !bytes.Equal(stitched, emptyObject)
	s.w.metrics.Change(ChangeEvent{Schema: rel.schema, Table: rel.table, Operation: op, HasContext: hasContext})

	if err := s.dest.add(row, len(before)+len(after)+len(stitched), op, hasContext); err != nil {
		return fmt.Errorf("store transaction %d committed at %s: %w", s.txn.xid, s.txn.commitLSN, err)
	}

	return nil
}

// isOwnTable reports whether rel is a table the worker writes, when the
// destination is the source database.
func (s *session) isOwnTable(rel *relation) bool {
	if s.w.cfg.DestinationURL != s.w.cfg.SourceURL {
		return false
	}

	return rel.schema == MetadataSchema || (rel.schema == s.w.cfg.DestinationSchema && rel.table == "changes")
}

// commitSource ends the source transaction. Its rows are all added, so the
// destination may commit from here on.
func (s *session) commitSource(ctx context.Context, m *pglogrepl.CommitMessage) error {
	txn := s.txn
	s.txn = nil
	if txn == nil {
		return fmt.Errorf("decode commit at %s: no transaction in progress", m.CommitLSN)
	}

	if txn.skip || (txn.ordinal == 0 && s.dest.empty()) {
		// Nothing to store: the position is confirmed like an idle one.
		s.confirmed = max(s.confirmed, m.TransactionEndLSN)

		return nil
	}

	s.dest.sourceCommitted(Checkpoint{
		Slot:          s.w.cfg.Slot,
		Database:      s.database,
		CommitLSN:     m.CommitLSN,
		EndLSN:        m.TransactionEndLSN,
		TransactionID: txn.xid,
		CommittedAt:   m.CommitTime,
	}, time.Now())

	if s.dest.due(time.Now()) {
		return s.commit()
	}

	return nil
}
