package admincmd

import (
	"github.com/spf13/cobra"

	"github.com/voicectl/voicectl/cmd/internal/cmdutil"
)

// NewCmdRooms returns `voicectl rooms` with list, show, close and move.
func NewCmdRooms(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rooms <command>",
		Short: "List, inspect and close rooms",
	}
	cmd.AddCommand(
		NewCmdRoomsList(f, nil),
		NewCmdRoomsShow(f, nil),
		NewCmdRoomsClose(f, nil),
		NewCmdRoomsMove(f, nil),
	)
	return cmd
}
