package client

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestREDRoundTrip(t *testing.T) {
	prev, cur := []byte("previous frame"), []byte("current frame!")
	red := AppendRED(nil, cur, prev, 960)
	require.Len(t, red, 4+1+len(prev)+len(cur))
	primary, blocks, err := ParseRED(red, nil)
	require.NoError(t, err)
	require.Equal(t, cur, primary)
	require.Equal(t, []REDBlock{{TimestampOffset: 960, Data: prev}}, blocks)

	// The first packet has no frame before it: the primary alone.
	red = AppendRED(nil, cur, nil, 960)
	require.Equal(t, append([]byte{redBlockPT}, cur...), red)
	primary, blocks, err = ParseRED(red, nil)
	require.NoError(t, err)
	require.Equal(t, cur, primary)
	require.Empty(t, blocks)
}

func TestParseREDRefusesMalformed(t *testing.T) {
	good := AppendRED(nil, []byte("cur"), []byte("prev"), 960)
	for name, b := range map[string][]byte{
		"empty":               {},
		"header cut":          good[:3],
		"no primary header":   good[:4],
		"length past payload": good[:4+1+2],
		"more blocks than fit": func() []byte {
			b := []byte{}
			for range 9 {
				b = append(b, 0x80|111, 0, 0, 0)
			}
			return append(b, 111)
		}(),
	} {
		_, _, err := ParseRED(b, nil)
		require.ErrorIs(t, err, ErrMalformedRED, name)
	}
}

func FuzzParseRED(f *testing.F) {
	f.Add(AppendRED(nil, []byte("cur"), []byte("prev"), 960))
	f.Add([]byte{0x80 | 111, 0xff, 0xff, 0xff, 111})
	f.Fuzz(func(t *testing.T, b []byte) {
		primary, blocks, err := ParseRED(b, nil)
		if err != nil {
			return
		}
		n := len(primary)
		for _, bl := range blocks {
			n += len(bl.Data)
		}
		require.LessOrEqual(t, n, len(b), "blocks lie inside the payload")
	})
}
