package main

import (
	"errors"

	"github.com/spf13/cobra"
)

func newCaptureCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "capture",
		Short: "Run the capture worker",
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("capture: not implemented yet")
		},
	}
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
