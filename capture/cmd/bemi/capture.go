package main

import (
	"errors"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bemi-go/bemi/capture"
)

func newCaptureCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "capture",
		Short: "Run the capture worker",
		Long: `Run the capture worker: stream the source database's changes from the
replication slot that bemi setup created, stitch each to the context of its
statement, and store them in the changes table of the destination.

The worker runs until SIGTERM or SIGINT, then finishes the transaction in
progress, confirms what it stored and exits with status 0.`,
		RunE: runCapture,
	}

	f := cmd.Flags()
	f.String("destination-url", "", "destination database URL for the changes table (default $BEMI_DESTINATION_URL, else the source)")
	f.String("slot", capture.DefaultSlot, "logical replication slot name")
	f.String("publication", capture.DefaultPublication, "publication name")
	f.String("destination-schema", capture.DefaultDestinationSchema, "schema of the changes table in the destination")
	f.String("log-level", "info", "log level: debug, info, warn or error")

	return cmd
}

func runCapture(cmd *cobra.Command, args []string) error {
	source, err := sourceURL(cmd)
	if err != nil {
		return err
	}

	f := cmd.Flags()
	destination, _ := f.GetString("destination-url")
	if destination == "" {
		destination = os.Getenv("BEMI_DESTINATION_URL")
	}
	slot, _ := f.GetString("slot")
	publication, _ := f.GetString("publication")
	schema, _ := f.GetString("destination-schema")
	levelName, _ := f.GetString("log-level")

	var level slog.Level
	if err := level.UnmarshalText([]byte(strings.ToUpper(levelName))); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))

	w, err := capture.New(capture.Config{
		SourceURL:         source,
		DestinationURL:    destination,
		Slot:              slot,
		Publication:       publication,
		DestinationSchema: schema,
	}, capture.WithLogger(logger))
	if err != nil {
		return err
	}

	return w.Run(cmd.Context())
}

func newStatusCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the replication slot, lag and last checkpoint",
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("status: not implemented yet")
		},
	}
}
