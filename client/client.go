// Package client is a Go signalling and media client for voicectl servers, built on
// pion/webrtc. Tests and the load generator use it; it speaks only the public wire
// protocol (docs/signalling.md).
package client

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/voicectl/voicectl/server/wire"
)

// Config describes one client.
type Config struct {
	// URL is the server's HTTP base URL, e.g. http://127.0.0.1:7880.
	URL   string
	Token string
	// Publish sends a synthetic Opus stream (when the token allows it).
	Publish bool
	// Level is the RFC 6464 audio level (-dBov, 0 loudest … 127 silent) of the
	// synthetic stream.
	Level uint8
	// LoopbackOnly restricts ICE to loopback addresses, for tests; a server
	// URL on a loopback address does the same by itself.
	LoopbackOnly bool
	// Interfaces, when set, restricts ICE to these network interfaces.
	Interfaces []string
	// Relay, when set (RelayUDP, RelayTCP, RelayTLS), reaches the server only
	// through that TURN server of the join answer's ice_servers (relay.go).
	Relay string
	// Transport, when set, holds the media to one path: udp, tcp, or a TURN
	// transport, which sets Relay (transport.go).
	Transport Transport
	Logger    *slog.Logger

	// Tap, when set, sees RTP headers before decryption and may drop packets
	// (and sockets read in batches); see RTPTap.
	Tap RTPTap
	// OnPacket, when set, gets every decrypted packet that reaches a track: the
	// sending peer's id (msid stream id), its SSRC and sequence number, the payload
	// and when the client read it.
	OnPacket func(peerID string, ssrc uint32, seq uint16, payload []byte, read time.Time)
	// TapReadPacing pauses the tapped sockets between reads so that each read takes
	// a batch: fewer wake-ups for a load generator. Arrival times stay exact (kernel
	// timestamps); control packets wait up to this long.
	TapReadPacing time.Duration
	// PayloadSize, when set, gives each published packet's payload size.
	PayloadSize func() int
	// DTX makes the published stream alternate 2 s talk spurts with 2 s of
	// silence, during which it sends one small packet every 400 ms (Opus DTX).
	DTX bool
	// NoRTCPReports leaves out receiver and sender reports (a load generator that
	// drops packets in its tap would report them lost).
	NoRTCPReports bool
	// ResumeWindow is how long the client tries to resume a dropped
	// WebSocket (the server's signal.resume_window); 0 is 20 s, negative
	// never resumes (resume.go).
	ResumeWindow time.Duration
	// IPFilter, when set, picks the local addresses ICE gathers (on top of
	// loopback-only); it is asked again at each gathering, so a filter that
	// changes its answer and RestartICE move the media to a new address.
	IPFilter func(net.IP) bool
	// NACK answers a server's offer of generic NACK (RFC 4585) with it, as
	// Chromium does: the published stream answers NACKs from a send history,
	// and NACK asks for a remote stream's lost packets (nack.go).
	NACK bool
	// RED answers a server's offer of RED (RFC 2198) with it, as Chromium
	// does: the client publishes RED and hears it, handing each redundant
	// block to OnRedundancy (red.go).
	RED          bool
	OnRedundancy func(peerID string, ssrc uint32, seq uint16, blocks []REDBlock)
	// Impair, when active, makes the client's own UDP sockets a bad network
	// for its media, both ways (impair.go); OnImpairDrop is told each RTP
	// packet it drops.
	Impair       *Impairment
	OnImpairDrop ImpairDrop
	// DialContext, when set, dials the signalling connections (the join's
	// and each resume's): a proxy, or a test that cuts them.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
}

// dialOptions are the WebSocket dial options of cfg's signalling.
func (cfg Config) dialOptions(hdr http.Header) *websocket.DialOptions {
	o := &websocket.DialOptions{HTTPHeader: hdr}
	if cfg.DialContext != nil {
		o.HTTPClient = &http.Client{Transport: &http.Transport{DialContext: cfg.DialContext}}
	}
	return o
}

