// Package workercmd implements the hidden `voicectl worker`, the media process that
// `voicectl serve` starts once per core.
package workercmd

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/voicectl/voicectl/cmd/internal/cmdutil"
	"github.com/voicectl/voicectl/server/worker"
)

// NewCmdWorker returns `voicectl worker`.
func NewCmdWorker(_ *cmdutil.Factory) *cobra.Command {
	var level string
	cmd := &cobra.Command{
		Use:    "worker",
		Short:  "Run a media worker (started by serve; speaks IPC on stdin/stdout)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			l, err := cmdutil.ParseLevel(level)
			if err != nil {
				return &cmdutil.UsageError{Err: err}
			}
			if code := worker.Main(l); code != 0 {
				return fmt.Errorf("worker exited with code %d", code)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&level, "log-level", "info", "log level")
	return cmd
}
