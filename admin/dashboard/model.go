package dashboard

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/voicectl/voicectl/server/wire"
)

type page int

const (
	pageWorkers page = iota
	pageRooms
	pagePipes
	pageRoom    // a room's detail, opened from the rooms page
	pageServers // the cluster's servers, when pointed at voicectl api
)

var tabNames = []string{"Workers", "Rooms", "Pipes"}

// Minimum terminal size for a usable layout.
const minWidth, minHeight = 40, 10

// ClusterSource is the cluster API; *admin.Client is one.
type ClusterSource interface {
	Servers(ctx context.Context) ([]wire.ClusterServer, error)
	// ClusterRooms is the directory: every room with its server.
	ClusterRooms(ctx context.Context) ([]wire.ClusterRoom, error)
	// ClusterRoomPeers is a room's peers and their connection quality, from
	// its server through the API (GET /v1/rooms/{room}/peers).
	ClusterRoomPeers(ctx context.Context, room string) (wire.AdminRoomDetail, error)
}

// Params configures a Model: a server's Source, or a Cluster.
type Params struct {
	Source  Source
	Cluster ClusterSource
	Server  string // shown in the title
	Refresh time.Duration
	// Now is the clock heartbeat ages are read against (default time.Now).
	Now func() time.Time
}

// Model is the dashboard's root bubbletea model.
type Model struct {
	common  *Common
	src     Source
	cluster ClusterSource
	now     func() time.Time
	server  string
	refresh time.Duration

	page      page
	snap      Snapshot
	have      bool
	connected bool
	lastErr   string
	fetching  bool

	workers, rooms, pipes, peers, servers table
	openRoom                              string

	filter    textinput.Model
	filtering bool

	confirm *confirmation
	status  string

	help help.Model
}

// confirmation is an admin action waiting for y/n.
type confirmation struct {
	prompt string
	run    func(context.Context) (wire.AdminResult, error)
}

type (
	tickMsg struct{}
	// snapshotMsg is a fetch's result and the room it was fetched for: a
	// fetch begun before a room was opened answers without it.
	snapshotMsg struct {
		snap Snapshot
		room string
	}
	fetchErrMsg   struct{ err error }
	actionDoneMsg struct {
		res wire.AdminResult
		err error
	}
)

// New returns the dashboard model.
func New(p Params) Model {
	if p.Refresh <= 0 {
		p.Refresh = time.Second
	}
	ti := textinput.New()
	ti.Prompt = "/"
	ti.Placeholder = "room"
	m := Model{
		common:  &Common{Width: 80, Height: 24, Styles: DefaultStyles(), Keys: DefaultKeyMap()},
		src:     p.Source,
		cluster: p.Cluster,
		now:     p.Now,
		server:  p.Server,
		refresh: p.Refresh,
		filter:  ti,
		help:    help.New(),
		workers: table{selected: 0}, rooms: table{selected: 0}, pipes: table{selected: 0}, peers: table{selected: 0},
	}
	if m.now == nil {
		m.now = time.Now
	}
	if p.Cluster != nil {
		m.page = pageServers
	}
	return m
}

// tabs are the pages one can switch between.
func (m Model) tabs() []string {
	if m.cluster != nil {
		return clusterTabNames
	}
	return tabNames
}

// Init starts the first fetch.
func (m Model) Init() tea.Cmd { return m.fetchCmd() }

func (m Model) fetchCmd() tea.Cmd {
	src, cl, room := m.src, m.cluster, m.openRoom
	timeout := max(m.refresh*3, 2*time.Second)
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		var s Snapshot
		var err error
		if cl != nil {
			s, err = fetchCluster(ctx, cl, room)
		} else {
			s, err = fetch(ctx, src, room)
		}
		if err != nil {
			return fetchErrMsg{err}
		}
		return snapshotMsg{snap: s, room: room}
	}
}

func (m Model) tickCmd() tea.Cmd {
	return tea.Tick(m.refresh, func(time.Time) tea.Msg { return tickMsg{} })
}

