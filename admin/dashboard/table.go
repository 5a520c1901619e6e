package dashboard

import (
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
)

// table is a component: rows under a header, one selectable, fitted to a width and
// a height (scrolling to keep the selection visible).
type table struct {
	header   []string
	rows     [][]string
	selected int // -1: no selection shown
}

func (t *table) clamp() {
	if t.selected >= len(t.rows) {
		t.selected = len(t.rows) - 1
	}
	if t.selected < 0 && len(t.rows) > 0 {
		t.selected = 0
	}
}

func (t *table) move(d int) {
	t.selected += d
	if t.selected < 0 {
		t.selected = 0
	}
	t.clamp()
}

func (t *table) view(c *Common, height int, faint bool, selectable bool) string {
	widths := make([]int, len(t.header))
	for i, h := range t.header {
		widths[i] = lipgloss.Width(h)
	}
	for _, r := range t.rows {
		for i, cell := range r {
			if i < len(widths) && lipgloss.Width(cell) > widths[i] {
				widths[i] = lipgloss.Width(cell)
			}
		}
	}
	line := func(cells []string) string {
		parts := make([]string, len(cells))
		for i, cell := range cells {
			parts[i] = cell + strings.Repeat(" ", max(0, widths[i]-lipgloss.Width(cell)))
		}
		return ansi.Truncate(strings.TrimRight(strings.Join(parts, "  "), " "), c.Width, "…")
	}
	var b strings.Builder
	b.WriteString(c.Styles.Header.Render(line(t.header)))
	if height < 2 {
		return b.String()
	}
	visible := height - 1
	start := 0
	if t.selected >= visible {
		start = t.selected - visible + 1
	}
	for i := start; i < len(t.rows) && i < start+visible; i++ {
		b.WriteByte('\n')
		l := line(t.rows[i])
		switch {
		case faint:
			l = c.Styles.Faint.Render(l)
		case selectable && i == t.selected:
			l = c.Styles.Selected.Render(l)
		}
		b.WriteString(l)
	}
	if len(t.rows) == 0 {
		b.WriteString("\n" + c.Styles.Faint.Render("(none)"))
	}
	return b.String()
}

// bar renders used/capacity as a load bar of the given width.
func bar(c *Common, used, capacity, width int) string {
	if width < 3 || capacity <= 0 {
		return ""
	}
	filled := used * width / capacity
	filled = min(max(filled, 0), width)
	return c.Styles.Bar.Render(strings.Repeat("█", filled)) + c.Styles.BarEmpty.Render(strings.Repeat("░", width-filled))
}
