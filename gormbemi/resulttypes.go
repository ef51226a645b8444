package gormbemi

import "sync"

// maxResultTypes bounds the statements that resultTypes records. When it
// is full, it clears them all, and each statement is described again on
// its next run.
const maxResultTypes = 1024

// resultTypes records, per statement text, whether pgxsql.ReadRows gives
// the values of pgx's database/sql driver for every result column of the
// statement (see pgxsql.Exact). It is safe for concurrent use.
type resultTypes struct {
	mu    sync.Mutex
	exact map[string]bool
}

// lookup returns whether the result types of query are exact. known is
// false when query has not been described.
func (r *resultTypes) lookup(query string) (exact, known bool) {
	r.mu.Lock()
	defer r.mu.Unlock()

	exact, known = r.exact[query]

	return exact, known
}

func (r *resultTypes) store(query string, exact bool) {
	r.mu.Lock()
	defer r.mu.Unlock()

	if _, present := r.exact[query]; !present && len(r.exact) >= maxResultTypes || r.exact == nil {
		r.exact = make(map[string]bool)
	}
	r.exact[query] = exact
}