// HTTPError is a refusal before the WebSocket upgrade.
type HTTPError struct {
	Status int
	Body   wire.HTTPError
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("http %d: %s: %s", e.Status, e.Body.Code, e.Body.Message)
}

// ServerError is an error message received instead of an expected reply.
type ServerError struct{ Msg wire.Error }

func (e *ServerError) Error() string { return string(e.Msg.Code) + ": " + e.Msg.Message }

// Client is one connected peer.
type Client struct {
	cfg Config
	log *slog.Logger
	// ws is the signalling socket now: the read loop swaps it on a resume,
	// under writeMu.
	ws     *websocket.Conn
	wsURL  string
	pc     *webrtc.PeerConnection
	tn     *tapNet // nil without a tap or an impairment
	mic    *webrtc.TrackLocalStaticRTP
	micRED bool // mic publishes RED (red.go)
	events chan any
	done   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc

	Joined *wire.Joined

	mu        sync.Mutex
	received  map[string]*atomic.Uint64 // by producer id (track id)
	byPeer    map[string]*atomic.Uint64 // by peer id (stream id)
	micSender *webrtc.RTPSender
	writeMu   sync.Mutex
	sent      atomic.Uint64
	pubOnce   sync.Once
	pubPaused atomic.Bool // see PausePublishing
	pcState   atomic.Value

	connected chan struct{}
	connOnce  sync.Once
	// localCands counts the candidates gathered; noCands closes when a
	// gathering ended without any (WaitConnected says so in words).
	localCands  atomic.Int32
	noCands     chan struct{}
	noCandsOnce sync.Once
	seq         atomic.Uint32 // next sequence number of the published stream
	ssrcPeer    sync.Map      // remote SSRC → peer id, from the offers' a=ssrc msid lines

	candMu       sync.Mutex
	answered     bool
	pendingCands []wire.Candidate

	// Signalling numbering (resume.go): outSeq and sent under writeMu.
	numbering bool
	outSeq    uint64
	sentMsgs  []numbered
	inSeq     atomic.Uint64
	resumes   atomic.Int32
	endErr    atomic.Pointer[error]
	// ICE restarts (icerestart.go).
	iceRestarts atomic.Int32
	lastRestart atomic.Int64
}

// Connect dials the server, joins, and starts answering offers.
func Connect(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, err
	}
	u.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
	u.Path = "/v1/rtc"
	hdr := http.Header{}
	if cfg.Token != "" {
		hdr.Set("Authorization", "Bearer "+cfg.Token)
	}
	ws, resp, err := websocket.Dial(ctx, u.String(), cfg.dialOptions(hdr))
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			he := &HTTPError{Status: resp.StatusCode}
			if resp.Body != nil {
				b, _ := io.ReadAll(resp.Body)
				_ = json.Unmarshal(b, &he.Body)
			}
			return nil, he
		}
		return nil, err
	}
	ws.SetReadLimit(8 << 20)
	c, err := newClient(cfg, ws)
	if err != nil {
		_ = ws.CloseNow()
		return nil, err
	}
	c.wsURL = u.String()
	if err := c.join(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func newClient(cfg Config, ws *websocket.Conn) (*Client, error) {
	cfg = cfg.withTransport()
	api, tn, err := newAPI(cfg)
	if err != nil {
		return nil, err
	}
	cert, err := sharedCertificate()
	if err != nil {
		return nil, err
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{Certificates: []webrtc.Certificate{cert}})
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithCancel(context.Background())
	c := &Client{cfg: cfg, log: cfg.Logger, ws: ws, pc: pc, tn: tn, events: make(chan any, 4096), done: make(chan struct{}),
		ctx: cctx, cancel: cancel, received: map[string]*atomic.Uint64{}, byPeer: map[string]*atomic.Uint64{}}
	c.seq.Store(uint32(uint16(time.Now().UnixNano())))
	c.pcState.Store(webrtc.PeerConnectionStateNew)
	c.connected, c.noCands = make(chan struct{}), make(chan struct{})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		c.pcState.Store(s)
		if s == webrtc.PeerConnectionStateConnected {
			c.connOnce.Do(func() { close(c.connected) })
			if tn != nil {
				tn.connected.Store(true)
			}
		}
	})
	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		if cand == nil { // gathering is complete
			if c.localCands.Load() == 0 && cfg.Transport != TransportTCP { // TCP's active candidates come with the server's
				c.noCandsOnce.Do(func() { close(c.noCands) })
			}
			return
		}
		c.localCands.Add(1)
		init := cand.ToJSON()
		msg := wire.Candidate{Envelope: wire.Envelope{Type: wire.TypeCandidate},
			Candidate: wire.ICECandidate{Candidate: init.Candidate, SDPMid: init.SDPMid, SDPMLineIndex: init.SDPMLineIndex}}
		// Candidates follow the answer they belong to.
		c.candMu.Lock()
		defer c.candMu.Unlock()
		if !c.answered {
			c.pendingCands = append(c.pendingCands, msg)
			return
		}
		_ = c.Send(msg)
	})
	pc.OnTrack(c.onTrack)
	pc.OnICEConnectionStateChange(c.onICEState)
	if cfg.Publish {
		c.mic, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "mic", "client")
		if err != nil {
			return nil, err
		}
	}
	return c, nil
}

