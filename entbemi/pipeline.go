package entbemi

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/bemi-go/bemi/internal/pgxsql"
)

// pipelineStep is the text and arguments of one statement of a pipeline,
// for a tracer.
type pipelineStep struct {
	sql  string
	args []any
}

// queryPipeline sends the statement described by sd in one pgconn
// pipeline, with the statements that sendBatch puts around it, and reads
// its rows. Like a batch, the pipeline is one round trip and, outside a
// transaction, one implicit transaction, so a statement that fails
// commits nothing.
//
// A pgx batch cannot choose result formats, but a pipeline can. So the
// statement requests the result formats of the pgx stdlib driver
// (pgxsql.StdlibResultFormats), and pgxsql.ReadResult converts the values
// as the driver does. It goes as the unnamed statement with the parameter
// types of sd, as pgx sends statements in its cache_describe mode, so
// the server parses it on every run and no prepared statement is left
// behind. The arguments are encoded as pgx encodes them for sd.
//
// pgx's tracer, when it is a pgx.BatchTracer, traces the pipeline as one
// batch.
func queryPipeline(ctx context.Context, pc *pgx.Conn, vars *sessionVars, payload []byte, sd *pgconn.StatementDescription, args []any) (*pgxsql.Rows, error) {
	if len(sd.ParamOIDs) != len(args) {
		// The message of pgx's Query for the same mistake.
		return nil, fmt.Errorf("expected %d arguments, got %d", len(sd.ParamOIDs), len(args))
	}
	m := pc.TypeMap()
	var eqb pgx.ExtendedQueryBuilder
	if err := eqb.Build(m, sd, args); err != nil {
		return nil, err
	}

	var sets, resets []string
	if vars != nil {
		sets, resets = vars.sets, vars.resets
	}
	steps := make([]pipelineStep, 0, len(sets)+2+len(resets))
	for _, s := range sets {
		steps = append(steps, pipelineStep{sql: s})
	}
	if payload != nil {
		steps = append(steps, pipelineStep{sql: setContextSQL, args: []any{string(payload)}})
	} else {
		steps = append(steps, pipelineStep{sql: clearContextSQL})
	}
	statement := len(steps)
	steps = append(steps, pipelineStep{sql: sd.SQL, args: args})
	for _, s := range resets {
		steps = append(steps, pipelineStep{sql: s})
	}

	tracer, _ := pc.Config().Tracer.(pgx.BatchTracer)
	if tracer != nil {
		b := &pgx.Batch{}
		for _, s := range steps {
			b.Queue(s.sql, s.args...)
		}
		ctx = tracer.TraceBatchStart(ctx, pc, pgx.TraceBatchStartData{Batch: b})
	}

	p := pc.PgConn().StartPipeline(ctx)
	for i, s := range steps {
		switch {
		case i == statement:
			p.SendQueryParams(sd.SQL, eqb.ParamValues, sd.ParamOIDs, eqb.ParamFormats, pgxsql.StdlibResultFormats(sd.Fields))
		case s.sql == setContextSQL:
			p.SendQueryParams(s.sql, [][]byte{payload}, []uint32{pgtype.TextOID}, []int16{pgtype.TextFormatCode}, nil)
		default:
			p.SendQueryParams(s.sql, nil, nil, nil, nil)
		}
	}

	var rows *pgxsql.Rows
	err := p.Sync()
	for i := 0; err == nil && i < len(steps); i++ {
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
		err = readSync(p)
	}
	// Close reads what an error left unread, up to the end of the
	// pipeline.
	if closeErr := p.Close(); err == nil {
		err = closeErr
	}
	if tracer != nil {
		tracer.TraceBatchEnd(ctx, pc, pgx.TraceBatchEndData{Err: err})
	}
	if err != nil {
		return nil, err
	}

	return rows, nil
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

// readSync reads the end of p's implicit transaction.
func readSync(p *pgconn.Pipeline) error {
	result, err := p.GetResults()
	if err != nil {
		return err
	}
	if _, ok := result.(*pgconn.PipelineSync); !ok {
		return fmt.Errorf("entbemi: pipeline returned %T, want the end of the pipeline", result)
	}

	return nil
}
