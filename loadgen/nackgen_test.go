package loadgen

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestNACKGeneratorAsksRetriesAndGivesUp(t *testing.T) {
	var st stream
	t0 := time.Now()
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	require.Empty(t, st.nackCheck(65534, at(0), nil), "the first packet starts the stream")
	require.Empty(t, st.nackCheck(65535, at(20), nil))
	require.Equal(t, []uint16{0, 1}, st.nackCheck(2, at(80), nil), "a gap across the wrap is asked for at once")
	require.Empty(t, st.nackCheck(3, at(100), nil), "not again before nackRetry")
	require.Empty(t, st.nackCheck(0, at(110), nil), "0 came (a retransmission): no more asking for it")
	require.Equal(t, []uint16{1}, st.nackCheck(4, at(180), nil), "1 is still missing: asked again")
	require.Equal(t, []uint16{1}, st.nackCheck(5, at(280), nil), "a third time")
	require.Empty(t, st.nackCheck(6, at(380), nil), "nackTries reached: given up")
	require.Empty(t, st.pending(), "and forgotten")

	require.Empty(t, st.nackCheck(6+nackMaxGap+1, at(400), nil), "a jump past nackMaxGap is a restart, not a loss")
	require.Empty(t, st.nackCheck(5, at(420), nil), "an old packet asks for nothing")
}

func (s *stream) pending() map[uint16]*nackEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nack.pending
}
