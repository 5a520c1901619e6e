package wire

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCodeOf(t *testing.T) {
	errFull := NewError(CodeNoCapacity, "full")
	require.Equal(t, Code(""), CodeOf(nil))
	require.Equal(t, CodeNoCapacity, CodeOf(errFull))
	require.Equal(t, CodeNoCapacity, CodeOf(fmt.Errorf("join: %w", errFull)), "wrapped, the code stays")
	require.Equal(t, CodeInternal, CodeOf(errors.New("boom")), "an uncoded error is internal")
	require.Equal(t, CodeUnavailable, CodeOf(errors.Join(errors.New("x"), NewError(CodeUnavailable, "down"))))
	require.ErrorIs(t, fmt.Errorf("x: %w", errFull), errFull)
	require.NotErrorIs(t, NewError(CodeNoCapacity, "full"), errFull, "sentinels compare by identity, not by code")
	require.Equal(t, "full", errFull.Error())
}
