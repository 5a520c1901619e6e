package webhookscmd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/voicectl/voicectl/cmd/internal/cmdutil"
	"github.com/voicectl/voicectl/server/webhook"
)

// printer writes events as they come: rows of a table on a terminal (the
// header once, fixed widths, since rows arrive one by one), one compact
// JSON object per line when piped, for jq and scripts.
type printer struct {
	io     *cmdutil.IOStreams
	header bool
}

func newPrinter(ios *cmdutil.IOStreams) *printer { return &printer{io: ios} }

const rowFormat = "%-12s  %-18s  %-16s  %-14s  %-24s  %-9s  %s\n"

func (p *printer) event(ev webhook.Event, body []byte) {
	if !p.io.IsTerminal {
		var buf bytes.Buffer
		if err := json.Compact(&buf, body); err != nil {
			buf.Reset()
			b, _ := json.Marshal(ev)
			buf.Write(b)
		}
		buf.WriteByte('\n')
		_, _ = p.io.Out.Write(buf.Bytes())
		return
	}
	if !p.header {
		p.header = true
		fmt.Fprintf(p.io.Out, rowFormat, "TIME", "TYPE", "ROOM", "SERVER", "PARTICIPANT", "REASON", "ID")
	}
	fmt.Fprintf(p.io.Out, rowFormat, ev.Time.Local().Format(time.TimeOnly+".000"), ev.Type, ev.Room, ev.Server,
		participant(ev), detail(ev), ev.ID)
}

func participant(ev webhook.Event) string {
	if ev.Participant == nil {
		return ""
	}
	if ev.Participant.Identity != "" {
		return ev.Participant.Identity + " (" + ev.Participant.ID + ")"
	}
	return ev.Participant.ID
}

// detail is the reason a participant left, a moved room's old server, or a
// dead server's rooms.
func detail(ev webhook.Event) string {
	switch {
	case ev.Reason != "":
		return ev.Reason
	case ev.From != "":
		return "from " + ev.From
	case len(ev.Rooms) > 0:
		return strings.Join(ev.Rooms, ",")
	}
	return ""
}
