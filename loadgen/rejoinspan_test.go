package loadgen

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/client"
)

func TestSpanStartIsTheLaterTakeOver(t *testing.T) {
	qOld, qNew := &client.Client{}, &client.Client{}
	tests := []struct {
		name                 string
		qClient              *client.Client
		marks                map[bool]spanMark // l's mark of q, when it has one
		lRejoined, qRejoined bool
		want                 uint16
	}{
		{"neither rejoined: the window's start", qOld, nil, false, false, 100},
		{"only the publisher rejoined: its new client's first", qNew, nil, false, true, 5000},
		{"only the listener rejoined: where the publisher was then", qOld, map[bool]spanMark{true: {c: qOld, seq: 300}}, true, false, 300},
		{"the listener took over after the publisher's new client", qNew, map[bool]spanMark{true: {c: qNew, seq: 5100}}, true, true, 5100},
		{"the publisher took over after the listener", qNew, map[bool]spanMark{true: {c: qOld, seq: 300}}, true, true, 5000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := &peer{publish: true, c: tt.qClient, joinSeq: 5000}
			l := &peer{}
			if m, ok := tt.marks[true]; ok {
				l.marks = map[*peer]spanMark{q: m}
			}
			require.Equal(t, tt.want, spanStart(l, q, 100, tt.lRejoined, tt.qRejoined))
		})
	}
}

func TestRejoinedSpanCountsLossFromTheFirstPacketHeard(t *testing.T) {
	st := &stream{}
	// The publisher's new client sent 65530…65535, 0…9 (wrapping); the
	// listener heard from 65533 on, missing 2 and 5.
	for seq := uint16(65533); seq != 10; seq++ {
		if seq != 2 && seq != 5 {
			st.seen.set(seq)
		}
	}
	from, got := rejoinedSpan(st, 65530, 10)
	require.Same(t, st, got)
	require.Equal(t, uint16(65533), from, "the subscription's delay is the gap, not loss")
	require.Equal(t, uint64(13), seqCount(from, 10))
	require.Equal(t, uint64(11), st.countRange(from, 10), "two lost over the span")

	from, got = rejoinedSpan(&stream{}, 65530, 10)
	require.Nil(t, got, "nothing of the span heard: the stream is missing")
	require.Equal(t, uint16(65530), from, "and all of it is lost")
	from, got = rejoinedSpan(nil, 7, 10)
	require.Nil(t, got)
	require.Equal(t, uint16(7), from)
}
