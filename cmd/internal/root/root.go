// Package root assembles the voicectl command tree and turns errors into exit codes.
package root

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/voicectl/voicectl/cmd/internal/admincmd"
	"github.com/voicectl/voicectl/cmd/internal/apicmd"
	"github.com/voicectl/voicectl/cmd/internal/cmdutil"
	"github.com/voicectl/voicectl/cmd/internal/loadgencmd"
	"github.com/voicectl/voicectl/cmd/internal/serve"
	"github.com/voicectl/voicectl/cmd/internal/token"
	"github.com/voicectl/voicectl/cmd/internal/version"
	"github.com/voicectl/voicectl/cmd/internal/webhookscmd"
	"github.com/voicectl/voicectl/cmd/internal/workercmd"
)

// Version is set at build time with -ldflags "-X .../root.Version=...".
var Version = "dev"

// NewCmdRoot returns the voicectl command.
func NewCmdRoot(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "voicectl <command>",
		Short: "Run and operate the voicectl voice server",
		Long: "voicectl runs a voice (audio) SFU built on pion/webrtc and the tools to operate it.\n" +
			"Start with `voicectl serve --dev` and open the printed URL in two browser tabs.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	cmd.SetOut(f.IO.Out)
	cmd.SetErr(f.IO.ErrOut)
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &cmdutil.UsageError{Err: err} })
	cmd.AddCommand(serve.NewCmdServe(f, nil))
	cmd.AddCommand(apicmd.NewCmdAPI(f, nil))
	cmd.AddCommand(token.NewCmdToken(f))
	cmd.AddCommand(version.NewCmdVersion(f))
	cmd.AddCommand(workercmd.NewCmdWorker(f))
	cmd.AddCommand(admincmd.NewCmdWorkers(f, nil))
	cmd.AddCommand(admincmd.NewCmdRooms(f))
	cmd.AddCommand(admincmd.NewCmdPeers(f, nil))
	cmd.AddCommand(admincmd.NewCmdPipes(f, nil))
	cmd.AddCommand(admincmd.NewCmdServers(f, nil))
	cmd.AddCommand(admincmd.NewCmdDashboard(f, nil))
	cmd.AddCommand(loadgencmd.NewCmdLoadgen(f))
	cmd.AddCommand(webhookscmd.NewCmdWebhooks(f))
	return cmd
}

// Main runs the command line and returns the exit code.
func Main(args []string) int {
	f := cmdutil.New(Version)
	cmd := NewCmdRoot(f)
	cmd.SetArgs(args)
	err := cmd.Execute()
	if err == nil {
		return cmdutil.ExitOK
	}
	var ue *cmdutil.UsageError
	if errors.As(err, &ue) {
		fmt.Fprintf(f.IO.ErrOut, "error: %v\nRun 'voicectl --help' for usage.\n", err)
	} else {
		fmt.Fprintf(f.IO.ErrOut, "error: %v\n", err)
	}
	return cmdutil.ExitCode(err)
}
