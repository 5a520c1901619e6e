package supervisor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/ipc"
)

// slot supervises one worker process: it starts it, restarts it when it dies
// and hands its events on.
type slot struct {
	index  int
	port   int
	ref    cluster.WorkerRef
	client *ipc.Client
	sup    *Supervisor

	mu       sync.Mutex
	conn     *ipc.Conn
	pid      int
	ready    bool
	restarts int
	exited   chan struct{} // closed when the current process has exited
	stdin    io.Closer
	proc     *exec.Cmd
}

type slotEvents struct{ s *slot }

func (h slotEvents) HandleRequest(context.Context, string, json.RawMessage) (any, error) {
	return nil, &ipc.RemoteError{Code: ipc.CodeUnknownMethod, Message: "control serves no requests"}
}

func (h slotEvents) HandleEvent(method string, params json.RawMessage) {
	h.s.sup.event(h.s, method, params)
}

// run keeps the worker alive until ctx ends.
func (s *slot) run(ctx context.Context, started chan<- error) {
	first := true
	for {
		err := s.startOnce(ctx)
		if first {
			started <- err
			first = false
			if err != nil {
				return
			}
		}
		if err == nil {
			s.mu.Lock()
			exited := s.exited
			s.mu.Unlock()
			<-exited
		}
		s.mu.Lock()
		wasReady := s.ready
		s.ready = false
		s.conn = nil
		s.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
		if wasReady && s.sup.p.OnLost != nil {
			s.sup.p.OnLost(s.ref)
		}
		s.sup.log.Warn("worker exited; restarting", "worker", s.index, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(s.sup.p.Worker.RestartBackoff):
		}
		s.mu.Lock()
		s.restarts++
		s.mu.Unlock()
	}
}

func (s *slot) startOnce(ctx context.Context) error {
	cmd := s.sup.p.Command(s.index)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start worker %d: %w", s.index, err)
	}
	exited := make(chan struct{})
	conn := ipc.New(stdout, stdin, slotEvents{s}, s.sup.log.With("worker", s.index)).Start()
	s.mu.Lock()
	s.exited, s.conn, s.stdin, s.proc, s.pid = exited, conn, stdin, cmd, cmd.Process.Pid
	s.mu.Unlock()
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()

	rtc := s.sup.p.RTC
	ictx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err = ipc.CallInit.Call(ictx, conn, ipc.InitParams{
		Index:       s.index,
		Port:        s.port,
		Interfaces:  rtc.Interfaces,
		MDNS:        rtc.MDNS,
		AnnouncedIP: rtc.AnnouncedIP,
		Loopback:    rtc.Loopback,
		IPs:         rtc.IPs,

		ICEFailedAfter: rtc.ICEFailedAfter,
		TCPPort:        rtc.WorkerTCPPort(s.index),
		RED:            rtc.RED,
		NoNACK:         !rtc.NACK,
	})
	if err != nil {
		_ = cmd.Process.Kill()
		<-exited
		return fmt.Errorf("init worker %d: %w", s.index, err)
	}
	s.mu.Lock()
	s.ready = true
	s.mu.Unlock()
	s.sup.log.Info("worker ready", "worker", s.index, "pid", cmd.Process.Pid, "port", s.port)
	return nil
}

// stop closes the worker's stdin (it exits on EOF) and kills it if it lingers.
func (s *slot) stop(grace time.Duration) {
	s.mu.Lock()
	stdin, proc, exited := s.stdin, s.proc, s.exited
	s.mu.Unlock()
	if proc == nil {
		return
	}
	_ = stdin.Close()
	select {
	case <-exited:
	case <-time.After(grace):
		_ = proc.Process.Kill()
		<-exited
	}
}

// kill SIGKILLs the worker if pid is still its process; the supervisor
// then restarts it as after any exit.
func (s *slot) kill(pid int) {
	s.mu.Lock()
	proc := s.proc
	s.mu.Unlock()
	if proc != nil && proc.Process != nil && proc.Process.Pid == pid {
		_ = proc.Process.Kill()
	}
}

// call sends a request to the worker if it is up.
func (s *slot) call(ctx context.Context, method string, params, out any) error {
	s.mu.Lock()
	conn, ready := s.conn, s.ready
	s.mu.Unlock()
	if conn == nil || !ready {
		return ipc.ErrWorkerDown
	}
	return conn.Call(ctx, method, params, out)
}

func (s *slot) status() WorkerStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return WorkerStatus{Index: s.index, Port: s.port, PID: s.pid, Ready: s.ready, Restarts: s.restarts}
}

// CloseStdin closes worker i's end of its IPC pipe, as the control process
// going away would, and returns a channel closed when that process has
// exited (the fault tests check that a worker does not outlive its control).
func (s *Supervisor) CloseStdin(i int) (exited <-chan struct{}, err error) {
	sl := s.slots[i]
	sl.mu.Lock()
	stdin, ex := sl.stdin, sl.exited
	sl.mu.Unlock()
	if stdin == nil {
		return nil, ipc.ErrWorkerDown
	}
	return ex, stdin.Close()
}
