package entbemi_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"github.com/bemi-go/bemi/core"
	"github.com/bemi-go/bemi/entbemi"
	"github.com/bemi-go/bemi/entbemi/internal/todoapp/ent"
	"github.com/bemi-go/bemi/entbemi/internal/todoapp/ent/todo"
)

// opaqueDriver hides the ent SQL driver from entbemi.NewDriver, as a
// tracing wrapper would, so the Driver falls back to the comment.
type opaqueDriver struct{ dialect.Driver }

func (o opaqueDriver) BeginTx(ctx context.Context, opts *sql.TxOptions) (dialect.Tx, error) {
	return o.Driver.(interface {
		BeginTx(context.Context, *sql.TxOptions) (dialect.Tx, error)
	}).BeginTx(ctx, opts)
}

func (o opaqueDriver) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return o.Driver.(interface {
		ExecContext(context.Context, string, ...any) (sql.Result, error)
	}).ExecContext(ctx, query, args...)
}

func (o opaqueDriver) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return o.Driver.(interface {
		QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	}).QueryContext(ctx, query, args...)
}

// mechanisms runs a test once per mechanism.
var mechanisms = []struct {
	name string
	opts envOptions
	want entbemi.Mechanism
}{
	{"setting", envOptions{}, entbemi.MechanismSetting},
	{"comment", envOptions{wrap: func(d dialect.Driver) dialect.Driver { return opaqueDriver{d} }}, entbemi.MechanismComment},
}

func userCtx(id int) context.Context {
	return core.With(context.Background(), core.Fields{"userId": id})
}

func TestNewDriverMechanism(t *testing.T) {
	for _, m := range mechanisms {
		t.Run(m.name, func(t *testing.T) {
			e := newEnv(t, m.opts)
			if got := e.driver.Mechanism(); got != m.want {
				t.Fatalf("Mechanism() = %v, want %v", got, m.want)
			}
		})
	}
}

func TestNewDriverUnwrapsDebugDriver(t *testing.T) {
	var logged []string
	e := newEnv(t, envOptions{wrap: func(d dialect.Driver) dialect.Driver {
		return dialect.Debug(d, func(v ...any) { logged = append(logged, fmt.Sprint(v...)) })
	}})
	if got := e.driver.Mechanism(); got != entbemi.MechanismSetting {
		t.Fatalf("Mechanism() = %v, want setting", got)
	}
	if len(logged) == 0 {
		t.Fatal("the debug driver logged nothing while the schema was created")
	}
}

func TestDriverCRUD(t *testing.T) {
	for _, m := range mechanisms {
		t.Run(m.name, func(t *testing.T) {
			e := newEnv(t, m.opts)
			ctx := userCtx(1)

			a, err := e.client.Todo.Create().SetTitle("a").Save(ctx)
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			if a.ID == 0 {
				t.Fatal("create returned no id")
			}
			b := e.client.Todo.Create().SetTitle("b").SaveX(userCtx(2))
			e.client.Todo.UpdateOne(a).SetDone(true).ExecX(userCtx(3))
			if n := e.client.Todo.Update().Where(todo.TitleIn("a", "b")).SetTitle("c").SaveX(userCtx(4)); n != 2 {
				t.Fatalf("update changed %d rows, want 2", n)
			}
			e.client.Todo.DeleteOne(b).ExecX(userCtx(5))
			if n := e.client.Todo.Delete().Where(todo.Done(true)).ExecX(userCtx(6)); n != 1 {
				t.Fatalf("delete removed %d rows, want 1", n)
			}

			equalLines(t, summary(changes(e.wal(t))), []string{
				`INSERT public.todos {"userId":1}`,
				`INSERT public.todos {"userId":2}`,
				`UPDATE public.todos {"userId":3}`,
				`UPDATE public.todos {"userId":4}`,
				`UPDATE public.todos {"userId":4}`,
				`DELETE public.todos {"userId":5}`,
				`DELETE public.todos {"userId":6}`,
			})
		})
	}
}

func TestDriverWriteWithoutContext(t *testing.T) {
	for _, m := range mechanisms {
		t.Run(m.name, func(t *testing.T) {
			e := newEnv(t, m.opts)

			e.client.Todo.Create().SetTitle("a").SaveX(userCtx(1))
			e.client.Todo.Create().SetTitle("b").SaveX(context.Background())

			txs := e.wal(t)
			equalLines(t, summary(changes(txs)), []string{
				`INSERT public.todos {"userId":1}`,
				`INSERT public.todos `,
			})
			if len(txs[1].Messages) != 0 {
				t.Fatalf("write without context emitted %q", txs[1].Messages)
			}
		})
	}
}

func TestDriverCreateBulkThousandRows(t *testing.T) {
	for _, m := range mechanisms {
		t.Run(m.name, func(t *testing.T) {
			e := newEnv(t, m.opts)

			builders := make([]*ent.TodoCreate, 1000)
			for i := range builders {
				builders[i] = e.client.Todo.Create().SetTitle("t" + itoa(i))
			}
			todos := e.client.Todo.CreateBulk(builders...).SaveX(userCtx(7))
			if len(todos) != 1000 || todos[999].ID == 0 {
				t.Fatalf("bulk create returned %d todos, last id %d", len(todos), todos[len(todos)-1].ID)
			}

			txs := e.wal(t)
			if len(txs) != 1 {
				t.Fatalf("bulk create wrote %d transactions, want 1", len(txs))
			}
			if want := []string{`{"userId":7}`}; strings.Join(txs[0].Messages, " ") != want[0] {
				t.Fatalf("messages = %q, want %q", txs[0].Messages, want)
			}
			equalLines(t, summary(txs[0].Changes), repeat(`INSERT public.todos {"userId":7}`, 1000))
		})
	}
}

