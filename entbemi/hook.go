package entbemi

import (
	"context"
	"strings"

	"entgo.io/ent"

	"github.com/bemi-go/bemi/core"
)

// Default context keys of the facts that Hook adds.
const (
	// DefaultTypeKey holds the schema type of the mutation, such as "Todo".
	DefaultTypeKey = "entType"

	// DefaultOpKey holds the operation of the mutation: "Create",
	// "Update", "UpdateOne", "Delete" or "DeleteOne" (ent.Op without its
	// "Op" prefix).
	DefaultOpKey = "entOp"
)

// HookConfig selects the keys under which Hook adds ent's facts. The zero
// value uses DefaultTypeKey and DefaultOpKey.
type HookConfig struct {
	// TypeKey is the key of the schema type. Empty means DefaultTypeKey,
	// and "-" leaves the type out.
	TypeKey string

	// OpKey is the key of the operation. Empty means DefaultOpKey, and "-"
	// leaves the operation out.
	OpKey string
}

// Hook returns an ent hook that adds the mutation's schema type and
// operation to the context of every mutation, so each write that ent sends
// for it carries them next to the application's fields:
//
//	client.Use(entbemi.Hook(entbemi.HookConfig{}))
//
// The facts are merged with core.With, so they replace application fields
// of the same name. Edge writes that ent sends for a mutation (join table
// rows, foreign keys of other tables) carry the facts of that mutation.
// CreateBulk sends one INSERT for all builders, with the facts of the last
// builder, which are the same for every builder of one bulk.
//
// The hook adds the facts also to mutations whose context carries no other
// fields, so writes by jobs and scripts that set no context are still
// recorded with their type and operation. The hook only changes the
// context: the Driver from NewDriver sends it.
func Hook(cfg HookConfig) ent.Hook {
	typeKey := keyOrDefault(cfg.TypeKey, DefaultTypeKey)
	opKey := keyOrDefault(cfg.OpKey, DefaultOpKey)

	return func(next ent.Mutator) ent.Mutator {
		return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
			return next.Mutate(withFacts(ctx, m, typeKey, opKey), m)
		})
	}
}

func withFacts(ctx context.Context, m ent.Mutation, typeKey, opKey string) context.Context {
	fields := make(core.Fields, 2)
	if typeKey != "" {
		fields[typeKey] = m.Type()
	}
	if opKey != "" {
		fields[opKey] = strings.TrimPrefix(m.Op().String(), "Op")
	}

	return core.With(ctx, fields)
}

// keyOrDefault returns key, def when key is empty, and "" when key is "-".
func keyOrDefault(key, def string) string {
	switch key {
	case "":
		return def
	case "-":
		return ""
	default:
		return key
	}
}
