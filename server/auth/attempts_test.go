package auth

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAttemptsBlockAnAddressPastItsBurst(t *testing.T) {
	a := NewAttempts(0.001, 3) // no refill within the test
	require.False(t, a.Blocked("10.0.0.1:5000"))
	require.True(t, a.Failed("10.0.0.1:5000"), "the first failure is logged")
	require.False(t, a.Failed("10.0.0.1:5001"), "the same address, another port: not logged again")
	require.False(t, a.Blocked("10.0.0.1:5002"))
	a.Failed("10.0.0.1:5003")
	require.True(t, a.Blocked("10.0.0.1:9"), "three failures used the burst")
	require.False(t, a.Blocked("10.0.0.2:9"), "another address is not affected")
	require.True(t, a.Failed("10.0.0.2:9"))
}
