package worker

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/testenv"
)

func newBareWorker(tb testing.TB) *Worker {
	w := &Worker{log: slog.New(slog.DiscardHandler), api: bareAPI(tb), routers: map[string]*router{},
		transports: map[string]*transport{}, producers: map[string]*producer{}, pipes: map[string]*pipeTransport{}}
	tb.Cleanup(w.closeAll)
	return w
}

// bareAPI is a media API with sockets (none opened) and no ICE: enough for
// routers and pipes.
func bareAPI(tb testing.TB) *mediaAPI {
	sockets, err := newMediaSockets()
	require.NoError(tb, err)
	return &mediaAPI{sockets: sockets}
}

func key() string {
	b := make([]byte, 30)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// pipePair links router "r" on two bare workers and returns the ends.
func pipePair(t *testing.T, srtpA, srtpB *ipc.PipeSRTP, bLog ...io.Writer) (*Worker, *Worker, *pipeTransport, *pipeTransport) {
	a, b := newBareWorker(t), newBareWorker(t)
	if len(bLog) > 0 {
		b.log = slog.New(slog.NewTextHandler(bLog[0], nil))
	}
	require.NoError(t, a.createRouter("r", 0))
	require.NoError(t, b.createRouter("r", 0))
	ea, err := a.createPipe(ipc.PipeCreate{PipeID: "p", RouterID: "r", ListenIP: "127.0.0.1"})
	require.NoError(t, err)
	eb, err := b.createPipe(ipc.PipeCreate{PipeID: "p", RouterID: "r", ListenIP: "127.0.0.1"})
	require.NoError(t, err)
	pa, pb := a.pipes["p"], b.pipes["p"]
	require.NoError(t, pa.connect(ipc.PipeConnect{PipeID: "p", RemoteAddr: eb.LocalAddr, SRTP: srtpA}))
	require.NoError(t, pb.connect(ipc.PipeConnect{PipeID: "p", RemoteAddr: ea.LocalAddr, SRTP: srtpB}))
	return a, b, pa, pb
}

func sendThrough(t *testing.T, a *Worker, pa, pb *pipeTransport, n int) {
	src := newProducer("P", a.routers["r"])
	a.routers["r"].addProducer(src)
	require.NoError(t, pb.produce(ipc.PipeFlow{PipeID: "p", ProducerID: "P", SSRC: 77}))
	require.NoError(t, pa.consume(ipc.PipeFlow{PipeID: "p", ProducerID: "P", SSRC: 77}))
	for i := 0; i < n; i++ {
		pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: uint16(i), SSRC: 1234}, Payload: make([]byte, 80)}
		raw, _ := pkt.Marshal()
		src.dispatch(raw, pkt)
	}
}

func TestPipeCarriesProducerAcrossWorkers(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	for name, keys := range map[string][2]*ipc.PipeSRTP{
		"plain": {nil, nil},
		"srtp": func() [2]*ipc.PipeSRTP {
			k1, k2 := key(), key()
			return [2]*ipc.PipeSRTP{{SendKey: k1, RecvKey: k2}, {SendKey: k2, RecvKey: k1}}
		}(),
	} {
		t.Run(name, func(t *testing.T) {
			a, b, pa, pb := pipePair(t, keys[0], keys[1])
			sendThrough(t, a, pa, pb, 20)
			require.Eventually(t, func() bool { return b.packetsIn.Load() == 20 }, 2*time.Second, 10*time.Millisecond)
			l := b.load()
			require.Equal(t, 1, l.PipeProducers)
			require.Equal(t, 1, a.load().PipeConsumers)
			require.NoError(t, pb.unproduce("P"))
			require.NoError(t, pa.unconsume("P"))
			require.Equal(t, 0, b.load().Producers)
			require.Equal(t, 0, a.load().PipeConsumers)
		})
	}
}

func TestPipeRejectsWrongSRTPKey(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	k1, k2 := key(), key()
	var logs syncBuffer
	a, b, pa, pb := pipePair(t, &ipc.PipeSRTP{SendKey: k1, RecvKey: k2}, &ipc.PipeSRTP{SendKey: k2, RecvKey: key()}, &logs)
	sendThrough(t, a, pa, pb, 20)
	require.Eventually(t, func() bool { return pb.rejected.Load() == 20 }, 2*time.Second, 10*time.Millisecond,
		"every packet under the wrong key is dropped and counted")
	require.Zero(t, b.packetsIn.Load(), "packets with a wrong key must not be accepted")
	require.Equal(t, uint64(20), a.load().PipeStats[0].PacketsOut)
	st := b.load().PipeStats[0]
	require.Equal(t, ipc.PipeStat{PipeID: "p", SRTP: true, Producers: 1, Rejected: 20}, st)
	require.Contains(t, logs.String(), "SRTP authentication failed")
	require.Equal(t, 1, strings.Count(logs.String(), "level=ERROR"), "one line for the first failure, not one per packet")
	require.NotContains(t, logs.String(), k1)
	require.Error(t, pa.connect(ipc.PipeConnect{PipeID: "p", RemoteAddr: "127.0.0.1:9", SRTP: &ipc.PipeSRTP{SendKey: "short", RecvKey: k1}}))
}

// TestPipeForwardingAllocatesNothing: forwarding a producer's packets into
// pipes to other workers makes no allocation per packet (nothing else runs on
// this bare worker, so the bound is exact).
func TestPipeForwardingAllocatesNothing(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	for _, protected := range []bool{false, true} {
		t.Run(fmt.Sprint("srtp=", protected), func(t *testing.T) { pipeForwardingAllocs(t, protected) })
	}
}

func pipeForwardingAllocs(t *testing.T, protected bool) {
	if protected && raceEnabled {
		t.Skip("SRTP's pooled buffers allocate under the race detector; make test runs this without it")
	}
	src, received := producerIntoPipes(t, 2, protected)
	raw, pkt := opusPacket(1)
	forward := func() {
		pkt.SequenceNumber++
		binary.BigEndian.PutUint16(raw[2:4], pkt.SequenceNumber)
		src.dispatch(raw, pkt)
	}
	// Batch buffers are made on first use.
	require.Eventually(t, func() bool { forward(); return received.Load() >= 2 }, 5*time.Second, 5*time.Millisecond)
	before := received.Load()
	require.Zero(t, leastAllocsPerRun(200, forward), "allocations per packet into 2 pipes")
	require.Eventually(t, func() bool { return received.Load() > before }, 5*time.Second, 10*time.Millisecond,
		"the measured packets reached the pipes' far end")
}

// syncBuffer is a log sink safe for the worker's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
