package worker

import (
	"encoding/base64"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"

	"github.com/voicectl/voicectl/server/ipc"
)

// pipeTransport is one end of a pipe between two routers: plain RTP (RFC 3550) over
// UDP, optionally protected with SRTP (RFC 3711) when it crosses hosts. It carries
// many producers, told apart by SSRC; which SSRC is which producer is agreed by
// control messages (pipe.consume on one end, pipe.produce on the other), so the same
// code links two workers on one host or two hosts.
type pipeTransport struct {
	id     string
	r      *router
	conn   *net.UDPConn
	remote atomic.Pointer[netip.AddrPort]
	enc    *srtp.Context // nil: plain RTP
	dec    *srtp.Context
	encMu  sync.Mutex // srtp contexts are not safe for concurrent use

	packetsOut, bytesOut, packetsIn, bytesIn, rejected atomic.Uint64

	mu        sync.Mutex
	closed    bool
	producers map[uint32]*producer // incoming, by SSRC
	outs      map[string]*pipeOut  // outgoing, by producer id
	done      chan struct{}
}

// pipeOut sends one producer's packets through a pipe under the pipe's SSRC for it:
// the "pipe consumer".
type pipeOut struct {
	pipe     *pipeTransport
	producer *producer
	ssrc     uint32
	buf      []byte // used only by the producer's dispatch goroutine
	sealed   []byte // the same, for the SRTP-protected copy
	hdr      rtp.Header
}

func (w *Worker) createPipe(p ipc.PipeCreate) (ipc.PipeCreated, error) {
	w.mu.Lock()
	r := w.routers[p.RouterID]
	_, dup := w.pipes[p.PipeID]
	w.mu.Unlock()
	if r == nil {
		return ipc.PipeCreated{}, notFound("router", p.RouterID)
	}
	if dup {
		return ipc.PipeCreated{}, exists("pipe", p.PipeID)
	}
	ip := net.ParseIP(p.ListenIP)
	if ip == nil {
		return ipc.PipeCreated{}, &ipc.RemoteError{Code: ipc.CodeBadRequest, Message: fmt.Sprintf("listen_ip %q", p.ListenIP)}
	}
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip})
	if err != nil {
		return ipc.PipeCreated{}, err
	}
	_ = conn.SetReadBuffer(4 << 20)
	_ = conn.SetWriteBuffer(4 << 20)
	pt := &pipeTransport{id: p.PipeID, r: r, conn: conn, producers: map[uint32]*producer{}, outs: map[string]*pipeOut{}, done: make(chan struct{})}
	w.mu.Lock()
	w.pipes[pt.id] = pt
	w.mu.Unlock()
	r.mu.Lock()
	r.pipes[pt.id] = pt
	r.mu.Unlock()
	go pt.readLoop()
	return ipc.PipeCreated{LocalAddr: conn.LocalAddr().String()}, nil
}

func decodeKey(s string) ([]byte, []byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != 30 {
		return nil, nil, fmt.Errorf("an SRTP key is 30 bytes of base64 (16 key + 14 salt)")
	}
	return b[:16], b[16:], nil
}

func (pt *pipeTransport) connect(p ipc.PipeConnect) error {
	addr, err := netip.ParseAddrPort(p.RemoteAddr)
	if err != nil {
		return &ipc.RemoteError{Code: ipc.CodeBadRequest, Message: err.Error()}
	}
	if p.SRTP != nil {
		sk, ss, err := decodeKey(p.SRTP.SendKey)
		if err != nil {
			return &ipc.RemoteError{Code: ipc.CodeBadRequest, Message: err.Error()}
		}
		rk, rs, err := decodeKey(p.SRTP.RecvKey)
		if err != nil {
			return &ipc.RemoteError{Code: ipc.CodeBadRequest, Message: err.Error()}
		}
		enc, err := srtp.CreateContext(sk, ss, srtp.ProtectionProfileAes128CmHmacSha1_80)
		if err != nil {
			return err
		}
		dec, err := srtp.CreateContext(rk, rs, srtp.ProtectionProfileAes128CmHmacSha1_80)
		if err != nil {
			return err
		}
		pt.encMu.Lock()
		pt.enc, pt.dec = enc, dec
		pt.encMu.Unlock()
	}
	pt.remote.Store(&addr)
	return nil
}

