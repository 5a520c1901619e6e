// Package rabbittest starts a real RabbitMQ (Debian's rabbitmq-server) for a
// test run: its own node name, ports, data and log directories and Erlang
// cookie, inside the test's loopback-only network namespace. Tests stop and
// start it to see what a broker restart does.
package rabbittest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/voicectl/voicectl/server/testenv"
)

const bin = "/usr/lib/rabbitmq/bin"

var seq atomic.Int32

// Broker is one running RabbitMQ node.
type Broker struct {
	// URL is the AMQP URL of the node's guest account.
	URL  string
	Port int
	node string
	env  []string
	dir  string
	t    testing.TB
}

// Start starts a node for t and stops it when t ends. It fails the test when
// rabbitmq-server is missing (make test installs it). A node that dies while
// booting (seen once in make test, with nothing in its logs) is started
// again, on new ports, up to twice.
func Start(t testing.TB) *Broker {
	t.Helper()
	testenv.RequireLoopbackOnly(t)
	if _, err := os.Stat(filepath.Join(bin, "rabbitmq-server")); err != nil {
		t.Fatalf("RabbitMQ is required (make test installs Debian's rabbitmq-server): %v", err)
	}
	for attempt := 1; ; attempt++ {
		b := start(t)
		if b.await(attempt == 3) {
			t.Cleanup(func() { b.ctl(t, "stop") })
			return b
		}
		t.Logf("RabbitMQ node %s died while booting; starting another (attempt %d)", b.node, attempt+1)
	}
}

// start launches a node on fresh ports and data directory.
func start(t testing.TB) *Broker {
	t.Helper()
	n := int(seq.Add(1))
	// Ports the kernel says are free now: packages test in parallel, each
	// starting several brokers, so ports derived from the pid could meet.
	port, dist := freePort(t), freePort(t)
	dir := t.TempDir()
	b := &Broker{t: t, Port: port, node: fmt.Sprintf("vt%d_%d@localhost", os.Getpid(), n), dir: dir,
		URL: fmt.Sprintf("amqp://guest:guest@127.0.0.1:%d/", port)}
	plugins := filepath.Join(dir, "enabled_plugins")
	if err := os.WriteFile(plugins, []byte("[].\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b.env = append(os.Environ(),
		"HOME="+dir, // the Erlang cookie lives here, shared by the server and rabbitmqctl
		"RABBITMQ_NODENAME="+b.node,
		"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
		fmt.Sprintf("RABBITMQ_NODE_PORT=%d", port),
		fmt.Sprintf("RABBITMQ_DIST_PORT=%d", dist),
		"RABBITMQ_MNESIA_BASE="+filepath.Join(dir, "mnesia"),
		"RABBITMQ_LOG_BASE="+filepath.Join(dir, "log"),
		"RABBITMQ_ENABLED_PLUGINS_FILE="+plugins,
		"RABBITMQ_PID_FILE="+filepath.Join(dir, "rabbit.pid"),
	)
	b.run(t, "rabbitmq-server", "-detached")
	return b
}

// await waits until the node takes connections (true). -detached returns
// before the node has booted. The node opens its AMQP listener last, once
// it takes connections, so a TCP dial says it is up: polling with
// rabbitmqctl instead boots an Erlang VM per try, about a CPU-second each,
// which many brokers starting at once could not afford. A node that epmd
// no longer lists 15 s in has died: false, unless last, which fails the
// test with the CLI's diagnosis.
func (b *Broker) await(last bool) bool {
	t := b.t
	t.Helper()
	began := time.Now()
	deadline := began.Add(60 * time.Second)
	for !b.listening() {
		gone := time.Since(began) > 15*time.Second && !b.registered()
		if time.Now().After(deadline) || gone {
			if !last {
				return false
			}
			b.ctl(t, "await_startup", "--timeout", "1") // fails with the CLI's diagnosis
			t.Fatalf("RabbitMQ took no connection on port %d within %s", b.Port, time.Since(began).Round(time.Second))
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// registered reports whether epmd lists the node (a cheap look, no Erlang
// VM); true when epmd cannot be asked.
func (b *Broker) registered() bool {
	out, err := exec.Command("epmd", "-names").Output()
	if err != nil {
		return true
	}
	name, _, _ := strings.Cut(b.node, "@")
	return bytes.Contains(out, []byte("name "+name+" "))
}

// listening reports whether the node's AMQP port takes a connection.
func (b *Broker) listening() bool {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", b.Port), time.Second)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

func (b *Broker) run(t testing.TB, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, name), args...)
	cmd.Env = b.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		logs, _ := filepath.Glob(filepath.Join(b.dir, "log", "*.log"))
		var tail []byte
		for _, l := range logs {
			if data, err := os.ReadFile(l); err == nil {
				tail = append(tail, data[max(0, len(data)-4000):]...)
			}
		}
		t.Fatalf("%s %v: %v\n%s\nlogs:\n%s", name, args, err, out.String(), tail)
	}
}

func (b *Broker) ctl(t testing.TB, args ...string) {
	t.Helper()
	b.run(t, "rabbitmqctl", append([]string{"-n", b.node}, args...)...)
}

// Restart stops the broker's application (every connection drops), waits
// down for pause, and starts it again.
func (b *Broker) Restart(t testing.TB, pause time.Duration) {
	t.Helper()
	b.StopApp(t)
	time.Sleep(pause)
	b.StartApp(t)
}

// StopApp stops RabbitMQ on the node: connections drop, durable queues and
// persistent messages stay on disk.
func (b *Broker) StopApp(t testing.TB) {
	t.Helper()
	b.ctl(t, "stop_app")
}

// StartApp starts it again and waits until it takes connections.
func (b *Broker) StartApp(t testing.TB) {
	t.Helper()
	b.ctl(t, "start_app")
	b.ctl(t, "await_startup", "--timeout", "60")
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