// onLoopback reports whether a server URL's host is a loopback address (or
// localhost): its candidates are loopback ones, which pion leaves out unless
// told, so the client then uses loopback by itself.
func onLoopback(serverURL string) bool {
	u, err := url.Parse(serverURL)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func newAPI(cfg Config) (*webrtc.API, *tapNet, error) {
	loopback := cfg.LoopbackOnly || onLoopback(cfg.URL)
	m := &webrtc.MediaEngine{}
	opus := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}
	if cfg.NACK {
		opus.RTCPFeedback = nackFeedback
	}
	if cfg.RED {
		if err := m.RegisterCodec(redCodec, webrtc.RTPCodecTypeAudio); err != nil {
			return nil, nil, err
		}
	}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: opus, PayloadType: 111}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, nil, err
	}
	if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.AudioLevelURI}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, nil, err
	}
	s := webrtc.SettingEngine{}
	if cfg.IPFilter != nil && !loopback {
		s.SetIPFilter(cfg.IPFilter)
	}
	if len(cfg.Interfaces) > 0 {
		allowed := cfg.Interfaces
		s.SetInterfaceFilter(func(name string) bool { return slices.Contains(allowed, name) })
	}
	if loopback {
		s.SetIncludeLoopbackCandidate(true)
		s.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
		if cfg.Relay != "" {
			s.SetNetworkTypes(relayNetworkTypes)
		}
		s.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() && (cfg.IPFilter == nil || cfg.IPFilter(ip)) })
		s.SetRemoteIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
		s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	}
	if nt := cfg.Transport.networkTypes(loopback); nt != nil {
		s.SetNetworkTypes(nt)
	}
	if cfg.Relay != "" {
		// Relay only: pion answers a server's passive TCP candidates with
		// active ones of its own whatever the transport policy, and a
		// worker with ICE over TCP would then be reached directly.
		s.DisableActiveTCP(true)
	}
	var tn *tapNet
	if cfg.Tap != nil || cfg.Impair.Active() {
		n, err := newTapNet(cfg.Tap, cfg.TapReadPacing)
		if err != nil {
			return nil, nil, err
		}
		if cfg.Impair.Active() {
			n.imp = &impairing{m: *cfg.Impair, onDrop: cfg.OnImpairDrop}
		}
		s.SetNet(n)
		tn = n
	}
	ir := &interceptor.Registry{}
	if cfg.NACK && cfg.Publish {
		if err := addNACKResponder(ir); err != nil {
			return nil, nil, err
		}
	}
	if !cfg.NoRTCPReports {
		if err := webrtc.ConfigureRTCPReports(ir); err != nil {
			return nil, nil, err
		}
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(s), webrtc.WithInterceptorRegistry(ir)), tn, nil
}

