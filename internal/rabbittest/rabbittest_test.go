package rabbittest

import (
	"os"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { os.Exit(StoppingShared(m).Run()) }

// A booted node is listed by epmd (the liveness look Start's retry uses
// while a node boots) and ends on SIGTERM.
func TestABootedNodeIsRegisteredAndStops(t *testing.T) {
	b := Start(t)
	require.True(t, b.listening())
	require.True(t, b.registered(), "epmd lists %s", b.node)
	never := *b
	never.node = "vt0_0@localhost"
	require.False(t, never.registered(), "a node that never started")

	pid, err := b.pid()
	require.NoError(t, err)
	require.True(t, running(pid))
	require.NoError(t, b.stop(t.Logf))
	require.False(t, running(pid), "the node exited on SIGTERM")
	require.False(t, b.listening())
	require.NoError(t, b.stop(t.Logf), "stopping again (the test's cleanup) is nothing")
}

// Tests on a shared node share its port, not their queues: each has a
// virtual host of its own, and none may stop the node.
func TestSharedNodesGiveEachTestAVirtualHostOfItsOwn(t *testing.T) {
	a, b := Shared(t), Shared(t)
	require.Equal(t, a.Port, b.Port, "one node")
	require.NotEqual(t, a.URL, b.URL)
	require.Equal(t, "amqp://guest:guest@127.0.0.1:5/"+a.vhost, a.URLVia("127.0.0.1:5"), "a relay's URL keeps the virtual host")
	require.ErrorIs(t, a.ownErr(), errShared)
	require.NoError(t, (&Broker{}).ownErr(), "a node of the test's own")

	chA := channel(t, a.URL)
	_, err := chA.QueueDeclare("q", false, true, false, false, nil)
	require.NoError(t, err)
	_, err = chA.QueueDeclarePassive("q", false, true, false, false, nil)
	require.NoError(t, err, "the queue is on a's virtual host")
	_, err = channel(t, b.URL).QueueDeclarePassive("q", false, true, false, false, nil)
	var amqpErr *amqp.Error
	require.ErrorAs(t, err, &amqpErr, "b's virtual host has no queue q")
	require.Equal(t, amqp.NotFound, amqpErr.Code)
}

func channel(t *testing.T, url string) *amqp.Channel {
	t.Helper()
	conn, err := amqp.Dial(url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	require.NoError(t, err)
	return ch
}
