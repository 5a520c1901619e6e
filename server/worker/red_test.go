package worker

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// redBlock is one block of a RED payload built by redPayload.
type redBlock struct {
	pt     uint8
	offset uint16 // timestamp offset (RFC 2198 §3), for redundant blocks
	data   []byte
}

// redPayload builds an RFC 2198 payload: the headers, the primary's (the
// last block) one byte, then the data in the same order.
func redPayload(blocks ...redBlock) []byte {
	var out []byte
	for i, b := range blocks {
		if i == len(blocks)-1 {
			out = append(out, b.pt&0x7f)
			break
		}
		n := len(b.data)
		out = append(out, 0x80|b.pt, byte(b.offset>>6), byte(b.offset<<2)|byte(n>>8&0x3), byte(n))
	}
	for _, b := range blocks {
		out = append(out, b.data...)
	}
	return out
}

func TestParseREDLayouts(t *testing.T) {
	primary := []byte{1, 2, 3, 4, 5}
	for name, tc := range map[string]struct {
		payload []byte
		blocks  int
		off     int
	}{
		// §3's figure: one redundant block (an older frame) and the primary.
		"one redundant block": {redPayload(redBlock{111, 960, []byte{9, 9, 9}}, redBlock{111, 0, primary}), 2, 4 + 1 + 3},
		"two redundant blocks": {redPayload(redBlock{111, 1920, []byte{7, 7}}, redBlock{111, 960, []byte{8, 8, 8, 8}},
			redBlock{111, 0, primary}), 3, 4 + 4 + 1 + 2 + 4},
		// libwebrtc sends an empty redundant block before it has one to send.
		"empty redundant block": {redPayload(redBlock{111, 0, nil}, redBlock{111, 0, primary}), 2, 4 + 1},
		"primary alone":         {redPayload(redBlock{111, 0, primary}), 1, 1},
		// The longest block a 10-bit length says.
		"1023-byte block": {redPayload(redBlock{111, 960, make([]byte, 1023)}, redBlock{111, 0, primary}), 2, 4 + 1 + 1023},
	} {
		t.Run(name, func(t *testing.T) {
			p, err := parseRED(tc.payload)
			require.NoError(t, err)
			require.Equal(t, tc.blocks, p.blocks)
			require.Equal(t, tc.off, p.primaryOff)
			require.Equal(t, primary, tc.payload[p.primaryOff:p.primaryOff+p.primaryLen])
		})
	}
}

func TestParseREDRefusesMalformed(t *testing.T) {
	good := redPayload(redBlock{111, 960, []byte{9, 9, 9}}, redBlock{111, 0, []byte{1, 2}})
	many := make([]redBlock, maxREDBlocks+1)
	for i := range many {
		many[i] = redBlock{pt: 111, data: []byte{byte(i)}}
	}
	for name, tc := range map[string]struct {
		payload []byte
		want    error
	}{
		"empty":                     {nil, errREDEmpty},
		"header cut":                {good[:3], errREDHeaders},
		"no primary header":         {[]byte{0x80 | 111, 0, 0, 0}, errREDHeaders},
		"block length past the end": {redPayload(redBlock{111, 960, make([]byte, 40)}, redBlock{111, 0, []byte{1}})[:30], errREDLengths},
		"primary empty":             {good[:len(good)-2], errREDNoPrimary},
		"more blocks than taken":    {redPayload(many...), errREDBlocks},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := parseRED(tc.payload)
			require.ErrorIs(t, err, tc.want)
		})
	}
}

func TestSetREDBlockTypesKeepsTheRest(t *testing.T) {
	payload := redPayload(redBlock{111, 960, []byte{9, 9}}, redBlock{111, 1920, []byte{8}}, redBlock{111, 0, []byte{1, 2}})
	p, err := parseRED(payload)
	require.NoError(t, err)
	out := append([]byte(nil), payload...)
	setREDBlockTypes(out, p.blocks, 109)
	want := redPayload(redBlock{109, 960, []byte{9, 9}}, redBlock{109, 1920, []byte{8}}, redBlock{109, 0, []byte{1, 2}})
	require.Equal(t, want, out)
	q, err := parseRED(out)
	require.NoError(t, err)
	require.Equal(t, p, q)
}

func TestParseREDAllocatesNothing(t *testing.T) {
	payload := redPayload(redBlock{111, 960, []byte{9, 9}}, redBlock{111, 0, []byte{1, 2}})
	require.Zero(t, leastAllocsPerRun(100, func() {
		if _, err := parseRED(payload); err != nil {
			t.Fatal(err)
		}
		setREDBlockTypes(payload, 2, 111)
	}))
}