// Send writes one message; after joined it is numbered (seq) and kept
// until a resume says the server has it, so a message written into a
// socket that was dropping is sent again on the resumed one.
func (c *Client) Send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if !c.numbering {
		return c.writeLocked(b)
	}
	c.outSeq++
	b = wire.StampSeq(b, c.outSeq)
	c.keepLocked(c.outSeq, b)
	err = c.writeLocked(b)
	if err != nil && c.ctx.Err() == nil && c.canResume() {
		c.log.Debug("signalling write failed; kept for the resume", "seq", c.outSeq, "err", err)
		return nil
	}
	return err
}

// SendRaw writes bytes as one text message, whatever they hold, unnumbered.
func (c *Client) SendRaw(b []byte) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	return c.writeLocked(b)
}

func (c *Client) writeLocked(b []byte) error {
	ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
	defer cancel()
	return c.ws.Write(ctx, websocket.MessageText, b)
}

func (c *Client) join(ctx context.Context) error {
	pub := c.cfg.Publish
	if err := c.Send(wire.Join{Envelope: wire.Envelope{Type: wire.TypeJoin}, Publish: &pub}); err != nil {
		return err
	}
	msg, err := c.read(ctx)
	if err != nil {
		return err
	}
	switch m := msg.(type) {
	case *wire.Joined:
		c.Joined = m
		if c.cfg.Relay != "" {
			if err := c.useRelay(); err != nil {
				return err
			}
		}
		c.writeMu.Lock()
		c.numbering = true
		c.writeMu.Unlock()
	case *wire.Error:
		return &ServerError{Msg: *m}
	default:
		return fmt.Errorf("expected joined, got %T", msg)
	}
	go c.readLoop()
	return nil
}

func (c *Client) read(ctx context.Context) (any, error) {
	_, b, err := c.ws.Read(ctx)
	if err != nil {
		return nil, err
	}
	return wire.ParseServer(b)
}

func (c *Client) readLoop() {
	defer func() {
		close(c.done)
		close(c.events)
		c.cancel()
		_ = c.pc.Close()
	}()
	for {
		msg, err := c.read(c.ctx)
		if err != nil {
			var ute *wire.UnknownTypeError
			if errors.As(err, &ute) || errors.Is(err, wire.ErrMalformed) {
				continue
			}
			if c.dropped(err) && c.resume() {
				continue
			}
			return
		}
		if h, ok := msg.(interface{ Head() *wire.Envelope }); ok && h.Head().Seq > 0 {
			if h.Head().Seq <= c.inSeq.Load() {
				continue // had it already (a resume re-sends from what the client said)
			}
			c.inSeq.Store(h.Head().Seq)
		}
		switch m := msg.(type) {
		case *wire.SessionDescription:
			if err := c.answer(m.SDP); err != nil {
				c.log.Error("answer failed", "err", err)
			}
			continue
		case *wire.Candidate:
			if err := c.pc.AddICECandidate(webrtc.ICECandidateInit{Candidate: m.Candidate.Candidate, SDPMid: m.Candidate.SDPMid, SDPMLineIndex: m.Candidate.SDPMLineIndex}); err != nil {
				// Offers are applied here in order, so only an older ICE
				// generation's candidate, after a restart, is refused.
				c.log.Debug("candidate not added", "candidate", m.Candidate.Candidate, "err", err)
			}
			continue
		}
		select {
		case c.events <- msg:
		default:
		}
	}
}

