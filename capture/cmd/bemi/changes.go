package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/bemi-go/bemi/capture"
	"github.com/bemi-go/bemi/capture/history"
	"github.com/bemi-go/bemi/core"
)

func newChangesCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "changes",
		Short: "List captured changes, filtered and paged",
		Long: `List the changes stored in the changes table, newest first, as an aligned
table or as JSON lines (one core.Change per line).

Filters combine with AND. --context selects changes whose context contains
the given JSON object, such as --context '{"userId": 187234}'. Pages are
keyset pages: when more changes follow, the last line names the --cursor
of the next page (on standard error in JSON mode).

Examples:
  bemi changes --table todos --primary-key 26
  bemi changes --context '{"requestId": "c0ffee"}' --format json
  bemi changes --since 2024-05-01T00:00:00Z --operation DELETE --all`,
		Args: cobra.NoArgs,
		RunE: runChanges,
	}

	f := cmd.Flags()
	addDestinationFlags(f)
	addFilterFlags(f)
	f.String("order", "desc", "order by commit time: asc (oldest first) or desc (newest first)")
	f.Int("limit", history.DefaultLimit, "changes per page, at most "+strconv.Itoa(history.MaxLimit))
	f.String("cursor", "", "cursor of the page to read, as printed after the previous page")
	f.Bool("all", false, "read every page, not only the first")
	f.String("format", "table", "output format: table or json (JSON lines)")
	f.Int("max-width", 60, "longest table cell in characters before it is cut; 0 for no limit")

	return cmd
}

func runChanges(cmd *cobra.Command, args []string) error {
	f := cmd.Flags()
	filter, err := filterFromFlags(f)
	if err != nil {
		return err
	}
	q := history.Query{Filter: filter}
	q.Limit, _ = f.GetInt("limit")
	q.After, _ = f.GetString("cursor")
	all, _ := f.GetBool("all")
	format, _ := f.GetString("format")
	maxWidth, _ := f.GetInt("max-width")
	switch order, _ := f.GetString("order"); order {
	case "asc":
		q.Order = history.Ascending
	case "desc":
		q.Order = history.Descending
	default:
		return fmt.Errorf("invalid --order %q: use asc or desc", order)
	}
	if format != "table" && format != "json" {
		return fmt.Errorf("invalid --format %q: use table or json", format)
	}

	reader, conn, err := openReader(cmd)
	if err != nil {
		return err
	}
	defer conn.Close(cmd.Context())

	out := cmd.OutOrStdout()
	var table *tabwriter.Writer
	if format == "table" {
		table = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(table, "COMMITTED_AT\tPOSITION\tTABLE\tPRIMARY_KEY\tOPERATION\tCHANGES\tCONTEXT")
	}
	for {
		page, err := reader.Changes(cmd.Context(), q)
		if err != nil {
			return err
		}
		for _, c := range page.Changes {
			if table != nil {
				printChangeRow(table, c, maxWidth)
			} else if err := json.NewEncoder(out).Encode(c); err != nil {
				return err
			}
		}
		if page.Next == "" || !all {
			if table != nil {
				table.Flush()
			}
			if page.Next != "" {
				next := out
				if table == nil {
					next = cmd.ErrOrStderr()
				}
				fmt.Fprintf(next, "more changes follow: add --cursor %s\n", page.Next)
			}

			return nil
		}
		q.After = page.Next
	}
}

// printChangeRow writes one change as a table row. An UPDATE shows its
// changed columns, a CREATE its new row and a DELETE its old row.
func printChangeRow(w io.Writer, c core.Change, maxWidth int) {
	key := ""
	if c.PrimaryKey != nil {
		key = *c.PrimaryKey
	}

	var changes string
	switch c.Operation {
	case core.OperationCreate:
		changes = string(c.After)
	case core.OperationDelete:
		changes = string(c.Before)
	case core.OperationUpdate:
		diff, err := history.Diff(c)
		if err != nil {
			changes = err.Error()

			break
		}
		parts := make([]string, len(diff))
		for i, d := range diff {
			parts[i] = fmt.Sprintf("%s: %s → %s", d.Column, orNone(d.Old), orNone(d.New))
		}
		changes = strings.Join(parts, ", ")
	}

	fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
		c.CommittedAt.Format(time.RFC3339Nano), pglogrepl.LSN(c.Position), c.Schema+"."+c.Table, cut(key, maxWidth),
		c.Operation, cut(changes, maxWidth), cut(string(c.Context), maxWidth))
}

func orNone(v json.RawMessage) string {
	if v == nil {
		return "(none)"
	}

	return string(v)
}

// cut shortens s to width characters, marking the cut with an ellipsis,
// and replaces tabs and newlines so the table stays aligned.
func cut(s string, width int) string {
	s = strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(s)
	if width <= 0 || utf8.RuneCountInString(s) <= width {
		return s
	}

	return string([]rune(s)[:width-1]) + "…"
}

