package admincmd

import (
	"fmt"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/spf13/cobra"

	"github.com/voicectl/voicectl/admin"
	"github.com/voicectl/voicectl/admin/dashboard"
	"github.com/voicectl/voicectl/cmd/internal/cmdutil"
)

// DashboardOptions are the inputs of `voicectl dashboard`.
type DashboardOptions struct {
	IO *cmdutil.IOStreams
	// Client connects to the server's admin API.
	Client func() (*admin.Client, error)
	// APIClient connects to the cluster API.
	APIClient func() (*admin.Client, error)
	// Cluster is set when --api was given: show the cluster's servers.
	Cluster bool
	// Refresh is how often the views reload.
	Refresh time.Duration
}

// NewCmdDashboard returns `voicectl dashboard`.
func NewCmdDashboard(f *cmdutil.Factory, runF func(*DashboardOptions) error) *cobra.Command {
	opts := &DashboardOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "dashboard",
		Short: "Live terminal UI of a server's workers, rooms, peers and pipes (with --api: the cluster's servers and rooms)",
		Long: "dashboard shows a server's workers (load against capacity, stress, CPU, restarts), rooms\n" +
			"(peers, routers, who is speaking), a room's peers and pipes, and the pipes. Kick, mute and\n" +
			"close act on the server after a confirmation. It reconnects by itself when the server goes away.\n" +
			"With --api it shows the cluster: its servers, its rooms with their server (enter on a server\n" +
			"lists its rooms), and a room's peers with their connection quality (read-only).",
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			opts.Cluster = c.Flags().Changed("api")
			if opts.Refresh < 100*time.Millisecond {
				return &cmdutil.UsageError{Err: fmt.Errorf("--refresh must be at least 100ms")}
			}
			if runF != nil {
				return runF(opts)
			}
			return dashboardRun(opts)
		},
	}
	opts.Client = addConnectionFlags(f, cmd)
	opts.APIClient = addAPIFlags(f, cmd)
	cmd.Flags().DurationVar(&opts.Refresh, "refresh", time.Second, "how often to refresh")
	return cmd
}

func dashboardRun(o *DashboardOptions) error {
	if o.Cluster {
		// Pointed at voicectl api: the cluster's servers page.
		c, err := o.APIClient()
		if err != nil {
			return err
		}
		m := dashboard.New(dashboard.Params{Cluster: c, Server: c.BaseURL, Refresh: o.Refresh})
		_, err = tea.NewProgram(m, tea.WithAltScreen(), tea.WithInput(o.IO.In), tea.WithOutput(o.IO.Out)).Run()
		return err
	}
	c, err := o.Client()
	if err != nil {
		return err
	}
	m := dashboard.New(dashboard.Params{Source: c, Server: c.BaseURL, Refresh: o.Refresh})
	_, err = tea.NewProgram(m, tea.WithAltScreen(), tea.WithInput(o.IO.In), tea.WithOutput(o.IO.Out)).Run()
	return err
}
