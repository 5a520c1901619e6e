package admincmd

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/voicectl/voicectl/admin"
	"github.com/voicectl/voicectl/cmd/internal/cmdutil"
	"github.com/voicectl/voicectl/server/wire"
)

// NewCmdWorkers returns `voicectl workers`; runF replaces workersRun in tests.
func NewCmdWorkers(f *cmdutil.Factory, runF func(*Options, []string) error) *cobra.Command {
	return newAdminCmd(f, &cobra.Command{
		Use:     "workers",
		Short:   "List a server's workers with their load, capacity and CPU",
		Example: "  voicectl workers\n  voicectl workers -o json --server http://10.0.0.5:7880",
		Args:    cobra.NoArgs,
	}, runF, workersRun)
}

func workersRun(o *Options, _ []string) error {
	c, err := o.Client()
	if err != nil {
		return err
	}
	cx, cancel := ctx()
	defer cancel()
	ws, err := c.Workers(cx)
	if err != nil {
		return err
	}
	if o.Output != cmdutil.FormatTable {
		return cmdutil.PrintData(o.IO.Out, o.Output, ws)
	}
	return cmdutil.PrintTable(o.IO, workerHeader, workerRows(ws))
}

var workerHeader = []string{"worker", "pid", "port", "ready", "load", "capacity", "stress", "routers", "transports", "producers", "consumers", "pipes", "pps in", "pps out", "cpu", "restarts"}

func workerRows(ws []wire.AdminWorker) [][]string {
	rows := make([][]string, 0, len(ws))
	for _, w := range ws {
		rows = append(rows, []string{
			fmt.Sprint(w.Index), fmt.Sprint(w.PID), fmt.Sprint(w.Port), admin.YesNo(w.Ready),
			fmt.Sprint(w.Load), fmt.Sprint(w.Capacity), fmt.Sprintf("%.0f%%", 100*w.Stress),
			fmt.Sprint(w.Routers), fmt.Sprint(w.Transports), fmt.Sprint(w.Producers), fmt.Sprint(w.Consumers), fmt.Sprint(w.Pipes),
			fmt.Sprintf("%.0f", w.PacketsInPerSecond), fmt.Sprintf("%.0f", w.PacketsOutPerSecond),
			fmt.Sprintf("%.1f%%", w.CPUPercent), fmt.Sprint(w.Restarts),
		})
	}
	return rows
}
