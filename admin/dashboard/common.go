// Package dashboard is the live terminal UI of `voicectl dashboard`, built with
// bubbletea: pages (workers, rooms, a room, pipes) made of components that share one
// Common (size, styles, keymap).
package dashboard

import (
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/lipgloss"
)

// Common is what every component shares.
type Common struct {
	Width, Height int
	Styles        *Styles
	Keys          KeyMap
}

// Styles are the dashboard's lipgloss styles.
type Styles struct {
	Title, Tab, ActiveTab, Header, Row, Selected, Faint, Error, Help, Bar, BarEmpty, Speaking, Dialog lipgloss.Style
}

// DefaultStyles returns the dashboard's look.
func DefaultStyles() *Styles {
	return &Styles{
		Title:     lipgloss.NewStyle().Bold(true),
		Tab:       lipgloss.NewStyle().Padding(0, 1),
		ActiveTab: lipgloss.NewStyle().Padding(0, 1).Bold(true).Reverse(true),
		Header:    lipgloss.NewStyle().Bold(true).Underline(true),
		Row:       lipgloss.NewStyle(),
		Selected:  lipgloss.NewStyle().Reverse(true),
		Faint:     lipgloss.NewStyle().Faint(true),
		Error:     lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("9")),
		Help:      lipgloss.NewStyle().Faint(true),
		Bar:       lipgloss.NewStyle().Foreground(lipgloss.Color("10")),
		BarEmpty:  lipgloss.NewStyle().Faint(true),
		Speaking:  lipgloss.NewStyle().Foreground(lipgloss.Color("10")).Bold(true),
		Dialog:    lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).Padding(0, 1),
	}
}

// KeyMap lists the dashboard's keys; help is rendered from it.
type KeyMap struct {
	NextTab, PrevTab, Up, Down, Open, Back, Filter, Kick, Mute, Close, Yes, No, Help, Quit key.Binding
}

// DefaultKeyMap returns the dashboard's keys.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		NextTab: key.NewBinding(key.WithKeys("tab", "right"), key.WithHelp("tab/→", "next view")),
		PrevTab: key.NewBinding(key.WithKeys("shift+tab", "left"), key.WithHelp("shift+tab/←", "previous view")),
		Up:      key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑", "up")),
		Down:    key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓", "down")),
		Open:    key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "open room")),
		Back:    key.NewBinding(key.WithKeys("esc", "backspace"), key.WithHelp("esc", "back")),
		Filter:  key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter rooms")),
		Kick:    key.NewBinding(key.WithKeys("K"), key.WithHelp("K", "kick peer")),
		Mute:    key.NewBinding(key.WithKeys("m"), key.WithHelp("m", "mute/unmute peer")),
		Close:   key.NewBinding(key.WithKeys("C"), key.WithHelp("C", "close room")),
		Yes:     key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "yes")),
		No:      key.NewBinding(key.WithKeys("n", "esc"), key.WithHelp("n", "no")),
		Help:    key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit:    key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
	}
}

// ShortHelp implements help.KeyMap.
func (k KeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.NextTab, k.Up, k.Down, k.Open, k.Filter, k.Help, k.Quit}
}

// FullHelp implements help.KeyMap.
func (k KeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{{k.NextTab, k.PrevTab, k.Up, k.Down}, {k.Open, k.Back, k.Filter}, {k.Kick, k.Mute, k.Close}, {k.Help, k.Quit}}
}
