// Command bemi sets up a PostgreSQL database for change tracking, runs the
// capture worker and reads the captured changes back.
//
//	bemi setup      install triggers, publication and replication slot
//	bemi teardown   remove everything setup installed
//	bemi capture    run the capture worker
//	bemi status     show the slot, lag and last checkpoint
//	bemi changes    list captured changes, filtered by table, key, time or context
//	bemi as-of      show a record or a table as it was at a time
//	bemi revert     undo a set of changes in one transaction (--dry-run shows the SQL)
//	bemi snapshot   record the current rows as the baseline for as-of
//
// The source database comes from --database-url or $DATABASE_URL, the
// destination of the changes table from --destination-url or
// $BEMI_DESTINATION_URL and defaults to the source.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if err := newRootCommand().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "bemi:", err)
		stop()
		os.Exit(1)
	}
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "bemi",
		Short:         "Automatic data change tracking for PostgreSQL",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().String("database-url", "", "source database URL (default $DATABASE_URL)")

	root.AddCommand(
		newSetupCommand(),
		newTeardownCommand(),
		newCaptureCommand(),
		newStatusCommand(),
		newChangesCommand(),
		newAsOfCommand(),
		newRevertCommand(),
		newSnapshotCommand(),
	)

	return root
}

// sourceURL returns the source database URL from --database-url or
// $DATABASE_URL.
func sourceURL(cmd *cobra.Command) (string, error) {
	if u, _ := cmd.Flags().GetString("database-url"); u != "" {
		return u, nil
	}
	if u := os.Getenv("DATABASE_URL"); u != "" {
		return u, nil
	}

	return "", fmt.Errorf("missing source database URL: set DATABASE_URL or pass --database-url")
}
