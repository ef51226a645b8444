package entbemi

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/bemi-go/bemi/internal/pgxsql"
)

// pipelineStep is one statement of a pipeline, encoded for pgconn.
type pipelineStep struct {
	sql string
	// args are the arguments as the caller passed them, for a tracer.
	args []any

	paramValues   [][]byte
	paramOIDs     []uint32
	paramFormats  []int16
	resultFormats []int16

	// session is set for the SET and RESET statements of entsql.WithVar,
	// whose text holds the variable's value and so changes per request.
	session bool
	// named is set when the step runs as a named prepared statement, and
	// prepare when the pipeline prepares it first.
	named   bool
	prepare bool
}

// invalidStatementName is the SQLSTATE of a reference to a prepared
// statement that does not exist (invalid_sql_statement_name).
const invalidStatementName = "26000"

// queryPipeline sends the statement described by sd in one pgconn
// pipeline, with the statements that sendBatch puts around it, and reads
// its rows. Like a batch, the pipeline is one round trip and, outside a
// transaction, one implicit transaction, so a statement that fails
// commits nothing.
//
// A pgx batch cannot choose result formats, but a pipeline can. So the
// statement requests the result formats of the pgx stdlib driver
// (pgxsql.StdlibResultFormats), and pgxsql.ReadResult converts the values
// as the driver does. The arguments are encoded as pgx encodes them for
// sd.
//
// In pgx's cache_statement mode, set_config and the statement run as
// named prepared statements, which the pipeline prepares the first time
// it needs them on the connection and which connState bounds. In the
// other modes they run as the unnamed statement, as pgx sends statements
// in its cache_describe mode, so the server parses them on every run and
// no prepared statement is left behind.
//
// pgx's tracer, when it is a pgx.BatchTracer, traces the pipeline's
// statements as one batch.
func queryPipeline(ctx context.Context, pc *pgx.Conn, vars *sessionVars, payload []byte, sd *pgconn.StatementDescription, args []any) (*pgxsql.Rows, error) {
	rows, err := sendPipeline(ctx, pc, vars, payload, sd, args)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == invalidStatementName && stateOf(pc).prepared != nil &&
		pc.PgConn().TxStatus() == 'I' {
		// A named statement was deallocated behind the record, as by
		// DEALLOCATE ALL or DISCARD ALL on the connection. Outside a
		// transaction block the pipeline's implicit transaction rolled
		// back, and the record has forgotten its statements, so a second
		// try prepares them. In a transaction block the error has
		// aborted the transaction, so it is returned.
		rows, err = sendPipeline(ctx, pc, vars, payload, sd, args)
	}

	return rows, err
}

// sendPipeline sends and reads one pipeline for queryPipeline.
func sendPipeline(ctx context.Context, pc *pgx.Conn, vars *sessionVars, payload []byte, sd *pgconn.StatementDescription, args []any) (*pgxsql.Rows, error) {
	if len(sd.ParamOIDs) != len(args) {
		// The message of pgx's Query for the same mistake.
		return nil, fmt.Errorf("expected %d arguments, got %d", len(sd.ParamOIDs), len(args))
	}
	m := pc.TypeMap()
	var eqb pgx.ExtendedQueryBuilder
	if err := eqb.Build(m, sd, args); err != nil {
		return nil, err
	}

	steps, statement := pipelineSteps(vars, payload, sd, args, &eqb)
	state := stateOf(pc)
	prepared, tracer := state.prepared, state.tracer
	var evicted []string
	if prepared != nil {
		evicted = planNamed(prepared, steps)
	}

	if tracer != nil {
		b := &pgx.Batch{}
		for _, s := range steps {
			b.Queue(s.sql, s.args...)
		}
		ctx = tracer.TraceBatchStart(ctx, pc, pgx.TraceBatchStartData{Batch: b})
	}

	p := pc.PgConn().StartPipeline(ctx)
	sendSteps(p, evicted, steps)

	var rows *pgxsql.Rows
	err := p.Sync()
	for range evicted {
		if err == nil {
			err = readResult[*pgconn.CloseComplete](p)
		}
	}
	for i := 0; err == nil && i < len(steps); i++ {
		if steps[i].prepare {
			err = readResult[*pgconn.CloseComplete](p)
			if err == nil {
				err = readResult[*pgconn.StatementDescription](p)
			}
			if err != nil {
				break
			}
		}

		tag, stepRows, stepErr := readStep(p, m, i == statement)
		if i == statement {
			rows = stepRows
		}
		err = stepErr
		if tracer != nil {
			tracer.TraceBatchQuery(ctx, pc, pgx.TraceBatchQueryData{SQL: steps[i].sql, Args: steps[i].args, CommandTag: tag, Err: err})
		}
	}
	if err == nil {
		err = readResult[*pgconn.PipelineSync](p)
	}
	// Close reads what an error left unread, up to the end of the
	// pipeline.
	if closeErr := p.Close(); err == nil {
		err = closeErr
	}
	if tracer != nil {
		tracer.TraceBatchEnd(ctx, pc, pgx.TraceBatchEndData{Err: err})
	}

	if prepared != nil {
		recordNamed(prepared, steps, err)
	}
	if err != nil {
		return nil, err
	}

	return rows, nil
}

