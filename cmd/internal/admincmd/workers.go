package admincmd

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/voicectl/voicectl/admin"
	"github.com/voicectl/voicectl/cmd/internal/cmdutil"
	"github.com/voicectl/voicectl/server/wire"
)

// WorkersOptions are the inputs of `voicectl workers`.
type WorkersOptions struct {
	IO     *cmdutil.IOStreams
	Output string
	// Client connects to the server's admin API.
	Client func() (*admin.Client, error)
}

// NewCmdWorkers returns `voicectl workers`; runF replaces workersRun in tests.
func NewCmdWorkers(f *cmdutil.Factory, runF func(*WorkersOptions) error) *cobra.Command {
	opts := &WorkersOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:     "workers",
		Short:   "List a server's workers with their load, capacity and CPU",
		Example: "  voicectl workers\n  voicectl workers -o json --server http://10.0.0.5:7880",
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := cmdutil.CheckFormat(opts.Output); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return workersRun(opts)
		},
	}
	opts.Client = addConnectionFlags(f, cmd)
	cmdutil.AddOutputFlag(cmd, &opts.Output)
	return cmd
}

func workersRun(opts *WorkersOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	cx, cancel := ctx()
	defer cancel()
	ws, err := c.Workers(cx)
	if err != nil {
		return err
	}
	return cmdutil.PrintList(opts.IO, opts.Output, ws, workerColumns)
}

var workerColumns = []cmdutil.Column[wire.AdminWorker]{
	{Header: "worker", Cell: func(w wire.AdminWorker) string { return fmt.Sprint(w.Index) }},
	{Header: "pid", Cell: func(w wire.AdminWorker) string { return fmt.Sprint(w.PID) }},
	{Header: "port", Cell: func(w wire.AdminWorker) string { return fmt.Sprint(w.Port) }},
	{Header: "ready", Cell: func(w wire.AdminWorker) string { return admin.YesNo(w.Ready) }},
	{Header: "load", Cell: func(w wire.AdminWorker) string { return fmt.Sprint(w.Load) }},
	{Header: "capacity", Cell: func(w wire.AdminWorker) string { return fmt.Sprint(w.Capacity) }},
	{Header: "stress", Cell: func(w wire.AdminWorker) string { return percent(w.Stress) }},
	{Header: "routers", Cell: func(w wire.AdminWorker) string { return fmt.Sprint(w.Routers) }},
	{Header: "transports", Cell: func(w wire.AdminWorker) string { return fmt.Sprint(w.Transports) }},
	{Header: "producers", Cell: func(w wire.AdminWorker) string { return fmt.Sprint(w.Producers) }},
	{Header: "consumers", Cell: func(w wire.AdminWorker) string { return fmt.Sprint(w.Consumers) }},
	{Header: "pipes", Cell: func(w wire.AdminWorker) string { return fmt.Sprint(w.Pipes) }},
	{Header: "pps in", Cell: func(w wire.AdminWorker) string { return fmt.Sprintf("%.0f", w.PacketsInPerSecond) }},
	{Header: "pps out", Cell: func(w wire.AdminWorker) string { return fmt.Sprintf("%.0f", w.PacketsOutPerSecond) }},
	{Header: "cpu", Cell: func(w wire.AdminWorker) string { return fmt.Sprintf("%.1f%%", w.CPUPercent) }},
	{Header: "restarts", Cell: func(w wire.AdminWorker) string { return fmt.Sprint(w.Restarts) }},
}
