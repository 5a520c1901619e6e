// Package admincmd implements the admin commands: workers, rooms, peers, pipes,
// servers and the dashboard. They talk to a server's admin API, or to the
// cluster API, through the admin package.
//
// Each command follows cli/cli's shape: NewCmdX parses flags and arguments
// into its own XOptions and calls xRun(opts), which needs no terminal and no
// cobra; runF replaces xRun in tests of the flag parsing.
package admincmd

import (
	"context"
	"fmt"
	"time"
)

// requestTimeout bounds one call to an admin or cluster API.
const requestTimeout = 15 * time.Second

func ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), requestTimeout)
}

// age renders a duration the way people read it: 45s, 12m, 3h, 2d.
func age(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// percent renders a 0..1 ratio (stress) as a whole percentage.
func percent(ratio float64) string {
	return fmt.Sprintf("%.0f%%", 100*ratio)
}
