package capture

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/bemi-go/bemi/capture/convert"
	"github.com/bemi-go/bemi/core"
)

// connectReplication opens a logical replication connection to the source
// with the pinned settings.
func connectReplication(ctx context.Context, url string) (*pgconn.PgConn, error) {
	cfg, err := pgconn.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	cfg.RuntimeParams["replication"] = "database"
	// The pinned settings make pgoutput's text for dates, intervals, floats,
	// bytea and money independent of server and role defaults.
	for k, v := range convert.SessionSettings() {
		cfg.RuntimeParams[k] = v
	}
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = "bemi capture"
	}

	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()

	return pgconn.ConnectConfig(ctx, cfg)
}

// session is one connection's worth of streaming: it reads the replication
// stream, stitches and stores changes, and confirms stored positions.
type session struct {
	w       *Worker
	log     *slog.Logger
	repl    *pgconn.PgConn
	catalog *pgx.Conn
	dest    *destination
	rels    *relations
	rows    rowBuilder

	database string

	// checkpoint is the stored position read at start: transactions that
	// commit at or below it were stored before and are skipped.
	checkpoint pglogrepl.LSN

	// confirmed is the highest position known to be safe to confirm to the
	// source: the end of the last stored transaction, or a keepalive's WAL
	// end received while nothing was waiting to be stored. reported is the
	// position last sent in a standby status update.
	confirmed pglogrepl.LSN
	reported  pglogrepl.LSN

	// serverWALEnd is the highest source WAL position seen, for
	// PositionMetrics, and walEndFailed is set after the first failure to
	// read it, so the warning is logged once per session.
	serverWALEnd pglogrepl.LSN
	walEndFailed bool

	nextStatus time.Time

	// readDeadline is the read deadline last set on the replication
	// connection. interrupted is set when a cancellation moved the deadline
	// to the past, so the next receive sets it again.
	readDeadline time.Time
	interrupted  atomic.Bool

	// txn is the source transaction being read, nil between transactions.
	txn      *sourceTxn
	stitcher core.Stitcher

	// storedRows counts rows committed since the last checkpoint log line.
	storedRows int
}

// sourceTxn is the state of the source transaction being read.
type sourceTxn struct {
	xid         uint32
	commitLSN   pglogrepl.LSN
	committedAt time.Time
	skip        bool
	ordinal     int32
}

// newSession returns a session that streams on repl and writes to dest
// through a writer goroutine. Call close when it ends.
func newSession(w *Worker, repl *pgconn.PgConn, catalog, dest *pgx.Conn, slot slotState, cp Checkpoint) *session {
	confirmed := max(slot.confirmedFlush, cp.EndLSN)

	s := &session{
		w:          w,
		log:        w.log,
		repl:       repl,
		catalog:    catalog,
		rels:       newRelations(catalog, w.registry, w.cfg.Columns),
		rows:       rowBuilder{registry: w.registry, onValueError: w.valueError},
		database:   slot.database,
		checkpoint: cp.CommitLSN,
		confirmed:  confirmed,
		reported:   confirmed,
	}
	s.dest = newDestination(dest, w.cfg.DestinationSchema, w.cfg, w.discard, s.interrupt, w.carefulThrough, w.log)

	return s
}

// errInterrupted ends a receive that was interrupted, so the loop looks at
// its timers, its context and the writer's results.
var errInterrupted = errors.New("receive interrupted")

// interrupt makes a receive in progress, or the next one, return
// errInterrupted. It is safe to call from any goroutine. The deadline is
// moved before the flag is set, so the receive that reads the flag resets the
// deadline after it.
func (s *session) interrupt() {
	_ = s.repl.Conn().SetReadDeadline(time.Now())
	s.interrupted.Store(true)
}

