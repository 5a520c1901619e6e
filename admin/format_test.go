package admin

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/wire"
)

func TestPipeRowNamesBothServersOfAPipeBetweenHosts(t *testing.T) {
	local := wire.AdminPipe{ID: "PP_1", Room: "r", Workers: []int{0, 1}, Flows: []wire.AdminPipeFlow{{Consumers: 3}}}
	require.Equal(t, []string{"PP_1", "r", "0<->1", "1", "3"}, PipeRow(local))
	cross := wire.AdminPipe{ID: "PP_2", Room: "r", Workers: []int{0, 0}, SRTP: true,
		Servers: []string{"6f1c2a3b-0000-4000-8000-000000000001", "9a8b7c6d-0000-4000-8000-000000000002"}}
	require.Equal(t, []string{"PP_2", "r", "6f1c2a3b/0<->9a8b7c6d/0 (srtp)", "0", "0"}, PipeRow(cross))
	require.Equal(t, "0,9a8b7c6d/1", RouterWorkers([]wire.AdminRouter{{Worker: 0}, {Worker: 1, Server: "9a8b7c6d-0000-4000-8000-000000000002"}}))
}

func TestQualityCells(t *testing.T) {
	for _, c := range []struct {
		p    wire.AdminPeer
		want [4]string
	}{
		{wire.AdminPeer{}, [4]string{"-", "-", "-", "-"}},
		{wire.AdminPeer{Quality: wire.QualityLost, Loss: 1}, [4]string{"-", "-", "-", "lost"}},
		{wire.AdminPeer{Quality: wire.QualityGood, Score: 84, Loss: 0.061, JitterMs: 7.6}, [4]string{"6.1%", "8ms", "-", "good 84"}},
		{wire.AdminPeer{Quality: wire.QualityExcellent, Score: 97, JitterMs: 1, RTTMs: 2.4}, [4]string{"0.0%", "1ms", "2ms", "excellent 97"}},
	} {
		l, j, r, q := QualityCells(c.p)
		require.Equal(t, c.want, [4]string{l, j, r, q})
	}
}
