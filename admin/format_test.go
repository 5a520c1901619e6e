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