func (pt *pipeTransport) readLoop() {
	defer close(pt.done)
	buf := make([]byte, 1500)
	var plain []byte
	var pkt rtp.Packet
	for {
		n, _, err := pt.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		plain = pt.receive(buf[:n], plain, &pkt)
	}
}

// receive takes one datagram from the far end: decrypted (with SRTP) and
// parsed, it goes to the producer its SSRC names, or it is counted and
// dropped. plain is the decryption buffer, returned for the next datagram.
func (pt *pipeTransport) receive(data, plain []byte, pkt *rtp.Packet) []byte {
	n := len(data)
	var err error
	pt.encMu.Lock()
	dec := pt.dec
	if dec != nil {
		var hdr rtp.Header
		plain, err = dec.DecryptRTP(plain[:0], data, &hdr)
		data = plain
	}
	pt.encMu.Unlock()
	if err == nil {
		err = pkt.Unmarshal(data)
	}
	if err != nil {
		pt.reject(err, dec != nil)
		return plain
	}
	pt.packetsIn.Add(1)
	pt.bytesIn.Add(uint64(n))
	pt.mu.Lock()
	p := pt.producers[pkt.SSRC]
	pt.mu.Unlock()
	if p != nil {
		p.dispatch(data, pkt)
	}
	return plain
}

// write sends pkt to the far end under the pipe's SSRC for this producer,
// and under the worker's own payload type for Opus or, if red, RED (RFC
// 2198): the far end's listeners each get what they negotiated from it.
func (o *pipeOut) write(pkt *rtp.Packet, red bool) error {
	remote := o.pipe.remote.Load()
	if remote == nil {
		return errNotConnected
	}
	o.hdr = pkt.Header
	o.hdr.SSRC = o.ssrc
	o.hdr.PayloadType = opusPayloadType
	if red {
		o.hdr.PayloadType = redPayloadType
	}
	n := o.hdr.MarshalSize() + len(pkt.Payload)
	if cap(o.buf) < n {
		o.buf = make([]byte, n, 1500)
	}
	b := o.buf[:n]
	hn, err := o.hdr.MarshalTo(b)
	if err != nil {
		return err
	}
	copy(b[hn:], pkt.Payload)
	o.pipe.encMu.Lock()
	if enc := o.pipe.enc; enc != nil {
		b, err = enc.EncryptRTP(o.sealed[:0], b, &o.hdr)
		o.sealed = b
	}
	o.pipe.encMu.Unlock()
	if err != nil {
		return err
	}
	if _, err = o.pipe.conn.WriteToUDPAddrPort(b, *remote); err != nil {
		return err
	}
	o.pipe.packetsOut.Add(1)
	o.pipe.bytesOut.Add(uint64(len(b)))
	return nil
}

// reject counts a packet the pipe dropped and logs the first of a pipe's
// and then one in every thousand: with a wrong key every packet fails, and
// the log must say so without filling up.
func (pt *pipeTransport) reject(err error, protected bool) {
	n := pt.rejected.Add(1)
	if n != 1 && n%1000 != 0 {
		return
	}
	msg := "pipe packet dropped: it does not parse as RTP"
	if protected {
		msg = "pipe packet dropped: SRTP authentication failed (wrong key or forged packet)"
	}
	pt.r.w.log.Error(msg, "pipe", pt.id, "router", pt.r.id, "dropped", n, "err", err)
}

func (pt *pipeTransport) stat() ipc.PipeStat {
	pt.encMu.Lock()
	protected := pt.enc != nil
	pt.encMu.Unlock()
	outs, prods := pt.counts()
	return ipc.PipeStat{PipeID: pt.id, SRTP: protected, Outs: outs, Producers: prods, PacketsOut: pt.packetsOut.Load(), BytesOut: pt.bytesOut.Load(),
		PacketsIn: pt.packetsIn.Load(), BytesIn: pt.bytesIn.Load(), Rejected: pt.rejected.Load()}
}

