package loadgen

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSpanCountsLossInsideTheSpan(t *testing.T) {
	var s span
	// From 65530 across the wrap to 9: 16 numbers, 3 lost, one duplicated,
	// one reordered.
	for _, seq := range []uint16{65530, 65531, 65533, 65532, 65534, 65535, 0, 1, 1, 2, 6, 7, 8, 9} {
		s.add(seq)
	}
	exp, got := s.counts()
	require.Equal(t, uint64(16), exp)
	require.Equal(t, uint64(13), got)
}

func TestSpanLateOldPacketWidensTheSpan(t *testing.T) {
	var s span
	for _, seq := range []uint16{10, 11, 12, 8} {
		s.add(seq)
	}
	exp, got := s.counts()
	require.Equal(t, uint64(5), exp) // 8..12, 9 missing
	require.Equal(t, uint64(4), got)
}

func TestSpanJumpStartsANewSpan(t *testing.T) {
	var s span
	for seq := uint16(100); seq < 110; seq++ {
		s.add(seq)
	}
	for seq := uint16(40000); seq < 40005; seq++ {
		s.add(seq)
	}
	a := &admission{spans: map[uint32]*span{7: &s}}
	exp, got, streams, jumps := a.totals()
	require.Equal(t, uint64(15), exp)
	require.Equal(t, uint64(15), got)
	require.Equal(t, 1, streams)
	require.Equal(t, 1, jumps)
}

func TestSpanLongStreamAcrossManyWraps(t *testing.T) {
	var s span
	n := 3*65536 + 17
	for i := 0; i < n; i++ {
		if i == 70000 {
			continue // one loss
		}
		s.add(uint16(i))
	}
	exp, got := s.counts()
	require.Equal(t, uint64(n), exp)
	require.Equal(t, uint64(n-1), got)
}