// pipelineSteps returns the statements of a pipeline, in the order of
// sendBatch, and the index of the one that returns rows.
func pipelineSteps(vars *sessionVars, payload []byte, sd *pgconn.StatementDescription, args []any, eqb *pgx.ExtendedQueryBuilder) ([]pipelineStep, int) {
	var sets, resets []string
	if vars != nil {
		sets, resets = vars.sets, vars.resets
	}

	steps := make([]pipelineStep, 0, len(sets)+2+len(resets))
	for _, s := range sets {
		steps = append(steps, pipelineStep{sql: s, session: true})
	}
	if payload != nil {
		steps = append(steps, pipelineStep{
			sql:          setContextSQL,
			args:         []any{string(payload)},
			paramValues:  [][]byte{payload},
			paramOIDs:    []uint32{pgtype.TextOID},
			paramFormats: []int16{pgtype.TextFormatCode},
		})
	} else {
		steps = append(steps, pipelineStep{sql: clearContextSQL})
	}
	statement := len(steps)
	steps = append(steps, pipelineStep{
		sql:           sd.SQL,
		args:          args,
		paramValues:   eqb.ParamValues,
		paramOIDs:     sd.ParamOIDs,
		paramFormats:  eqb.ParamFormats,
		resultFormats: pgxsql.StdlibResultFormats(sd.Fields),
	})
	for _, s := range resets {
		steps = append(steps, pipelineStep{sql: s, session: true})
	}

	return steps, statement
}

// planNamed marks the steps that run as named prepared statements and
// those that must be prepared first, and returns the texts of the
// statements to deallocate to make room for them.
func planNamed(prepared *preparedStatements, steps []pipelineStep) []string {
	fresh := 0
	for i := range steps {
		if steps[i].session {
			continue
		}
		steps[i].named = true
		if !prepared.has(steps[i].sql) {
			steps[i].prepare = true
			fresh++
		}
	}

	return prepared.makeRoom(fresh)
}

// sendSteps queues the deallocation of evicted, then steps, on p.
func sendSteps(p *pgconn.Pipeline, evicted []string, steps []pipelineStep) {
	// NOTE: when the server skips a deallocation, as in a transaction
	// that an earlier error aborted, the evicted statement stays prepared
	// but unrecorded until the connection closes or its text runs again.
	for _, sql := range evicted {
		p.SendDeallocate(statementName(sql))
	}
	for _, s := range steps {
		if !s.named {
			p.SendQueryParams(s.sql, s.paramValues, s.paramOIDs, s.paramFormats, s.resultFormats)

			continue
		}

		name := statementName(s.sql)
		if s.prepare {
			// A pipeline that failed may have left the statement
			// prepared but not recorded. Deallocating a statement that
			// does not exist succeeds.
			p.SendDeallocate(name)
			p.SendPrepare(name, s.sql, s.paramOIDs)
		}
		p.SendQueryPrepared(name, s.paramValues, s.paramFormats, s.resultFormats)
	}
}

// recordNamed records the statements that a pipeline prepared. After an
// error it removes every named statement of the pipeline from the record
// instead, because the error may come from a statement that a DEALLOCATE
// removed or that its table's change made stale. The next pipeline then
// prepares them again.
func recordNamed(prepared *preparedStatements, steps []pipelineStep, err error) {
	for _, s := range steps {
		switch {
		case !s.named:
		case err != nil:
			prepared.forget(s.sql)
		case s.prepare:
			prepared.add(s.sql)
		}
	}
}

// readStep reads the result of the next statement of p, with its rows when
// withRows is set.
func readStep(p *pgconn.Pipeline, m *pgtype.Map, withRows bool) (pgconn.CommandTag, *pgxsql.Rows, error) {
	result, err := p.GetResults()
	if err != nil {
		return pgconn.CommandTag{}, nil, err
	}
	rr, ok := result.(*pgconn.ResultReader)
	if !ok {
		return pgconn.CommandTag{}, nil, fmt.Errorf("entbemi: pipeline returned %T, want a statement result", result)
	}
	if !withRows {
		tag, err := rr.Close()

		return tag, nil, err
	}

	rows, tag, err := pgxsql.ReadResult(rr, m)

	return tag, rows, err
}

// readResult reads the next result of p, which must be of type T.
func readResult[T any](p *pgconn.Pipeline) error {
	result, err := p.GetResults()
	if err != nil {
		return err
	}
	if _, ok := result.(T); !ok {
		var want T

		return fmt.Errorf("entbemi: pipeline returned %T, want %T", result, want)
	}

	return nil
}
