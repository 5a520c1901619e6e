package dashboard

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/voicectl/voicectl/admin"
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/wire"
)

// rebuild turns the snapshot into the tables' rows.
func (m *Model) rebuild() {
	m.workers.header = []string{"WORKER", "STATE", "LOAD", "", "STRESS", "CPU", "ROUTERS", "PEERS", "PIPES", "PPS IN", "PPS OUT", "RESTARTS"}
	m.workers.rows = nil
	for _, w := range m.snap.Workers {
		state := "up"
		if !w.Ready {
			state = "down"
		}
		m.workers.rows = append(m.workers.rows, []string{
			fmt.Sprint(w.Index), state, bar(m.common, max(w.Load, w.ReservedLoad), w.Capacity, 10), fmt.Sprintf("%d/%d", max(w.Load, w.ReservedLoad), w.Capacity),
			fmt.Sprintf("%.0f%%", 100*w.Stress), fmt.Sprintf("%.1f%%", w.CPUPercent), fmt.Sprint(w.Routers), fmt.Sprint(w.Transports),
			fmt.Sprint(w.Pipes), fmt.Sprintf("%.0f", w.PacketsInPerSecond), fmt.Sprintf("%.0f", w.PacketsOutPerSecond), fmt.Sprint(w.Restarts),
		})
	}
	m.workers.clamp()

	m.rooms.header = []string{"ROOM", "PEERS", "PUBLISHERS", "WORKERS", "PIPES", "SPEAKING"}
	m.rooms.rows = nil
	for _, r := range m.filteredRooms() {
		m.rooms.rows = append(m.rooms.rows, []string{r.ID, fmt.Sprint(r.Peers), fmt.Sprint(r.Publishers), admin.RouterWorkers(r.Routers), fmt.Sprint(r.Pipes), speakers(r.Speakers)})
	}
	m.rooms.clamp()
	if m.cluster != nil {
		m.clusterRoomRows()
	}

	m.pipes.header = upper(admin.PipeHeader)
	m.pipes.rows = pipeRows(m.snap.Pipes)
	m.pipes.clamp()

	m.peers.header = []string{"PEER", "IDENTITY", "WORKER", "PUBLISHING", "MUTED", "SPEAKING", "PATH", "LOSS", "JITTER", "RTT", "QUALITY"}
	m.peers.rows = nil
	if d := m.snap.Room; d != nil {
		speaking := map[string]bool{}
		for _, s := range d.Speakers {
			speaking[s.PeerID] = true
		}
		for _, p := range d.PeerList {
			loss, jitter, rtt, quality := admin.QualityCells(p)
			m.peers.rows = append(m.peers.rows, []string{p.ID, p.Identity, fmt.Sprint(p.Worker), admin.YesNo(p.Publishing), admin.YesNo(p.Muted), map[bool]string{true: "●", false: ""}[speaking[p.ID]], p.Path,
				loss, jitter, rtt, quality})
		}
	}
	m.peers.clamp()

	m.servers.header = []string{"SERVER", "STATE", "STRESS", "", "WORKERS", "ROOMS", "PEERS", "NEW ROOMS", "HEARTBEAT", "URL"}
	m.servers.rows = nil
	for _, sv := range m.snap.Servers {
		var ws []string
		for _, w := range sv.Workers {
			ws = append(ws, fmt.Sprintf("%.0f%%", 100*w.Stress))
		}
		id := shortServer(sv.ID)
		beat := "-"
		if !sv.LastSeen.IsZero() {
			beat = fmt.Sprintf("%.1fs", m.now().Sub(sv.LastSeen).Seconds())
		}
		m.servers.rows = append(m.servers.rows, []string{id, serverState(sv), bar(m.common, int(100*sv.Stress), 100, 10), fmt.Sprintf("%.0f%%", 100*sv.Stress),
			strings.Join(ws, " "), fmt.Sprint(sv.Rooms), fmt.Sprint(sv.Peers), admin.YesNo(sv.Accepting), beat, sv.SignalURL})
	}
	m.servers.clamp()
}

func pipeRows(ps []wire.AdminPipe) [][]string {
	rows := make([][]string, 0, len(ps))
	for _, p := range ps {
		rows = append(rows, admin.PipeRow(p))
	}
	return rows
}

func speakers(ss []wire.Speaker) string {
	names := make([]string, 0, len(ss))
	for _, s := range ss {
		n := s.Identity
		if n == "" {
			n = s.PeerID
		}
		names = append(names, n)
	}
	return strings.Join(names, ", ")
}

