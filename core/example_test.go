package core_test

import (
	"context"
	"fmt"
	"time"

	"github.com/bemi-go/bemi/core"
)

func ExampleWith() {
	// A middleware attaches the user and the route, and the handler adds the
	// request parameters.
	ctx := core.With(context.Background(), core.Fields{"userId": 187234, "endpoint": "/todo/{id}"})
	ctx = core.With(ctx, core.Fields{"params": map[string]any{"id": "42"}})

	// A later call replaces keys of the same name, in the new context only.
	admin := core.With(ctx, core.Fields{"userId": 1})

	fmt.Println(core.FieldsFrom(ctx))
	fmt.Println(core.FieldsFrom(admin))
	// Output:
	// map[endpoint:/todo/{id} params:map[id:42] userId:187234]
	// map[endpoint:/todo/{id} params:map[id:42] userId:1]
}

func ExampleFieldsFrom() {
	fmt.Println(core.FieldsFrom(context.Background()) == nil)

	ctx := core.With(context.Background(), core.Fields{"userId": 187234})
	fields := core.FieldsFrom(ctx)
	fields["userId"] = 0 // changes the copy only

	fmt.Println(core.FieldsFrom(ctx)["userId"])
	// Output:
	// true
	// 187234
}

func ExampleReplace() {
	ctx := core.With(context.Background(), core.Fields{"userId": 187234, "endpoint": "/todo"})

	// Work done on behalf of the system, not of the request's user.
	system := core.Replace(ctx, core.Fields{"job": "reindex"})

	fmt.Println(core.FieldsFrom(system))
	// Output: map[job:reindex]
}

func ExampleEncoder_Encode() {
	enc := &core.Encoder{}
	payload, err := enc.Encode(core.Fields{
		"endpoint": "/todo/{id}",
		"note":     "*/ DROP TABLE todo; /*",
		"userId":   187234,
	})
	if err != nil {
		panic(err)
	}

	// Every '/' is written as "\/", and a '*' right after it as "\u002a", so
	// no value can end or open the SQL comment.
	fmt.Println(string(payload))
	// Output: {"endpoint":"\/todo\/{id}","note":"*\/ DROP TABLE todo; \/\u002a","userId":187234}
}

func ExampleAppendComment() {
	payload, err := (&core.Encoder{}).Encode(core.Fields{"userId": 187234})
	if err != nil {
		panic(err)
	}

	fmt.Println(core.AppendComment("DELETE FROM todo WHERE id = $1", payload))
	// Output: DELETE FROM todo WHERE id = $1 /*Bemi {"userId":187234} Bemi*/
}

func ExampleParseComment() {
	statements := []string{
		`DELETE FROM todo WHERE id = $1 /*Bemi {"userId":187234} Bemi*/`,
		// A tracing comment appended after the Bemi comment does not hide it.
		`DELETE FROM todo /*Bemi {"userId":187234} Bemi*/ /*traceparent='00-0af7-b7ad-01'*/`,
		// A string literal that looks like a Bemi comment is not context.
		`INSERT INTO todo (task) VALUES ('/*Bemi {"userId":1} Bemi*/')`,
	}
	for _, sql := range statements {
		payload, ok := core.ParseComment(sql)
		fmt.Printf("%v %s\n", ok, payload)
	}
	// Output:
	// true {"userId":187234}
	// true {"userId":187234}
	// false
}

func ExampleIsWrite() {
	for _, sql := range []string{
		"INSERT INTO todo (task) VALUES ($1)",
		"/* app */ WITH done AS (DELETE FROM todo WHERE done RETURNING id) SELECT count(*) FROM done",
		"SELECT * FROM todo WHERE id = $1 FOR UPDATE",
		"COPY todo TO STDOUT",
	} {
		fmt.Println(core.IsWrite(sql))
	}
	// Output:
	// true
	// true
	// false
	// false
}

func ExampleAnnotator_Comment() {
	var annotator core.Annotator // the zero value annotates writes
	ctx := core.With(context.Background(), core.Fields{"userId": 187234})

	for _, sql := range []string{
		"UPDATE todo SET done = true WHERE id = $1",
		"SELECT * FROM todo WHERE id = $1",
	} {
		annotated, err := annotator.Comment(ctx, sql)
		if err != nil {
			panic(err)
		}
		fmt.Println(annotated)
	}
	// Output:
	// UPDATE todo SET done = true WHERE id = $1 /*Bemi {"userId":187234} Bemi*/
	// SELECT * FROM todo WHERE id = $1
}

func ExampleAnnotator_Payload() {
	// An adapter that keeps the statement text unchanged sends the payload
	// through the transaction-local setting instead, in the same round trip.
	var annotator core.Annotator
	ctx := core.With(context.Background(), core.Fields{"userId": 187234})

	payload, ok, err := annotator.Payload(ctx, "DELETE FROM todo WHERE id = $1")
	if err != nil {
		panic(err)
	}
	if ok {
		fmt.Printf("%s -- $1 = %s\n", core.SetContextSQL, payload)
	}
	// Output: SELECT pg_catalog.set_config('bemi.context', $1, true) IS NULL -- $1 = {"userId":187234}
}

// A background job has no HTTP request: it attaches its own context before
// it writes, and every statement it runs with that context carries it.
func Example_backgroundJob() {
	runJob := func(ctx context.Context, name string, started time.Time, work func(context.Context) error) error {
		ctx = core.With(ctx, core.Fields{
			"job":       name,
			"startedAt": started.UTC().Format(time.RFC3339),
		})

		return work(ctx)
	}

	var annotator core.Annotator
	started := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	err := runJob(context.Background(), "purge-sessions", started, func(ctx context.Context) error {
		// An adapter does this for every statement the job sends.
		sql, err := annotator.Comment(ctx, "DELETE FROM sessions WHERE expires_at < now()")
		if err != nil {
			return err
		}
		fmt.Println(sql)

		return nil
	})
	if err != nil {
		panic(err)
	}
	// Output: DELETE FROM sessions WHERE expires_at < now() /*Bemi {"job":"purge-sessions","startedAt":"2025-01-02T03:04:05Z"} Bemi*/
}
