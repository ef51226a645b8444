// Package schema is the ent schema of the todo table, from which the
// package ent above it is generated.
package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
)

// Todo is the schema of the todo table.
type Todo struct {
	ent.Schema
}

// Annotations names the table todo, which ent would call todos.
func (Todo) Annotations() []schema.Annotation {
	return []schema.Annotation{entsql.Annotation{Table: "todo"}}
}

// Fields are the columns besides id.
func (Todo) Fields() []ent.Field {
	return []ent.Field{
		field.Int64("id"),
		field.String("task"),
		field.Bool("is_completed").Default(false),
	}
}