// Update handles messages.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.common.Width, m.common.Height = msg.Width, msg.Height
		m.help.Width = msg.Width
		return m, nil
	case tickMsg:
		return m, m.fetchCmd()
	case snapshotMsg:
		if msg.room != m.openRoom {
			// Fetched before the room now open was opened (or after it was
			// left): its room part is not this page's; the next tick's is.
			msg.snap.Room = nil
			if m.page == pageRoom {
				msg.snap.Room = m.snap.Room
			}
		}
		m.snap, m.have, m.connected, m.lastErr = msg.snap, true, true, ""
		if m.page == pageRoom && msg.room == m.openRoom && m.snap.Room == nil {
			m.status = fmt.Sprintf("room %s is gone", m.openRoom)
			m.page, m.openRoom = pageRooms, ""
		}
		m.rebuild()
		return m, m.tickCmd()
	case fetchErrMsg:
		m.connected, m.lastErr = false, msg.err.Error()
		return m, m.tickCmd()
	case actionDoneMsg:
		if msg.err != nil {
			m.status = "failed: " + msg.err.Error()
		} else {
			m.status = msg.res.Message
		}
		return m, m.fetchCmd()
	case tea.KeyMsg:
		return m.key(msg)
	}
	if m.filtering {
		var cmd tea.Cmd
		m.filter, cmd = m.filter.Update(msg)
		return m, cmd
	}
	return m, nil
}

func (m Model) key(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	k := m.common.Keys
	if m.confirm != nil {
		switch {
		case key.Matches(msg, k.Yes):
			c := m.confirm
			m.confirm = nil
			m.status = "working…"
			return m, func() tea.Msg {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				res, err := c.run(ctx)
				return actionDoneMsg{res, err}
			}
		case key.Matches(msg, k.No), msg.String() == "ctrl+c":
			m.confirm, m.status = nil, "cancelled"
		}
		return m, nil
	}
	if m.filtering {
		switch msg.String() {
		case "enter", "esc":
			m.filtering = false
			m.filter.Blur()
			if msg.String() == "esc" {
				m.filter.SetValue("")
			}
			m.rebuild()
			return m, nil
		}
		var cmd tea.Cmd
		m.filter, cmd = m.filter.Update(msg)
		m.rebuild()
		return m, cmd
	}
	switch {
	case key.Matches(msg, k.Quit):
		return m, tea.Quit
	case key.Matches(msg, k.Help):
		m.help.ShowAll = !m.help.ShowAll
	case m.cluster != nil && (key.Matches(msg, k.NextTab) || key.Matches(msg, k.PrevTab)):
		// two pages: servers and rooms
		m.page, m.openRoom = map[bool]page{true: pageRooms, false: pageServers}[m.tab() == pageServers], ""
	case m.cluster != nil && (msg.String() == "1" || msg.String() == "2"):
		m.page, m.openRoom = map[bool]page{true: pageServers, false: pageRooms}[msg.String() == "1"], ""
	case m.cluster != nil && key.Matches(msg, k.Open) && m.page == pageServers:
		// From a hot server to its rooms: the rooms page filtered on it.
		if i := m.servers.selected; i >= 0 && i < len(m.snap.Servers) {
			m.page = pageRooms
			m.filter.SetValue(shortServer(m.snap.Servers[i].ID))
			m.rooms.selected = 0
			m.rebuild()
		}
	case m.cluster != nil && (key.Matches(msg, k.Kick) || key.Matches(msg, k.Mute) || key.Matches(msg, k.Close)):
		m.status = "read-only through the API: use voicectl peers/rooms on the room's server"
	case key.Matches(msg, k.NextTab):
		m.page = (m.tab() + 1) % page(len(tabNames))
		m.openRoom = ""
	case key.Matches(msg, k.PrevTab):
		m.page = (m.tab() + page(len(tabNames)) - 1) % page(len(tabNames))
		m.openRoom = ""
	case msg.String() >= "1" && msg.String() <= "3":
		m.page, m.openRoom = page(msg.String()[0]-'1'), ""
	case key.Matches(msg, k.Up):
		m.current().move(-1)
	case key.Matches(msg, k.Down):
		m.current().move(1)
	case key.Matches(msg, k.Open) && m.page == pageRooms:
		if id := m.selectedRoom(); id != "" {
			m.page, m.openRoom, m.peers.selected = pageRoom, id, 0
			m.snap.Room = nil
			m.rebuild()
			return m, m.fetchCmd()
		}
	case key.Matches(msg, k.Back) && m.page == pageRoom:
		m.page, m.openRoom = pageRooms, ""
	case key.Matches(msg, k.Filter) && m.page == pageRooms:
		m.filtering = true
		m.filter.Focus()
		return m, textinput.Blink
	case key.Matches(msg, k.Close) && (m.page == pageRooms || m.page == pageRoom):
		id := m.selectedRoom()
		if m.page == pageRoom {
			id = m.openRoom
		}
		if id != "" {
			src := m.src
			m.confirm = &confirmation{prompt: fmt.Sprintf("Close room %s and remove all its peers? [y/n]", id),
				run: func(ctx context.Context) (wire.AdminResult, error) { return src.CloseRoom(ctx, id) }}
		}
	case key.Matches(msg, k.Kick) && m.page == pageRoom:
		if p := m.selectedPeer(); p != nil {
			src, room, id := m.src, m.openRoom, p.ID
			m.confirm = &confirmation{prompt: fmt.Sprintf("Kick %s (%s) from %s? [y/n]", p.Identity, p.ID, room),
				run: func(ctx context.Context) (wire.AdminResult, error) { return src.Kick(ctx, room, id) }}
		}
	case key.Matches(msg, k.Mute) && m.page == pageRoom:
		if p := m.selectedPeer(); p != nil {
			src, room, id, mute := m.src, m.openRoom, p.ID, !p.Muted
			verb := map[bool]string{true: "Mute", false: "Unmute"}[mute]
			m.confirm = &confirmation{prompt: fmt.Sprintf("%s %s (%s)? [y/n]", verb, p.Identity, p.ID),
				run: func(ctx context.Context) (wire.AdminResult, error) { return src.Mute(ctx, room, id, mute) }}
		}
	}
	return m, nil
}

