package rabbittest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/voicectl/voicectl/server/testenv"
)

// vhostsPerNode is how many tests one shared node serves before the next
// test boots another. Its virtual hosts are created at boot, from a
// definitions file, so no rabbitmqctl VM is booted per test.
const vhostsPerNode = 40

// shared holds the package's shared nodes: the one handing out virtual
// hosts now and every one started, for StopShared.
var shared struct {
	mu    sync.Mutex
	node  *Broker
	given int
	all   []*Broker
}

// Shared gives t a virtual host of its own on a node shared by the
// package's tests, booting one on first use (and another after
// vhostsPerNode tests). Queues, exchanges and connections on it are t's
// alone; the node itself is not: a test that stops, restarts or freezes
// its broker uses Start. The package's TestMain calls StopShared.
func Shared(t testing.TB) *Broker {
	t.Helper()
	testenv.RequireLoopbackOnly(t)
	requireInstalled(t)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.node == nil || shared.given == vhostsPerNode {
		shared.node = bootShared(t)
		shared.given = 0
		shared.all = append(shared.all, shared.node)
	}
	shared.given++
	b := *shared.node
	b.t = t
	b.vhost = vhostName(shared.given)
	b.URL = b.URLVia(fmt.Sprintf("127.0.0.1:%d", b.Port))
	return &b
}

// StopShared stops the package's shared nodes and removes their files.
func StopShared() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	for _, b := range shared.all {
		if err := b.stop(func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, "rabbittest: "+format+"\n", args...)
		}); err != nil {
			fmt.Fprintln(os.Stderr, "rabbittest:", err)
		}
		_ = os.RemoveAll(b.dir)
	}
	shared.all, shared.node = nil, nil
}

func vhostName(i int) string { return fmt.Sprintf("t%d", i) }

// bootShared boots a node whose files outlive t (the test that happened to
// need it first) with vhostsPerNode virtual hosts and the guest account.
func bootShared(t testing.TB) *Broker {
	t.Helper()
	tempDir := func() string {
		dir, err := os.MkdirTemp("", "rabbittest-shared")
		if err != nil {
			t.Fatal(err)
		}
		return dir
	}
	defs := tempDir()
	conf := filepath.Join(defs, "rabbitmq.conf")
	if err := writeDefinitions(filepath.Join(defs, "definitions.json")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte("load_definitions = "+filepath.Join(defs, "definitions.json")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := boot(t, tempDir, []string{"RABBITMQ_CONFIG_FILE=" + conf})
	// The definitions are read at boot only; they go with the node's files.
	_ = os.Rename(filepath.Join(defs, "definitions.json"), filepath.Join(b.dir, "definitions.json"))
	_ = os.RemoveAll(defs)
	return b
}

// writeDefinitions writes a RabbitMQ definitions file: the guest account
// (a node that loads definitions at boot creates no default user) with
// every permission on the default virtual host and on vhostsPerNode more.
// See https://www.rabbitmq.com/docs/definitions.
func writeDefinitions(path string) error {
	hash, err := passwordHash("guest")
	if err != nil {
		return err
	}
	type perm struct {
		User      string `json:"user"`
		Vhost     string `json:"vhost"`
		Configure string `json:"configure"`
		Write     string `json:"write"`
		Read      string `json:"read"`
	}
	type named struct {
		Name string `json:"name"`
	}
	vhosts := []named{{"/"}}
	perms := []perm{{"guest", "/", ".*", ".*", ".*"}}
	for i := 1; i <= vhostsPerNode; i++ {
		vhosts = append(vhosts, named{vhostName(i)})
		perms = append(perms, perm{"guest", vhostName(i), ".*", ".*", ".*"})
	}
	data, err := json.Marshal(map[string]any{
		"users": []map[string]any{{"name": "guest", "password_hash": hash,
			"hashing_algorithm": "rabbit_password_hashing_sha256", "tags": []string{"administrator"}}},
		"vhosts":      vhosts,
		"permissions": perms,
	})
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// passwordHash is RabbitMQ's rabbit_password_hashing_sha256: a random
// 4-byte salt, then SHA-256 of the salt and the password, in base64.
func passwordHash(password string) (string, error) {
	salt := make([]byte, 4)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	sum := sha256.Sum256(append(append([]byte{}, salt...), password...))
	return base64.StdEncoding.EncodeToString(append(salt, sum[:]...)), nil
}

// Tests is what a TestMain runs: a *testing.M, or the m that
// goleak.VerifyTestMain takes.
type Tests interface{ Run() int }

// StoppingShared wraps m so that running it stops the package's shared
// nodes once its tests are done, before a goroutine-leak check looks:
// goleak.VerifyTestMain(rabbittest.StoppingShared(m)).
func StoppingShared(m Tests) Tests { return stoppingShared{m} }

type stoppingShared struct{ m Tests }

func (s stoppingShared) Run() int {
	defer StopShared()
	return s.m.Run()
}
