package main

import (
	"errors"

	"github.com/spf13/cobra"
)

func newSetupCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "setup",
		Short: "Install triggers, publication and replication slot in the source database",
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("setup: not implemented yet")
		},
	}
}

func newTeardownCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "teardown",
		Short: "Remove every object that setup created",
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("teardown: not implemented yet")
		},
	}
}
