package pgxbemi

import (
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// pipelinedRows are the rows of a statement sent in a batch with set_config
// statements. They close the batch when they close, which releases a pooled
// connection, as the rows of Conn.Query or Pool.Query do.
type pipelinedRows struct {
	pgx.Rows
	br     pgx.BatchResults
	runner *runner
	step   step

	// shift is the number of characters in front of the statement in the
	// query string, which error positions are corrected by once.
	shift   int32
	shifted bool

	closed bool
	err    error // error of closing the batch
}

// Next advances to the next row. After the last row it closes the rows, as
// pgx's rows do.
func (r *pipelinedRows) Next() bool {
	if r.Rows.Next() {
		return true
	}
	r.closeBatch()

	return false
}

// Close closes the rows and the batch.
func (r *pipelinedRows) Close() {
	r.Rows.Close()
	r.closeBatch()
}

// Err returns the statement's error, else the error of closing the batch.
func (r *pipelinedRows) Err() error {
	err := r.Rows.Err()
	if err == nil {
		err = r.err
	}
	if err != nil && !r.shifted {
		r.shifted = true
		shiftPosition(err, r.shift)
	}

	return err
}

func (r *pipelinedRows) closeBatch() {
	if r.closed {
		return
	}
	r.closed = true

	r.Rows.Close()
	r.err = r.br.Close()

	err := r.Rows.Err()
	if err == nil {
		err = r.err
	}
	r.runner.finish(r.step, err)
}

// errRows are rows that failed before the statement ran.
type errRows struct {
	err error
}

func (r errRows) Close()                                       {}
func (r errRows) Err() error                                   { return r.err }
func (r errRows) CommandTag() pgconn.CommandTag                { return pgconn.CommandTag{} }
func (r errRows) FieldDescriptions() []pgconn.FieldDescription { return nil }
func (r errRows) Next() bool                                   { return false }
func (r errRows) Scan(...any) error                            { return r.err }
func (r errRows) Values() ([]any, error)                       { return nil, r.err }
func (r errRows) RawValues() [][]byte                          { return nil }
func (r errRows) Conn() *pgx.Conn                              { return nil }
func (r errRows) TypeMap() *pgtype.Map                         { return nil }

// row is the pgx.Row of a statement sent in a batch with set_config
// statements. Scan behaves as the Scan of Conn.QueryRow: it returns
// pgx.ErrNoRows when there is no row and closes the rows in every case.
type row struct {
	rows pgx.Rows
}

// Scan reads the first row into dest and discards the rest.
func (r *row) Scan(dest ...any) error {
	rows := r.rows
	defer rows.Close()

	if err := rows.Err(); err != nil {
		return err
	}

	for _, d := range dest {
		if _, ok := d.(*pgtype.DriverBytes); ok {
			return errors.New("cannot scan into *pgtype.DriverBytes from QueryRow")
		}
	}

	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}

		return pgx.ErrNoRows
	}

	_ = rows.Scan(dest...) // the error is in rows.Err
	rows.Close()

	return rows.Err()
}