func (c *Client) answer(offer string) error {
	c.learnSSRCs(offer)
	if c.pc.CurrentRemoteDescription() != nil && !awaitICEStart(c.ctx, c.pc, iceStartLimit) {
		c.log.Debug("renegotiating before ICE started: pion will restart it")
	}
	if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return err
	}
	if c.mic != nil && c.micSender == nil {
		if c.cfg.RED && offersRED(offer) {
			red, err := webrtc.NewTrackLocalStaticRTP(redCodec.RTPCodecCapability, "mic", "client")
			if err != nil {
				return err
			}
			c.mic, c.micRED = red, true
		}
		s, err := c.pc.AddTrack(c.mic)
		if err != nil {
			return err
		}
		c.micSender = s
		go func() {
			buf := make([]byte, 1500)
			for {
				if _, _, err := s.Read(buf); err != nil {
					return
				}
			}
		}()
	}
	ans, err := c.pc.CreateAnswer(nil)
	if err != nil {
		return err
	}
	if err := c.pc.SetLocalDescription(ans); err != nil {
		return err
	}
	if c.micSender != nil {
		c.pubOnce.Do(func() { go c.publish() })
	}
	c.candMu.Lock()
	defer c.candMu.Unlock()
	if err := c.Send(wire.SessionDescription{Envelope: wire.Envelope{Type: wire.TypeAnswer}, SDP: ans.SDP}); err != nil {
		return err
	}
	c.answered = true
	for _, m := range c.pendingCands {
		_ = c.Send(m)
	}
	c.pendingCands = nil
	return nil
}

func (c *Client) onTrack(t *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	if !c.cfg.NoRTCPReports {
		// Reading the track's RTCP lets the report interceptor see the
		// server's sender reports, so that its receiver reports echo them
		// (LSR/DLSR, RFC 3550 §6.4.1) and the server learns the round trip.
		go func() {
			for {
				if _, _, err := recv.ReadRTCP(); err != nil {
					return
				}
			}
		}()
	}
	c.mu.Lock()
	n := c.received[t.ID()]
	if n == nil {
		n = &atomic.Uint64{}
		c.received[t.ID()] = n
	}
	pn := c.byPeer[t.StreamID()]
	if pn == nil {
		pn = &atomic.Uint64{}
		c.byPeer[t.StreamID()] = pn
	}
	c.mu.Unlock()
	buf := make([]byte, 1500)
	var pkt rtp.Packet
	red := strings.EqualFold(t.Codec().MimeType, mimeRED)
	var blocks []REDBlock
	for {
		k, _, err := t.Read(buf)
		if err != nil {
			return
		}
		n.Add(1)
		pn.Add(1)
		if c.tapsDecrypted() && (pkt.Unmarshal(buf[:k]) != nil || !c.tapDecrypted(&pkt, k)) {
			continue
		}
		if c.cfg.OnPacket == nil || pkt.Unmarshal(buf[:k]) != nil {
			continue
		}
		payload := pkt.Payload
		if red {
			var primary []byte
			if primary, blocks, err = ParseRED(payload, blocks[:0]); err != nil {
				continue
			}
			if c.cfg.OnRedundancy != nil {
				c.cfg.OnRedundancy(t.StreamID(), uint32(t.SSRC()), pkt.SequenceNumber, blocks)
			}
			payload = primary
		}
		c.cfg.OnPacket(t.StreamID(), uint32(t.SSRC()), pkt.SequenceNumber, payload, time.Now())
	}
}

