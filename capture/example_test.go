package capture_test

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/bemi-go/bemi/capture"
)

// Run a worker until SIGTERM or SIGINT, storing changes in another
// database and masking a column. Without a database at these URLs the
// example does nothing useful, so it is compiled but not run.
func ExampleNew() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	w, err := capture.New(capture.Config{
		SourceURL:      os.Getenv("DATABASE_URL"),
		DestinationURL: os.Getenv("BEMI_DESTINATION_URL"),
		Columns: map[string]capture.ColumnRule{
			"public.users": {Mask: []string{"email"}, Exclude: []string{"password_hash"}},
		},
	}, capture.WithLogger(slog.Default()))
	if err != nil {
		slog.Error("invalid configuration", "error", err)

		return
	}

	if err := w.Run(ctx); err != nil {
		slog.Error("capture failed", "error", err)
	}
}