// run starts replication and processes messages until ctx is canceled (then
// drains and returns nil) or an error occurs.
func (s *session) run(ctx context.Context) (err error) {
	cfg := s.w.cfg
	args := []string{
		"proto_version '1'",
		"publication_names '" + escapeLiteral(cfg.Publication) + "'",
		"messages 'true'",
	}
	err = pglogrepl.StartReplication(ctx, s.repl, cfg.Slot, s.confirmed, pglogrepl.StartReplicationOptions{PluginArgs: args})
	if err != nil {
		return fmt.Errorf("start replication on slot %q at %s: %w", cfg.Slot, s.confirmed, err)
	}
	s.log.Info("replication started", "lsn", s.confirmed, "checkpoint", s.checkpoint, "database", s.database)
	s.nextStatus = time.Now().Add(cfg.StatusInterval)

	if sessions := s.w.sessions; sessions != nil {
		sessions.Connected(ConnectedEvent{Slot: cfg.Slot, Database: s.database, Start: s.confirmed})
		defer func() {
			sessions.Disconnected(DisconnectedEvent{Err: scrubError(err, cfg.SourceURL, cfg.DestinationURL)})
		}()
	}
	if s.w.positions != nil {
		s.readWALEnd(ctx)
		s.position()
	}

	// Stopping the writer rolls back what it has not committed.
	defer s.dest.close()

	// A cancellation interrupts a receive in progress.
	stopInterrupt := context.AfterFunc(ctx, s.interrupt)
	defer stopInterrupt()

	var stopDeadline time.Time
	for {
		if stopDeadline.IsZero() && ctx.Err() != nil {
			stopDeadline = time.Now().Add(cfg.DrainTimeout)
			s.log.Info("stopping", "lsn", s.confirmed, "transaction_in_progress", s.txn != nil)
		}
		stopping := !stopDeadline.IsZero()

		if stopping && s.txn == nil {
			return s.finish(ctx)
		}
		if stopping && time.Now().After(stopDeadline) {
			s.log.Warn("stopping without finishing the transaction in progress: it is read again after the next start",
				"xid", s.txn.xid, "lsn", s.txn.commitLSN, "drain_timeout", cfg.DrainTimeout)

			return s.finish(ctx)
		}

		if err := s.collect(); err != nil {
			return err
		}
		if err := s.tick(ctx); err != nil {
			return err
		}

		msg, err := s.receive(ctx, stopping, stopDeadline)
		if err != nil {
			if pgconn.Timeout(err) || errors.Is(err, errInterrupted) || (ctx.Err() != nil && !stopping) {
				continue
			}

			return fmt.Errorf("receive from slot %q: %w", cfg.Slot, err)
		}
		if err := s.handle(ctx, msg); err != nil {
			return err
		}
	}
}

// receive waits for the next message until the next timer is due.
//
// It sets the deadline on the connection itself and receives without a
// context: a context with a deadline per message costs a timer and a
// context watcher each time, which was most of the worker's CPU time in
// BenchmarkSameWAL. pgconn keeps a connection whose read timed out usable.
func (s *session) receive(ctx context.Context, stopping bool, stopDeadline time.Time) (pgproto3.BackendMessage, error) {
	// Pending transactions are committed only between source transactions,
	// so their deadline matters only there: inside a transaction an overdue
	// deadline would end every receive at once.
	deadline := s.nextStatus
	if d, ok := s.dest.deadline(); ok && s.txn == nil && d.Before(deadline) {
		deadline = d
	}
	if stopping && stopDeadline.Before(deadline) {
		deadline = stopDeadline
	}

	interrupted := s.interrupted.Swap(false)
	if interrupted || !deadline.Equal(s.readDeadline) {
		if err := s.repl.Conn().SetReadDeadline(deadline); err != nil {
			return nil, fmt.Errorf("set read deadline: %w", err)
		}
		s.readDeadline = deadline
	}
	if interrupted {
		return nil, errInterrupted
	}
	// A cancellation after this check interrupts the receive below.
	if !stopping && ctx.Err() != nil {
		return nil, ctx.Err()
	}

	return s.repl.ReceiveMessage(context.Background())
}

// tick commits due transactions between source transactions and sends the
// periodic status update.
func (s *session) tick(ctx context.Context) error {
	now := time.Now()
	if s.txn == nil && s.dest.due(now) {
		if err := s.commit(); err != nil {
			return err
		}
	}
	if !now.Before(s.nextStatus) {
		if s.w.positions != nil {
			s.readWALEnd(ctx)
		}
		if err := s.sendStatus(ctx); err != nil {
			return err
		}
	}

	return nil
}

func (s *session) handle(ctx context.Context, msg pgproto3.BackendMessage) error {
	switch msg := msg.(type) {
	case *pgproto3.CopyData:
		if len(msg.Data) == 0 {
			return errors.New("receive replication message: empty CopyData")
		}
		switch msg.Data[0] {
		case pglogrepl.PrimaryKeepaliveMessageByteID:
			return s.keepalive(ctx, msg.Data[1:])
		case pglogrepl.XLogDataByteID:
			xld, err := pglogrepl.ParseXLogData(msg.Data[1:])
			if err != nil {
				return fmt.Errorf("parse XLogData: %w", err)
			}

			return s.handleWAL(ctx, xld)
		}

		return nil
	case *pgproto3.ErrorResponse:
		return pgconn.ErrorResponseToPgError(msg)
	case *pgproto3.CopyDone:
		return errors.New("replication stream ended by the server")
	default:
		return fmt.Errorf("receive replication message: unexpected %T", msg)
	}
}

// keepalive handles a primary keepalive message. While nothing received is
// waiting to be stored, every transaction up to the server's WAL end has
// been stored or was not published, so that position is safe to confirm.
// This lets the slot advance while published tables are quiet and others
// are busy.
func (s *session) keepalive(ctx context.Context, data []byte) error {
	pkm, err := pglogrepl.ParsePrimaryKeepaliveMessage(data)
	if err != nil {
		return fmt.Errorf("parse keepalive: %w", err)
	}

	s.serverWALEnd = max(s.serverWALEnd, pkm.ServerWALEnd)
	if s.txn == nil && s.dest.empty() && pkm.ServerWALEnd > s.confirmed {
		s.confirmed = pkm.ServerWALEnd
	}
	if pkm.ReplyRequested || (s.dest.empty() && s.confirmed > s.reported) {
		return s.sendStatus(ctx)
	}
	s.position()

	return nil
}

