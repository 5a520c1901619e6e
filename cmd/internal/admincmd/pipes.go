package admincmd

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/voicectl/voicectl/admin"
	"github.com/voicectl/voicectl/cmd/internal/cmdutil"
	"github.com/voicectl/voicectl/server/wire"
)

// NewCmdPipes returns `voicectl pipes`; runF replaces pipesRun in tests.
func NewCmdPipes(f *cmdutil.Factory, runF func(*Options, []string) error) *cobra.Command {
	return newAdminCmd(f, &cobra.Command{
		Use:   "pipes",
		Short: "List the pipes that link routers of a room across workers",
		Args:  cobra.NoArgs,
	}, runF, pipesRun)
}

var pipeHeader = append(append([]string{}, admin.PipeHeader...), "addresses")

func pipeRows(ps []wire.AdminPipe) [][]string {
	rows := make([][]string, 0, len(ps))
	for _, p := range ps {
		rows = append(rows, append(admin.PipeRow(p), strings.Join(p.Addrs, " ")))
	}
	return rows
}

func pipesRun(o *Options, _ []string) error {
	c, err := o.Client()
	if err != nil {
		return err
	}
	cx, cancel := ctx()
	defer cancel()
	ps, err := c.Pipes(cx)
	if err != nil {
		return err
	}
	if o.Output != cmdutil.FormatTable {
		return cmdutil.PrintData(o.IO.Out, o.Output, ps)
	}
	return cmdutil.PrintTable(o.IO, pipeHeader, pipeRows(ps))
}