// WaitConnected waits for the media connection to come up.
func (c *Client) WaitConnected(ctx context.Context) error {
	select {
	case <-c.connected:
		return nil
	case <-c.done:
		return errors.New("connection closed before media connected")
	case <-c.noCands:
		return fmt.Errorf("%w: gathering found no usable address (%s)", ErrNoLocalCandidate, c.iceScope())
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ErrNoLocalCandidate: this client has no address its media could use.
var ErrNoLocalCandidate = errors.New("no local ICE candidate")

// iceScope says which addresses ICE was allowed to gather.
func (c *Client) iceScope() string {
	scope := "every interface's addresses"
	if len(c.cfg.Interfaces) > 0 {
		scope = "interfaces " + strings.Join(c.cfg.Interfaces, ",")
	}
	if c.cfg.LoopbackOnly || onLoopback(c.cfg.URL) {
		scope += ", loopback only (the server URL is on loopback, or --loopback-only)"
	} else {
		scope += ", loopback left out (the server URL is not on loopback)"
	}
	return scope
}

// NextSeq is the sequence number the published stream sends next; the packets
// sent between two readings are exactly those with sequence numbers in between.
func (c *Client) NextSeq() uint16 { return uint16(c.seq.Load()) }

// PeerOfSSRC maps a remote stream's SSRC to the peer that sends it.
func (c *Client) PeerOfSSRC(ssrc uint32) (string, bool) {
	v, ok := c.ssrcPeer.Load(ssrc)
	if !ok {
		return "", false
	}
	return v.(string), true
}

// learnSSRCs records "a=ssrc:<ssrc> msid:<stream> <track>" lines of an offer.
func (c *Client) learnSSRCs(sdp string) {
	for _, line := range strings.Split(sdp, "\n") {
		line = strings.TrimSpace(line)
		rest, ok := strings.CutPrefix(line, "a=ssrc:")
		if !ok {
			continue
		}
		ssrcStr, attr, ok := strings.Cut(rest, " ")
		if !ok {
			continue
		}
		msid, ok := strings.CutPrefix(attr, "msid:")
		if !ok {
			continue
		}
		stream, _, _ := strings.Cut(msid, " ")
		if ssrc, err := strconv.ParseUint(ssrcStr, 10, 32); err == nil {
			c.ssrcPeer.Store(uint32(ssrc), stream)
		}
	}
}

// Events delivers server messages other than offers and candidates; it is closed
// when the connection ends.
func (c *Client) Events() <-chan any { return c.events }

// Done is closed when the connection ends.
func (c *Client) Done() <-chan struct{} { return c.done }

// Received is the number of RTP packets received from a peer (by peer id).
func (c *Client) Received(peerID string) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := c.byPeer[peerID]; n != nil {
		return n.Load()
	}
	return 0
}

// ReceivedFrom lists the peer ids this client has received packets from.
func (c *Client) ReceivedFrom() map[string]uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]uint64{}
	for id, n := range c.byPeer {
		out[id] = n.Load()
	}
	return out
}

// Sent is the number of RTP packets this client has sent.
func (c *Client) Sent() uint64 { return c.sent.Load() }

// PeerID is this client's peer id.
func (c *Client) PeerID() string { return c.Joined.PeerID }

// Connected reports whether the media connection is up.
func (c *Client) Connected() bool {
	return c.pcState.Load().(webrtc.PeerConnectionState) == webrtc.PeerConnectionStateConnected
}

// Close leaves and closes everything.
func (c *Client) Close() {
	_ = c.Send(wire.Envelope{Type: wire.TypeLeave})
	c.cancel()
	c.writeMu.Lock()
	ws := c.ws
	c.writeMu.Unlock()
	_ = ws.Close(websocket.StatusNormalClosure, "")
	_ = c.pc.Close()
	select {
	case <-c.done:
	case <-time.After(2 * time.Second):
	}
}

var (
	certOnce sync.Once
	cert     webrtc.Certificate
	certErr  error
)

// sharedCertificate is one DTLS certificate for every client of this process: a
// load generator joining hundreds of peers need not generate a key for each.
func sharedCertificate() (webrtc.Certificate, error) {
	certOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			certErr = err
			return
		}
		c, err := webrtc.GenerateCertificate(key)
		if err != nil {
			certErr = err
			return
		}
		cert = *c
	})
	return cert, certErr
}

// MediaState describes how far media setup got: whether an offer arrived, the
// ICE state with its checks per candidate pair (iceChecks), the DTLS and peer
// connection states, for messages about a peer that did not connect.
func (c *Client) MediaState() string {
	offered := c.pc.RemoteDescription() != nil
	return fmt.Sprintf("offer received %t, local candidates %d, ice %s (%s), dtls %s, peer connection %s", offered, c.localCands.Load(),
		c.pc.ICEConnectionState(), iceChecks(c.pc.GetStats()), c.pc.SCTP().Transport().State(), c.pc.ConnectionState())
}