func TestDriverEdges(t *testing.T) {
	for _, m := range mechanisms {
		t.Run(m.name, func(t *testing.T) {
			e := newEnv(t, m.opts)
			setupCtx := userCtx(0)
			t1 := e.client.Todo.Create().SetTitle("t1").SaveX(setupCtx)
			t2 := e.client.Todo.Create().SetTitle("t2").SaveX(setupCtx)
			tag := e.client.Tag.Create().SetName("home").SaveX(setupCtx)
			e.wal(t)

			// A user with todos: INSERT users, then UPDATE todos to set
			// the foreign key, in one transaction that ent opens.
			u := e.client.User.Create().SetName("ann").AddTodos(t1, t2).SaveX(userCtx(1))
			// A todo with a tag: INSERT todos, then INSERT into the join
			// table, in one transaction.
			e.client.Todo.Create().SetTitle("t3").SetOwner(u).AddTags(tag).SaveX(userCtx(2))
			// Edge changes only: clear the owner, add a tag.
			e.client.Todo.UpdateOne(t1).ClearOwner().AddTags(tag).ExecX(userCtx(3))

			txs := e.wal(t)
			if len(txs) != 3 {
				t.Fatalf("edge writes made %d transactions, want 3", len(txs))
			}
			equalLines(t, summary(changes(txs)), []string{
				`INSERT public.users {"userId":1}`,
				`UPDATE public.todos {"userId":1}`,
				`UPDATE public.todos {"userId":1}`,
				`INSERT public.todos {"userId":2}`,
				`INSERT public.todo_tags {"userId":2}`,
				`UPDATE public.todos {"userId":3}`,
				`INSERT public.todo_tags {"userId":3}`,
			})
		})
	}
}

func TestDriverEncodeError(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := core.With(context.Background(), core.Fields{"bad": make(chan int)})

	_, err := e.client.Todo.Create().SetTitle("a").Save(ctx)
	if err == nil || !strings.Contains(err.Error(), "entbemi: encode context") {
		t.Fatalf("create with an unencodable field: err = %v, want an encode error", err)
	}
	if n := e.client.Todo.Query().CountX(context.Background()); n != 0 {
		t.Fatalf("the failed create wrote %d rows", n)
	}
}

func TestDriverStatementError(t *testing.T) {
	for _, m := range mechanisms {
		t.Run(m.name, func(t *testing.T) {
			e := newEnv(t, m.opts)
			e.exec(t, "ALTER TABLE todos ADD CONSTRAINT title_not_x CHECK (title <> 'x')")

			_, err := e.client.Todo.Create().SetTitle("x").Save(userCtx(1))
			if err == nil || !strings.Contains(err.Error(), "title_not_x") {
				t.Fatalf("create violating a check: err = %v, want the constraint error", err)
			}
			// The connection stays usable.
			e.client.Todo.Create().SetTitle("y").SaveX(userCtx(2))
			equalLines(t, summary(changes(e.wal(t))), []string{`INSERT public.todos {"userId":2}`})
		})
	}
}

// TestDriverSessionVars checks that the session variables of
// entsql.WithVar reach the annotated statement and are reset after it, as
// ent's SQL driver does without entbemi.
func TestDriverSessionVars(t *testing.T) {
	for _, m := range mechanisms {
		t.Run(m.name, func(t *testing.T) {
			e := newEnv(t, m.opts)
			e.db.SetMaxOpenConns(1)
			e.exec(t, "ALTER TABLE todos ADD COLUMN tenant text DEFAULT current_setting('app.tenant', true)")

			ctx := entsql.WithVar(userCtx(1), "app.tenant", "t1")
			e.client.Todo.Create().SetTitle("a").SaveX(ctx)
			e.client.Todo.Create().SetTitle("b").SaveX(userCtx(2))

			var tenant sql.NullString
			if err := e.db.QueryRow("SELECT current_setting('app.tenant', true)").Scan(&tenant); err != nil {
				t.Fatal(err)
			}
			if tenant.String != "" {
				t.Fatalf("app.tenant = %q after the write, want it reset", tenant.String)
			}
			cs := changes(e.wal(t))
			equalLines(t, summary(cs), []string{
				`INSERT public.todos {"userId":1}`,
				`INSERT public.todos {"userId":2}`,
			})
			if !strings.Contains(cs[0].Row, "tenant[text]:'t1'") {
				t.Errorf("first row %q lacks tenant t1", cs[0].Row)
			}
			if !strings.Contains(cs[1].Row, "tenant[text]:null") && !strings.Contains(cs[1].Row, "tenant[text]:''") {
				t.Errorf("second row %q has a tenant", cs[1].Row)
			}
		})
	}
}