// tab is the tab a page belongs to.
func (m Model) tab() page {
	switch m.page {
	case pageRoom:
		return pageRooms
	case pageServers:
		return 0
	}
	return m.page
}

// clusterTabNames are the pages of a dashboard pointed at the API: the
// servers (tab 0) and the cluster's rooms (tab 1, pageRooms).
var clusterTabNames = []string{"Servers", "Rooms"}

func (m *Model) current() *table {
	switch m.page {
	case pageServers:
		return &m.servers
	case pageRooms:
		return &m.rooms
	case pagePipes:
		return &m.pipes
	case pageRoom:
		return &m.peers
	}
	return &m.workers
}

func (m Model) filteredRooms() []wire.AdminRoom {
	f := strings.ToLower(m.filter.Value())
	var out []wire.AdminRoom
	for _, r := range m.snap.Rooms {
		if f == "" || strings.Contains(strings.ToLower(r.ID), f) {
			out = append(out, r)
		}
	}
	return out
}

func (m Model) selectedRoom() string {
	if m.cluster != nil {
		rs := m.filteredClusterRooms()
		if m.rooms.selected >= 0 && m.rooms.selected < len(rs) {
			return rs[m.rooms.selected].Room
		}
		return ""
	}
	rs := m.filteredRooms()
	if m.rooms.selected >= 0 && m.rooms.selected < len(rs) {
		return rs[m.rooms.selected].ID
	}
	return ""
}

func (m Model) selectedPeer() *wire.AdminPeer {
	if m.snap.Room == nil || m.peers.selected < 0 || m.peers.selected >= len(m.snap.Room.PeerList) {
		return nil
	}
	return &m.snap.Room.PeerList[m.peers.selected]
}
