// Package rabbittest starts a real RabbitMQ (Debian's rabbitmq-server) for a
// test run: its own node name, ports, data and log directories and Erlang
// cookie, inside the test's loopback-only network namespace. A test that
// stops, restarts or freezes the broker starts one of its own (Start); the
// others each get a virtual host of their own on a broker their package
// shares (Shared), since booting a node costs about 4.5 CPU-seconds.
package rabbittest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/voicectl/voicectl/server/testenv"
)

const bin = "/usr/lib/rabbitmq/bin"

var seq atomic.Int32

// Broker is one running RabbitMQ node, or a virtual host of its own on a
// shared one.
type Broker struct {
	// URL is the AMQP URL of the node's guest account, on the test's
	// virtual host where the node is shared.
	URL  string
	Port int
	node string
	env  []string
	dir  string
	// stopped: stop has ended the node.
	stopped bool
	// vhost is the test's virtual host on a shared node; "" on a node of
	// the test's own (the default virtual host).
	vhost string
	t     testing.TB
}

// URLVia is URL with the node reached through addr (host:port), a relay in
// front of it: the same account and virtual host.
func (b *Broker) URLVia(addr string) string {
	return fmt.Sprintf("amqp://guest:guest@%s/%s", addr, url.PathEscape(b.vhost))
}

// Start starts a node for t and stops it when t ends. It fails the test when
// rabbitmq-server is missing (make test installs it). A node that dies while
// booting (seen once in make test, with nothing in its logs) is started
// again, on new ports, up to twice.
func Start(t testing.TB) *Broker {
	t.Helper()
	testenv.RequireLoopbackOnly(t)
	requireInstalled(t)
	b := boot(t, t.TempDir, nil)
	t.Cleanup(func() {
		if err := b.stop(t.Logf); err != nil {
			t.Error(err)
		}
	})
	return b
}

// boot starts a node (extra: environment beyond the node's own) and waits
// until it takes connections.
func boot(t testing.TB, tempDir func() string, extra []string) *Broker {
	t.Helper()
	for attempt := 1; ; attempt++ {
		b := start(t, tempDir(), extra)
		if b.await(attempt == 3) {
			return b
		}
		t.Logf("RabbitMQ node %s died while booting; starting another (attempt %d)", b.node, attempt+1)
	}
}

func requireInstalled(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(bin, "rabbitmq-server")); err != nil {
		t.Fatalf("RabbitMQ is required (make test installs Debian's rabbitmq-server): %v", err)
	}
}

// start launches a node on fresh ports in dir.
func start(t testing.TB, dir string, extra []string) *Broker {
	t.Helper()
	n := int(seq.Add(1))
	// Ports the kernel says are free now: packages test in parallel, each
	// starting several brokers, so ports derived from the pid could meet.
	port, dist := freePort(t), freePort(t)
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
	b.env = append(b.env, extra...)
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

// listening reports whether the node's AMQP port takes a connection and
// this node answers on it: the AMQP 0-9-1 header sent, the server's
// connection.start frame names the node (its cluster_name, by default the
// node's name with the host's). A port that was free when it was chosen can be taken before
// the node binds it — by another test's broker, whose tests' servers this
// test's API would then see, or by anything else that takes connections.
func (b *Broker) listening() bool {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", b.Port), time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("AMQP\x00\x00\x09\x01")); err != nil {
		return false
	}
	// A frame: type, channel (2 bytes), payload size (4), payload, 0xCE.
	var header [7]byte
	if _, err := io.ReadFull(c, header[:]); err != nil || header[0] != 1 {
		return false
	}
	size := binary.BigEndian.Uint32(header[3:])
	if size > 64<<10 {
		return false
	}
	payload := make([]byte, size)
	if _, err := io.ReadFull(c, payload); err != nil {
		return false
	}
	name, _, _ := strings.Cut(clusterName(payload), "@")
	node, _, _ := strings.Cut(b.node, "@")
	return name == node
}

// clusterName is the cluster_name server property of a connection.start
// payload: a long string, "<node name>@<host name>" unless configured.
func clusterName(payload []byte) string {
	key := []byte("\x0ccluster_nameS")
	i := bytes.Index(payload, key)
	if i < 0 || len(payload) < i+len(key)+4 {
		return ""
	}
	rest := payload[i+len(key):]
	n := binary.BigEndian.Uint32(rest)
	if uint64(n) > uint64(len(rest)-4) {
		return ""
	}
	return string(rest[4 : 4+n])
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

// stop ends the node with SIGTERM, which the Erlang VM takes as a clean
// shutdown (rabbitmqctl stop would boot another VM, about a CPU-second, to
// ask for the same), and waits until it has exited.
func (b *Broker) stop(logf func(format string, args ...any)) error {
	if b.stopped {
		return nil
	}
	b.stopped = true
	pid, err := b.pid()
	if err != nil {
		return fmt.Errorf("stopping RabbitMQ: %w", err)
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	_ = syscall.Kill(pid, syscall.SIGCONT) // a frozen node takes its SIGTERM once it runs
	deadline := time.Now().Add(15 * time.Second)
	for running(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			logf("RabbitMQ node %s ignored SIGTERM for 15 s: killed", b.node)
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// pid is the node's Erlang VM, from its pid file.
func (b *Broker) pid() (int, error) {
	data, err := os.ReadFile(filepath.Join(b.dir, "rabbit.pid"))
	if err != nil {
		return 0, fmt.Errorf("the broker's pid file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return 0, fmt.Errorf("the broker's pid file: %w", err)
	}
	return pid, nil
}

// running reports whether pid is a live process. The node is not the
// test's child: it is reparented to the namespace's first process, which
// may not reap it, so a zombie counts as exited.
func running(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, ok := bytes.Cut(data, []byte(") "))
	return ok && len(rest) > 0 && rest[0] != 'Z' && rest[0] != 'X'
}

// own fails the test when b is a virtual host on a shared node: stopping,
// restarting or freezing it would hit every test on the node.
func (b *Broker) own(t testing.TB) {
	t.Helper()
	if err := b.ownErr(); err != nil {
		t.Fatal(err)
	}
}

// errShared: a test asked to stop, restart or freeze a shared node.
var errShared = errors.New("the broker is shared by the package's tests: a test that stops or freezes it starts its own (rabbittest.Start)")

func (b *Broker) ownErr() error {
	if b.vhost != "" {
		return errShared
	}
	return nil
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
	b.own(t)
	b.ctl(t, "stop_app")
}

// StartApp starts it again and waits until it takes connections: start_app
// returns once the application has started, and its AMQP listener opens
// last (a dial, not rabbitmqctl await_startup, which would boot another
// Erlang VM to ask).
func (b *Broker) StartApp(t testing.TB) {
	t.Helper()
	b.own(t)
	b.ctl(t, "start_app")
	deadline := time.Now().Add(60 * time.Second)
	for !b.listening() {
		if time.Now().After(deadline) {
			t.Fatalf("RabbitMQ took no connection on port %d within 60 s of start_app", b.Port)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// handedOut are the ports freePort gave this process: the kernel may hand
// a port out again once its listener closed, and two nodes starting at
// once must not both be given it.
var handedOut sync.Map

// freePort is a port free now and never handed out before in this process.
func freePort(t testing.TB) int {
	t.Helper()
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		if _, taken := handedOut.LoadOrStore(port, true); !taken {
			return port
		}
	}
}
