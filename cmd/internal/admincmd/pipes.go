package admincmd

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/voicectl/voicectl/admin"
	"github.com/voicectl/voicectl/cmd/internal/cmdutil"
	"github.com/voicectl/voicectl/server/wire"
)

// PipesOptions are the inputs of `voicectl pipes`.
type PipesOptions struct {
	IO     *cmdutil.IOStreams
	Output string
	// Client connects to the server's admin API.
	Client func() (*admin.Client, error)
}

// NewCmdPipes returns `voicectl pipes`; runF replaces pipesRun in tests.
func NewCmdPipes(f *cmdutil.Factory, runF func(*PipesOptions) error) *cobra.Command {
	opts := &PipesOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "pipes",
		Short: "List the pipes that link routers of a room across workers",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := cmdutil.CheckFormat(opts.Output); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return pipesRun(opts)
		},
	}
	opts.Client = addConnectionFlags(f, cmd)
	cmdutil.AddOutputFlag(cmd, &opts.Output)
	return cmd
}

func pipesRun(opts *PipesOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	cx, cancel := ctx()
	defer cancel()
	ps, err := c.Pipes(cx)
	if err != nil {
		return err
	}
	return cmdutil.PrintList(opts.IO, opts.Output, ps, pipeColumns)
}

// pipeColumns are the dashboard's pipe cells (admin.PipeRow) and the addresses.
var pipeColumns = append(cmdutil.ColumnsOf(admin.PipeHeader, admin.PipeRow),
	cmdutil.Column[wire.AdminPipe]{Header: "addresses", Cell: func(p wire.AdminPipe) string { return strings.Join(p.Addrs, " ") }})