// commit requests the writer to store the pending source transactions with
// their checkpoint. They are confirmed to the source when the writer
// reports the commit (collect).
func (s *session) commit() error {
	events, err := s.dest.commit()
	s.stored(events)

	return err
}

// collect applies the commits the writer has finished.
func (s *session) collect() error {
	events, err := s.dest.collect()
	s.stored(events)

	return err
}

// stored confirms the transactions of committed batches and reports them.
func (s *session) stored(events []FlushEvent) {
	for _, ev := range events {
		cp := ev.Checkpoint
		s.confirmed = max(s.confirmed, cp.EndLSN)
		s.storedRows += ev.Rows
		s.w.setCheckpoint(cp)
		s.w.metrics.Flush(ev)
		s.log.Debug("checkpoint stored", "lsn", cp.CommitLSN, "xid", cp.TransactionID, "rows", ev.Rows, "transactions", ev.Transactions)
	}
}

// sendStatus confirms the stored position to the source.
func (s *session) sendStatus(ctx context.Context) error {
	err := pglogrepl.SendStandbyStatusUpdate(ctx, s.repl, pglogrepl.StandbyStatusUpdate{
		WALWritePosition: s.confirmed,
		WALFlushPosition: s.confirmed,
		WALApplyPosition: s.confirmed,
	})
	// pgconn clears the connection's deadlines when a send is canceled, so
	// the next receive sets its deadline again.
	s.readDeadline = time.Time{}
	if err != nil {
		return fmt.Errorf("send standby status update at %s: %w", s.confirmed, err)
	}

	if s.confirmed > s.reported && time.Now().After(s.nextStatus) {
		cp, _ := s.w.Checkpoint()
		s.log.Info("position confirmed", "lsn", s.confirmed, "checkpoint", cp.CommitLSN, "xid", cp.TransactionID, "rows_stored", s.storedRows)
		s.storedRows = 0
	}
	s.reported = s.confirmed
	s.nextStatus = time.Now().Add(s.w.cfg.StatusInterval)
	s.position()

	return nil
}

// position reports the current positions to PositionMetrics.
func (s *session) position() {
	if s.w.positions == nil {
		return
	}

	s.w.positions.Position(PositionEvent{ServerWALEnd: s.serverWALEnd, Confirmed: s.confirmed, Time: time.Now()})
}

// readWALEnd reads the source's current WAL position on the catalog
// connection. The replication protocol does not carry it: keepalives and
// XLogData hold the walsender's decoding position. A failure only costs
// the lag gauge its update, so it is logged once per session and otherwise
// ignored.
func (s *session) readWALEnd(ctx context.Context) {
	// Like the relation lookups, the query runs without the caller's
	// cancellation: pgx closes a connection whose query is interrupted, and
	// a stopping worker still needs the catalog connection.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()

	var text string
	err := s.catalog.QueryRow(ctx,
		"SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text").Scan(&text)
	var lsn pglogrepl.LSN
	if err == nil {
		lsn, err = pglogrepl.ParseLSN(text)
	}
	if err != nil {
		if !s.walEndFailed {
			s.log.Warn("reading the source's WAL position for the lag metric failed", "error", err)
		}
		s.walEndFailed = true

		return
	}

	s.serverWALEnd = max(s.serverWALEnd, lsn)
}

// finish commits what is complete, confirms it, and ends the replication
// stream, so the source has the final position before the connection
// closes.
func (s *session) finish(ctx context.Context) error {
	if s.txn != nil {
		// Drop the unfinished transaction's rows: they were never confirmed,
		// so the source sends them again.
		if err := s.dest.rollback(); err != nil {
			return err
		}
		s.txn = nil
	}
	if err := s.commit(); err != nil {
		return err
	}
	events, err := s.dest.drain()
	s.stored(events)
	if err != nil {
		return err
	}

	// The receive loop leaves its own read deadline on the connection, which
	// may have passed already; the handshake below is bounded by sctx.
	if err := s.repl.Conn().SetReadDeadline(time.Time{}); err != nil {
		return fmt.Errorf("clear read deadline: %w", err)
	}
	s.readDeadline = time.Time{}

	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.sendStatus(sctx); err != nil {
		return err
	}
	if _, err := pglogrepl.SendStandbyCopyDone(sctx, s.repl); err != nil {
		// The status update was sent before, so the position is confirmed
		// unless the connection failed.
		s.log.Warn("ending the replication stream failed", "lsn", s.confirmed, "error", err)
	}
	s.log.Info("replication stopped", "lsn", s.confirmed)

	return nil
}

func escapeLiteral(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			out = append(out, '\'')
		}
		out = append(out, s[i])
	}

	return string(out)
}
