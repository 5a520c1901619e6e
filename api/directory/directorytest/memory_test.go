package directorytest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMemoryConforms(t *testing.T) { Conform(t, New()) }

func TestMemorySetDownFailsEveryCallUntilUp(t *testing.T) {
	ctx := context.Background()
	m := New()
	_, _, err := m.Create(ctx, "r", "a")
	require.NoError(t, err)
	m.SetDown(true)
	require.ErrorIs(t, m.Check(ctx), ErrDown)
	_, err = m.Get(ctx, "r")
	require.ErrorIs(t, err, ErrDown)
	_, err = m.List(ctx, "")
	require.ErrorIs(t, err, ErrDown)
	_, err = m.Move(ctx, "r", "a", "b")
	require.ErrorIs(t, err, ErrDown)
	require.ErrorIs(t, m.Delete(ctx, "r"), ErrDown)
	m.SetDown(false)
	r, err := m.Get(ctx, "r")
	require.NoError(t, err)
	require.Equal(t, "a", string(r.Server), "nothing changed while down")
}

func TestMemoryAnswersACanceledContextWithItsError(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	m := New()
	_, _, err := m.Create(ctx, "r", "a")
	require.ErrorIs(t, err, context.Canceled)
	_, err = m.Get(context.Background(), "r")
	require.Error(t, err, "nothing was created")
}
