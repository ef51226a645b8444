package history_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bemi-go/bemi/capture/history"
	"github.com/bemi-go/bemi/core"
)

// Print the newest changes of one record with their diffs. Without a
// database at BEMI_DESTINATION_URL the example does nothing useful, so it
// is compiled but not run.
func ExampleReader_Changes() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("BEMI_DESTINATION_URL"))
	if err != nil {
		fmt.Println(err)

		return
	}
	defer pool.Close()

	reader := history.NewReader(pool, history.Config{})
	page, err := reader.Changes(ctx, history.Query{
		Filter: history.Filter{Table: "todos", PrimaryKeys: []string{"26"}},
		Order:  history.Descending,
	})
	if err != nil {
		fmt.Println(err)

		return
	}
	for _, c := range page.Changes {
		diff, _ := history.Diff(c)
		fmt.Println(c.CommittedAt, c.Operation, diff, string(c.Context))
	}
}

// Undo one request's changes, on behalf of an administrator, after a dry
// run has shown the SQL. Compiled but not run, like the example above.
func ExampleRevert() {
	ctx := core.With(context.Background(), core.Fields{"userId": 1, "endpoint": "/admin/revert"})
	source, err := pgx.Connect(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		fmt.Println(err)

		return
	}
	defer source.Close(ctx)

	reader := history.NewReader(source, history.Config{})
	request := history.Filter{Context: core.Fields{"requestId": "c0ffee"}}

	plan, err := history.Revert(ctx, source, reader, request, history.RevertOptions{DryRun: true})
	var conflicts *history.ConflictError
	if errors.As(err, &conflicts) {
		for _, c := range conflicts.Conflicts {
			fmt.Println(c)
		}

		return
	}
	if err != nil {
		fmt.Println(err)

		return
	}
	for _, s := range plan.Statements {
		fmt.Println(s)
	}

	if _, err := history.Revert(ctx, source, reader, request, history.RevertOptions{By: "admin@example.com"}); err != nil {
		fmt.Println(err)
	}
}
