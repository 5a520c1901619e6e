package supervisor

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/config"
	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/testenv"
	"github.com/voicectl/voicectl/server/worker"
)

const workerEnv = "_VOICECTL_TEST_WORKER"

func TestMain(m *testing.M) {
	if os.Getenv(workerEnv) == "1" {
		os.Exit(worker.Main(slog.LevelWarn))
	}
	goleak.VerifyTestMain(m)
}

func testWorkerCmd(int) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), workerEnv+"=1", "GOMAXPROCS=1")
	cmd.Stderr = os.Stderr
	return cmd
}

// lost records the workers reported lost.
type lost struct {
	mu   sync.Mutex
	refs []cluster.WorkerRef
}

func (l *lost) add(ref cluster.WorkerRef) { l.mu.Lock(); l.refs = append(l.refs, ref); l.mu.Unlock() }

func (l *lost) count() int { l.mu.Lock(); defer l.mu.Unlock(); return len(l.refs) }

func start(t *testing.T, port int, l *lost) *Supervisor {
	s, _ := startStop(t, port, l)
	return s
}

func startStop(t *testing.T, port int, l *lost) (*Supervisor, func()) {
	t.Helper()
	testenv.RequireLoopbackOnly(t)
	var w config.Worker
	w.RestartBackoff, w.HangTimeout = 50*time.Millisecond, 10*time.Second
	var rtc config.RTC
	rtc.Port, rtc.Loopback = port, true
	s := New(Params{Worker: w, RTC: rtc, Count: 2, ServerID: "s1", Command: testWorkerCmd, OnLost: l.add})
	stop, err := s.Start()
	require.NoError(t, err)
	t.Cleanup(stop)
	return s, stop
}

// TestWorkersStartAndAreOffered: every worker is up once Start returns, the
// host is offered all of them, and each answers through its client.
func TestWorkersStartAndAreOffered(t *testing.T) {
	s := start(t, 42100, &lost{})
	require.Equal(t, 2, s.Ready())
	cands := s.Candidates()
	require.Len(t, cands, 2)
	for i, c := range cands {
		require.Equal(t, cluster.WorkerRef{Server: "s1", Index: i}, c.Ref)
		require.True(t, c.Local)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := s.Client(c.Ref).Load(ctx)
		cancel()
		require.NoError(t, err)
	}
	require.Nil(t, s.Client(cluster.WorkerRef{Server: "other", Index: 0}), "another server's worker is not ours")
	require.Nil(t, s.Client(cluster.WorkerRef{Server: "s1", Index: 2}))
	s.SampleAll()
	smp, ok := s.LastSample(1)
	require.True(t, ok)
	require.Equal(t, s.Workers()[1].PID, smp.PID)
}

// TestKilledWorkerIsReportedAndRestarted: a worker that dies is reported
// lost once, is not offered while down, and comes back with a new pid.
func TestKilledWorkerIsReportedAndRestarted(t *testing.T) {
	var l lost
	s := start(t, 42110, &l)
	pid := s.Workers()[0].PID
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	require.Eventually(t, func() bool { return l.count() == 1 }, 5*time.Second, 10*time.Millisecond)
	require.Equal(t, cluster.WorkerRef{Server: "s1", Index: 0}, l.refs[0])
	require.Eventually(t, func() bool {
		w := s.Workers()[0]
		return w.Ready && w.PID != pid && w.Restarts == 1
	}, 10*time.Second, 20*time.Millisecond)
	require.Len(t, s.Candidates(), 2)
	require.Zero(t, s.Workers()[1].Restarts)
}

// TestWorkerExitsWhenItsStdinCloses: a worker whose IPC pipe closes exits by
// itself, is reported lost, and is restarted and answers again.
func TestWorkerExitsWhenItsStdinCloses(t *testing.T) {
	var l lost
	s := start(t, 42120, &l)
	pid := s.Workers()[1].PID
	exited, err := s.CloseStdin(1)
	require.NoError(t, err)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Fatal("the worker did not exit when its stdin closed")
	}
	require.Eventually(t, func() bool { return !s.Workers()[1].Ready || s.Workers()[1].PID != pid }, 5*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool { w := s.Workers()[1]; return w.Ready && w.PID != pid }, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, 1, l.count())
	var out any
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, s.Call(ctx, 1, ipc.MethodLoad, ipc.Empty{}, &out))
}

// TestStoppedWorkersRefuseCalls: once stopped, no worker is offered and a
// call fails with ipc.ErrWorkerDown instead of waiting.
func TestStoppedWorkersRefuseCalls(t *testing.T) {
	var l lost
	s, stop := startStop(t, 42130, &l)
	stop()
	require.Empty(t, s.Candidates())
	require.Zero(t, s.Ready())
	err := s.Call(context.Background(), 0, ipc.MethodLoad, ipc.Empty{}, new(any))
	require.ErrorIs(t, err, ipc.ErrWorkerDown)
	require.Zero(t, l.count(), "a stop is not a lost worker")
}