var errNotConnected = &ipc.RemoteError{Code: ipc.CodeNotConnected, Message: "pipe has no remote address yet"}

// consume starts sending a producer of this router through the pipe.
func (pt *pipeTransport) consume(p ipc.PipeFlow) error {
	pt.r.mu.Lock()
	pr := pt.r.producers[p.ProducerID]
	pt.r.mu.Unlock()
	if pr == nil {
		return notFound("producer", p.ProducerID)
	}
	pt.mu.Lock()
	if pt.closed {
		pt.mu.Unlock()
		return notFound("pipe", pt.id)
	}
	if _, dup := pt.outs[p.ProducerID]; dup {
		pt.mu.Unlock()
		return exists("pipe consumer", p.ProducerID)
	}
	o := &pipeOut{pipe: pt, producer: pr, ssrc: p.SSRC}
	pt.outs[p.ProducerID] = o
	pt.mu.Unlock()
	pr.addPipeOut(o)
	return nil
}

func (pt *pipeTransport) unconsume(producerID string) error {
	pt.mu.Lock()
	o := pt.outs[producerID]
	delete(pt.outs, producerID)
	pt.mu.Unlock()
	if o == nil {
		return notFound("pipe consumer", producerID)
	}
	o.producer.removePipeOut(o)
	return nil
}

// produce makes packets arriving with SSRC a producer of this router.
func (pt *pipeTransport) produce(p ipc.PipeFlow) error {
	pt.r.mu.Lock()
	_, dup := pt.r.producers[p.ProducerID]
	pt.r.mu.Unlock()
	if dup {
		return exists("producer", p.ProducerID)
	}
	pr := newProducer(p.ProducerID, pt.r)
	pr.pipe, pr.ssrc, pr.levelExtID, pr.redPT = pt, p.SSRC, p.LevelExtID, redPayloadType
	pr.paused.Store(p.Paused)
	pt.mu.Lock()
	if pt.closed {
		pt.mu.Unlock()
		return notFound("pipe", pt.id)
	}
	if _, dup := pt.producers[p.SSRC]; dup {
		pt.mu.Unlock()
		return exists("pipe ssrc", fmt.Sprint(p.SSRC))
	}
	pt.producers[p.SSRC] = pr
	pt.mu.Unlock()
	pt.r.addProducer(pr)
	return nil
}

func (pt *pipeTransport) unproduce(producerID string) error {
	pt.mu.Lock()
	var pr *producer
	for _, p := range pt.producers {
		if p.id == producerID {
			pr = p
		}
	}
	pt.mu.Unlock()
	if pr == nil {
		return notFound("pipe producer", producerID)
	}
	pt.r.w.closeProducer(pr)
	return nil
}

func (pt *pipeTransport) forgetOut(o *pipeOut) {
	pt.mu.Lock()
	if pt.outs[o.producer.id] == o {
		delete(pt.outs, o.producer.id)
	}
	pt.mu.Unlock()
}

func (pt *pipeTransport) forgetProducer(p *producer) {
	pt.mu.Lock()
	if pt.producers[p.ssrc] == p {
		delete(pt.producers, p.ssrc)
	}
	pt.mu.Unlock()
}

func (pt *pipeTransport) counts() (outs, producers int) {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	return len(pt.outs), len(pt.producers)
}

// closePipe closes the socket and every pipe consumer and producer of the pipe.
func (w *Worker) closePipe(pt *pipeTransport) {
	pt.mu.Lock()
	if pt.closed {
		pt.mu.Unlock()
		return
	}
	pt.closed = true
	outs := slices.Collect(maps.Values(pt.outs))
	prods := slices.Collect(maps.Values(pt.producers))
	pt.mu.Unlock()
	for _, o := range outs {
		o.producer.removePipeOut(o)
	}
	for _, p := range prods {
		w.closeProducer(p)
	}
	_ = pt.conn.Close()
	<-pt.done
	w.mu.Lock()
	delete(w.pipes, pt.id)
	w.mu.Unlock()
	pt.r.mu.Lock()
	delete(pt.r.pipes, pt.id)
	pt.r.mu.Unlock()
}
