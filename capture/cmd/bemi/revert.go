package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/bemi-go/bemi/capture/history"
	"github.com/bemi-go/bemi/core"
)

func newRevertCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "revert",
		Short: "Undo a set of captured changes in the source database",
		Long: `Undo the changes that the filter flags select (one transaction, one
request's context, one user's changes in a time range) in one source
transaction that applies the inverse operations newest first.

Before it writes, revert checks that every row is still as the changes left
it, and that no other change touched it in between; otherwise it lists the
conflicts and stops, unless --force is given. TRUNCATE changes and tables
without a primary key cannot be reverted. --dry-run prints the SQL script
instead of running it.

The revert is captured like any change, with the context
{"bemiRevert": {"filter": ..., "changes": N, "by": ...}} plus the fields of
--with-context.

Examples:
  bemi revert --context '{"requestId": "c0ffee"}' --dry-run
  bemi revert --position 0/16B3748 --by alice
  bemi revert --context '{"userId": 187234}' --since 2024-05-01T10:00:00Z --until 2024-05-01T11:00:00Z`,
		Args: cobra.NoArgs,
		RunE: runRevert,
	}

	f := cmd.Flags()
	addDestinationFlags(f)
	addFilterFlags(f)
	f.Bool("dry-run", false, "check for conflicts and print the SQL without running it")
	f.Bool("force", false, "revert even when rows changed after the selected changes; those later changes are lost")
	f.String("by", os.Getenv("USER"), "who reverts, recorded in the revert's context")
	f.String("with-context", "", `JSON object of more fields for the revert's context, such as '{"ticket": "OPS-12"}'`)
	f.Bool("fill-missing-columns", false, "insert deleted rows again although masked or excluded columns are unknown; they take their defaults")
	f.Int("max-changes", history.DefaultMaxRevertChanges, "largest number of changes to revert at once")

	return cmd
}

func runRevert(cmd *cobra.Command, args []string) error {
	f := cmd.Flags()
	filter, err := filterFromFlags(f)
	if err != nil {
		return err
	}
	var opts history.RevertOptions
	opts.DryRun, _ = f.GetBool("dry-run")
	opts.Force, _ = f.GetBool("force")
	opts.By, _ = f.GetString("by")
	opts.FillMissingColumns, _ = f.GetBool("fill-missing-columns")
	opts.MaxChanges, _ = f.GetInt("max-changes")
	ctx := cmd.Context()
	if doc, _ := f.GetString("with-context"); doc != "" {
		fields, err := parseFields(doc)
		if err != nil {
			return fmt.Errorf("invalid --with-context: %w", err)
		}
		ctx = core.With(ctx, fields)
	}

	reader, dest, err := openReader(cmd)
	if err != nil {
		return err
	}
	defer dest.Close(ctx)

	sourceURL, err := sourceURL(cmd)
	if err != nil {
		return err
	}
	source, err := pgx.Connect(ctx, sourceURL)
	if err != nil {
		return fmt.Errorf("connect to the source database: %w", err)
	}
	defer source.Close(ctx)

	result, err := history.Revert(ctx, source, reader, filter, opts)
	out := cmd.OutOrStdout()
	if result != nil {
		printConflicts(out, result.Conflicts)
	}
	var conflictErr *history.ConflictError
	if errors.As(err, &conflictErr) {
		return fmt.Errorf("revert rejected: %d row(s) changed after the selected changes; nothing was written (use --force to revert anyway)", len(conflictErr.Conflicts))
	}
	if err != nil {
		return err
	}

	if opts.DryRun {
		fmt.Fprintf(out, "-- Dry run: %d change(s) would be reverted by this script; nothing was written.\nBEGIN;\n", len(result.Changes))
		for _, s := range result.Statements {
			fmt.Fprintf(out, "%s;\n", s.String())
		}
		fmt.Fprintln(out, "COMMIT;")
	} else {
		fmt.Fprintf(out, "Reverted %d change(s) with %d statement(s).\n", len(result.Changes), len(result.Statements))
	}
	for _, w := range result.Warnings {
		fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s\n", w)
	}

	return nil
}

func printConflicts(w io.Writer, conflicts []history.Conflict) {
	for _, c := range conflicts {
		fmt.Fprintf(w, "conflict: %s\n", c)
		if c.Expected != nil || c.Actual != nil {
			fmt.Fprintf(w, "  expected: %s\n  actual:   %s\n", orNull(c.Expected), orNull(c.Actual))
		}
	}
}

func orNull(v json.RawMessage) string {
	if v == nil {
		return "(no row)"
	}

	return string(v)
}
