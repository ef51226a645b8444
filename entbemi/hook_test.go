package entbemi_test

import (
	"context"
	"testing"

	"github.com/bemi-go/bemi/core"
	"github.com/bemi-go/bemi/entbemi"
	"github.com/bemi-go/bemi/entbemi/internal/todoapp/ent"
)

func TestHookAddsTypeAndOp(t *testing.T) {
	for _, m := range mechanisms {
		t.Run(m.name, func(t *testing.T) {
			e := newEnv(t, m.opts)
			e.client.Use(entbemi.Hook(entbemi.HookConfig{}))
			ctx := userCtx(1)

			a := e.client.Todo.Create().SetTitle("a").SaveX(ctx)
			e.client.Todo.CreateBulk(e.client.Todo.Create().SetTitle("b"), e.client.Todo.Create().SetTitle("c")).SaveX(ctx)
			e.client.Todo.UpdateOne(a).SetDone(true).ExecX(ctx)
			e.client.Todo.Update().SetDone(false).ExecX(context.Background())
			u := e.client.User.Create().SetName("ann").AddTodos(a).SaveX(ctx)
			e.client.User.DeleteOne(u).ExecX(ctx)
			e.client.Todo.Delete().ExecX(ctx)

			equalLines(t, summary(changes(e.wal(t))), []string{
				`INSERT public.todos {"entOp":"Create","entType":"Todo","userId":1}`,
				`INSERT public.todos {"entOp":"Create","entType":"Todo","userId":1}`,
				`INSERT public.todos {"entOp":"Create","entType":"Todo","userId":1}`,
				`UPDATE public.todos {"entOp":"UpdateOne","entType":"Todo","userId":1}`,
				// A context without fields still gets the facts.
				`UPDATE public.todos {"entOp":"Update","entType":"Todo"}`,
				`UPDATE public.todos {"entOp":"Update","entType":"Todo"}`,
				`UPDATE public.todos {"entOp":"Update","entType":"Todo"}`,
				`INSERT public.users {"entOp":"Create","entType":"User","userId":1}`,
				`UPDATE public.todos {"entOp":"Create","entType":"User","userId":1}`,
				`DELETE public.users {"entOp":"DeleteOne","entType":"User","userId":1}`,
				// ON DELETE SET NULL of the owner foreign key runs inside
				// the DELETE, so it gets the DELETE's context.
				`UPDATE public.todos {"entOp":"DeleteOne","entType":"User","userId":1}`,
				`DELETE public.todos {"entOp":"Delete","entType":"Todo","userId":1}`,
				`DELETE public.todos {"entOp":"Delete","entType":"Todo","userId":1}`,
				`DELETE public.todos {"entOp":"Delete","entType":"Todo","userId":1}`,
			})
		})
	}
}

func TestHookConfigKeys(t *testing.T) {
	tests := []struct {
		name string
		cfg  entbemi.HookConfig
		want string
	}{
		{"custom keys", entbemi.HookConfig{TypeKey: "model", OpKey: "action"}, `{"action":"Create","model":"Todo","userId":1}`},
		{"type left out", entbemi.HookConfig{TypeKey: "-"}, `{"entOp":"Create","userId":1}`},
		{"both left out", entbemi.HookConfig{TypeKey: "-", OpKey: "-"}, `{"userId":1}`},
	}
	e := newEnv(t, envOptions{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := ent.NewClient(ent.Driver(e.driver))
			client.Use(entbemi.Hook(tt.cfg))

			client.Todo.Create().SetTitle("a").SaveX(userCtx(1))

			equalLines(t, summary(changes(e.wal(t))), []string{`INSERT public.todos ` + tt.want})
		})
	}
}

// TestHookKeepsApplicationFieldsOfOtherNames checks that the facts merge
// with the application's fields and that a field of the same name is
// replaced.
func TestHookKeepsApplicationFieldsOfOtherNames(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.client.Use(entbemi.Hook(entbemi.HookConfig{}))
	ctx := core.With(context.Background(), core.Fields{"entType": "spoofed", "endpoint": "/todos"})

	e.client.Todo.Create().SetTitle("a").SaveX(ctx)

	equalLines(t, summary(changes(e.wal(t))), []string{
		`INSERT public.todos {"endpoint":"\/todos","entOp":"Create","entType":"Todo"}`,
	})
}
