package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
)

// Todo is a task with an optional owner and any number of tags.
type Todo struct {
	ent.Schema
}

// Fields of the Todo.
func (Todo) Fields() []ent.Field {
	return []ent.Field{
		field.String("title"),
		field.Bool("done").Default(false),
	}
}

// Edges of the Todo. The owner edge is a foreign key column in the todos
// table; the tags edge is a join table, so ent writes it in extra
// statements inside a transaction.
func (Todo) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("owner", User.Type).Ref("todos").Unique(),
		edge.To("tags", Tag.Type),
	}
}
