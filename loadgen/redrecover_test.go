package loadgen

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/client"
)

func TestREDKeepsThePacketsAfterAGap(t *testing.T) {
	var st stream
	require.False(t, st.redKeep(100))
	require.False(t, st.redKeep(101))
	require.True(t, st.redKeep(103), "102 is missing: 103 carries it")
	require.True(t, st.redKeep(104), "and the next, for a second block")
	require.False(t, st.redKeep(105))
	require.False(t, st.redKeep(102), "a late packet is no gap")
}

func TestREDRecoversTheFrameBefore(t *testing.T) {
	lis := &peer{streams: map[uint32]*stream{}}
	st := lis.stream(5)
	now := time.Now()
	st.add(10, 0, now)
	st.nackCheck(10, now, nil)
	st.add(12, 2*960, now)
	require.Equal(t, []uint16{11}, st.nackCheck(12, now, nil))
	lis.onRedundancy("", 5, 12, []client.REDBlock{{TimestampOffset: 960, Data: []byte{1}}})
	require.True(t, st.seen.has(11), "11's frame came in 12")
	require.NotContains(t, st.pending(), uint16(11), "and is not asked for again")
	require.Equal(t, uint64(1), lis.redRecovered.Load())
	lis.onRedundancy("", 5, 12, []client.REDBlock{{TimestampOffset: 960, Data: []byte{1}}})
	require.Equal(t, uint64(1), lis.redRecovered.Load(), "once")
	lis.onRedundancy("", 5, 13, []client.REDBlock{{TimestampOffset: 960, Data: []byte{1}}})
	require.Equal(t, uint64(1), lis.redRecovered.Load(), "12 had come: nothing recovered")
	lis.onRedundancy("", 5, 20, []client.REDBlock{{TimestampOffset: 500, Data: []byte{1}}, {TimestampOffset: 960}})
	require.Equal(t, uint64(1), lis.redRecovered.Load(), "an offset off the 20 ms grid, or an empty block, recovers nothing")
	_, other := rawLost(&peer{}, st, 10, 13)
	require.Zero(t, other, "a recovered frame is no loss")
}