// View renders the dashboard.
func (m Model) View() string {
	c, st := m.common, m.common.Styles
	if c.Width < minWidth || c.Height < minHeight {
		return fmt.Sprintf("Terminal too small (%dx%d); need at least %dx%d.", c.Width, c.Height, minWidth, minHeight)
	}
	var lines []string
	conn := "● connected"
	switch {
	case !m.have && m.lastErr == "":
		conn = "○ connecting…"
	case !m.connected:
		conn = st.Error.Render("○ disconnected — retrying: " + m.lastErr)
	}
	if since := apiBusDownSince(m.snap.Servers); !since.IsZero() {
		// Every heartbeat age grows while the API is off the broker: say so
		// first, so an outage is not read as a cluster of dying servers.
		conn += "  " + st.Error.Render(fmt.Sprintf("API off the message broker since %s (%.0fs): heartbeat ages are the outage's",
			since.Local().Format(time.TimeOnly), m.now().Sub(since).Seconds()))
	}
	lines = append(lines, ansi.Truncate(st.Title.Render("voicectl dashboard")+"  "+m.server+"  "+conn, c.Width, "…"))

	var tabs []string
	for i, name := range m.tabs() {
		label := fmt.Sprintf("%d %s", i+1, name)
		if page(i) == m.tab() {
			tabs = append(tabs, st.ActiveTab.Render(label))
		} else {
			tabs = append(tabs, st.Tab.Render(label))
		}
	}
	lines = append(lines, ansi.Truncate(strings.Join(tabs, " "), c.Width, "…"), "")

	helpView := m.help.View(c.Keys)
	switch {
	case m.page == pageRoom && m.cluster != nil:
		helpView = m.help.ShortHelpView([]keyBinding{c.Keys.Up, c.Keys.Down, c.Keys.Back, c.Keys.Quit})
	case m.page == pageRoom:
		helpView = m.help.ShortHelpView([]keyBinding{c.Keys.Up, c.Keys.Down, c.Keys.Kick, c.Keys.Mute, c.Keys.Close, c.Keys.Back, c.Keys.Quit})
	}
	footer := strings.Count(helpView, "\n") + 1
	bodyHeight := c.Height - len(lines) - footer - 1
	faint := !m.connected && m.have
	var body string
	switch m.page {
	case pageWorkers:
		body = m.workers.view(c, bodyHeight, faint, false)
	case pageRooms:
		if m.filtering || m.filter.Value() != "" {
			body = m.filter.View() + "\n"
			bodyHeight--
		}
		body += m.rooms.view(c, bodyHeight, faint, true)
	case pagePipes:
		body = m.pipes.view(c, bodyHeight, faint, false)
	case pageServers:
		body = m.servers.view(c, bodyHeight, faint, false)
	case pageRoom:
		body = m.roomView(bodyHeight, faint)
	}
	bodyLines := strings.Split(body, "\n")
	for len(bodyLines) < bodyHeight {
		bodyLines = append(bodyLines, "")
	}
	lines = append(lines, bodyLines[:bodyHeight]...)

	status := m.status
	if m.confirm != nil {
		status = st.Dialog.UnsetBorderStyle().Bold(true).Render(m.confirm.prompt)
	}
	lines = append(lines, ansi.Truncate(status, c.Width, "…"), helpView)
	return strings.Join(lines, "\n")
}

func (m Model) roomView(height int, faint bool) string {
	d := m.snap.Room
	if d == nil {
		return "Loading room " + m.openRoom + "…"
	}
	st := m.common.Styles
	title := st.Title.Render(fmt.Sprintf("Room %s", d.ID)) + fmt.Sprintf("  peers %d, publishers %d, routers on workers %s, pipes %d", d.Peers, d.Publishers, admin.RouterWorkers(d.Routers), d.Pipes)
	if m.cluster != nil {
		for _, r := range m.snap.ClusterRooms {
			if r.Room == d.ID {
				title += ", server " + shortServer(r.Server)
			}
		}
	}
	out := ansi.Truncate(title, m.common.Width, "…") + "\n"
	pipeLines := 0
	if len(d.PipeList) > 0 {
		pipeLines = len(d.PipeList) + 2
	}
	out += m.peers.view(m.common, max(2, height-1-pipeLines), faint, true)
	if pipeLines > 0 {
		t := table{header: upper(admin.PipeHeader), rows: pipeRows(d.PipeList), selected: -1}
		out += "\n\n" + t.view(m.common, pipeLines-1, faint, false)
	}
	return out
}

func upper(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.ToUpper(s)
	}
	return out
}

// serverState is the registry's state, "live (off bus)" for a server cut
// from the broker that answers the API's probe: alive and keeping its
// rooms, which a dead server is not.
func serverState(sv wire.ClusterServer) string {
	if sv.OffBus && sv.State != cluster.ServerDead {
		return string(sv.State) + " (off bus)"
	}
	return string(sv.State)
}

// apiBusDownSince is when the API lost the message broker, as its servers
// list says (zero while it has it, or when not pointed at the API).
func apiBusDownSince(ss []wire.ClusterServer) time.Time {
	for _, s := range ss {
		if !s.APIBusDownSince.IsZero() {
			return s.APIBusDownSince
		}
	}
	return time.Time{}
}
