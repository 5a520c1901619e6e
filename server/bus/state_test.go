package bus

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// cutBus is a Local that says it lost its broker at since.
type cutBus struct {
	*Local
	since time.Time
}

func (c cutBus) Connected() bool      { return c.since.IsZero() }
func (c cutBus) Reconnects() uint64   { return 0 }
func (c cutBus) DownSince() time.Time { return c.since }

func TestStateOf(t *testing.T) {
	l := NewLocal()
	t.Cleanup(func() { _ = l.Close() })
	require.Equal(t, State{Connected: true}, StateOf(l), "an in-process bus is always connected")
	require.Equal(t, State{Connected: true}, StateOf(cutBus{Local: l}))
	since := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	require.Equal(t, State{DownSince: since}, StateOf(cutBus{Local: l, since: since}))
}