// addDestinationFlags adds the flags that name the changes table.
func addDestinationFlags(f *pflag.FlagSet) {
	f.String("destination-url", "", "database URL of the changes table (default $BEMI_DESTINATION_URL, else the source)")
	f.String("destination-schema", capture.DefaultDestinationSchema, "schema of the changes table in the destination")
}

// addFilterFlags adds the flags of history.Filter.
func addFilterFlags(f *pflag.FlagSet) {
	f.String("source-database", "", "source database name, when the changes table holds several")
	f.String("table", "", "source table: table (any schema) or schema.table")
	f.StringArray("primary-key", nil, `primary key: the value, or a JSON array for a composite key such as '["acme","42"]'; repeatable`)
	f.StringSlice("operation", nil, "operations, comma-separated: CREATE, UPDATE, DELETE, TRUNCATE")
	f.String("since", "", "earliest commit time, RFC 3339 (2024-05-01T10:00:00Z) or a date (2024-05-01)")
	f.String("until", "", "commit time before which changes end, in the form of --since")
	f.String("position", "", "commit LSN of one transaction, as 0/16B3748 or a decimal number")
	f.Int64("transaction-id", 0, "xid of one transaction")
	f.String("context", "", `JSON object the context must contain, such as '{"userId": 187234}'`)
}

// filterFromFlags reads the flags of addFilterFlags.
func filterFromFlags(f *pflag.FlagSet) (history.Filter, error) {
	var filter history.Filter
	filter.Database, _ = f.GetString("source-database")
	if table, _ := f.GetString("table"); strings.Contains(table, ".") {
		filter.Schema, filter.Table = history.SplitTableName(table)
	} else {
		filter.Table = table
	}
	filter.PrimaryKeys, _ = f.GetStringArray("primary-key")
	ops, _ := f.GetStringSlice("operation")
	for _, op := range ops {
		filter.Operations = append(filter.Operations, core.Operation(strings.ToUpper(op)))
	}
	filter.TransactionID, _ = f.GetInt64("transaction-id")

	var err error
	if filter.Since, err = timeFlag(f, "since"); err != nil {
		return filter, err
	}
	if filter.Until, err = timeFlag(f, "until"); err != nil {
		return filter, err
	}
	if position, _ := f.GetString("position"); position != "" {
		if filter.Position, err = parsePosition(position); err != nil {
			return filter, err
		}
	}
	if doc, _ := f.GetString("context"); doc != "" {
		if filter.Context, err = parseFields(doc); err != nil {
			return filter, fmt.Errorf("invalid --context: %w", err)
		}
	}

	return filter, nil
}

// parseFields decodes a JSON object, keeping numbers exact.
func parseFields(doc string) (core.Fields, error) {
	d := json.NewDecoder(strings.NewReader(doc))
	d.UseNumber()
	var fields core.Fields
	if err := d.Decode(&fields); err != nil || fields == nil {
		return nil, fmt.Errorf("want a JSON object such as {\"userId\": 187234}, got %q", doc)
	}

	return fields, nil
}

// parsePosition reads an LSN written as 0/16B3748 or as a decimal number.
func parsePosition(s string) (int64, error) {
	if strings.Contains(s, "/") {
		lsn, err := pglogrepl.ParseLSN(s)
		if err != nil {
			return 0, fmt.Errorf("invalid --position %q: %w", s, err)
		}

		return int64(lsn), nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid --position %q: write an LSN such as 0/16B3748 or a decimal number", s)
	}

	return n, nil
}

// timeFlag reads a time flag: RFC 3339 with or without fractions, or a date
// (midnight UTC). An empty flag is the zero time.
func timeFlag(f *pflag.FlagSet, name string) (time.Time, error) {
	s, _ := f.GetString(name)
	if s == "" {
		return time.Time{}, nil
	}

	return parseTime(name, s)
}

func parseTime(name, s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}

	return time.Time{}, fmt.Errorf("invalid --%s %q: write RFC 3339 (2024-05-01T10:00:00Z) or a date (2024-05-01)", name, s)
}

// destinationURL returns the destination database URL from
// --destination-url, $BEMI_DESTINATION_URL or the source URL, in the order
// bemi capture uses.
func destinationURL(cmd *cobra.Command) (string, error) {
	if u, _ := cmd.Flags().GetString("destination-url"); u != "" {
		return u, nil
	}
	if u := os.Getenv("BEMI_DESTINATION_URL"); u != "" {
		return u, nil
	}

	return sourceURL(cmd)
}

// openReader connects to the destination and returns a reader of its
// changes table.
func openReader(cmd *cobra.Command) (*history.Reader, *pgx.Conn, error) {
	dest, err := destinationURL(cmd)
	if err != nil {
		return nil, nil, err
	}
	conn, err := pgx.Connect(cmd.Context(), dest)
	if err != nil {
		// pgx removes the password from connection errors.
		return nil, nil, fmt.Errorf("connect to the destination database: %w", err)
	}
	schema, _ := cmd.Flags().GetString("destination-schema")

	return history.NewReader(conn, history.Config{Schema: schema}), conn, nil
}
