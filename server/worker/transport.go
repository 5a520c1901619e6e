package worker

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/wire"
)

// transport is one peer's PeerConnection. The worker is always the offerer
// (JSEP, RFC 8829): the client only answers, so offers never collide.
type transport struct {
	id         string
	w          *Worker
	r          *router
	pc         *webrtc.PeerConnection
	producerID string

	mu          sync.Mutex
	closed      bool
	negotiating bool // an offer is out, waiting for its answer
	dirty       bool // tracks changed while an offer was out
	restart     bool // the next offer restarts ICE (see restartICE)
	consumers   map[string]*consumer
	producer    *producer
	// early holds candidates that arrived before the first answer (trickle ICE
	// lets them overtake it).
	early []webrtc.ICECandidateInit
	// localCands keeps the worker's own candidates behind their offer.
	localCands candidateGate

	keys dtlsKeyCatcher
	// handshaking is set while the transport counts in w.handshakes (see
	// handshakeStarted); the timer ends the count at the limit, and once
	// handshakeClosed (as the transport closes) it never starts again.
	handshaking     atomic.Bool
	handshakeMu     sync.Mutex
	handshakeTimer  *time.Timer
	handshakeClosed bool
	routeMu         sync.Mutex
	route           atomic.Pointer[route] // nil until connected: packets are not sent
	// routeConsumers hold a copy of route (under routeMu; who holds both
	// takes mu first, and updateRoute never takes mu).
	routeConsumers []*consumer
	// ingress takes the producer's stream off the worker's sockets, from
	// route's remote address (under routeMu; see ingressTable).
	ingress       *ingress
	ingressAt     netip.AddrPort
	ingressClosed bool
	failedOverTCP bool         // reported failed when ICE moved it to TCP (see updateRoute)
	reports       *roundJob    // sender reports, see senderreport.go
	reportOut     reportWriter // under mu
	// nack: the last answer accepted generic NACK on audio (rtc.nack on):
	// its listener's NACKs are answered and its publisher is asked.
	nack atomic.Bool

	consentMu      sync.Mutex
	consent        *consentPeer // kept by the worker's sockets, see consentpeer.go
	consentStopped bool

	quality transportQuality // see qualitysample.go

	pathMu sync.Mutex
	path   ipc.TransportPath       // last reported, see reportPath
	relays map[netip.AddrPort]bool // the peer's TURN relayed candidates
}

func (w *Worker) createTransport(p ipc.TransportCreate) error {
	w.mu.Lock()
	r := w.routers[p.RouterID]
	api := w.api
	_, dup := w.transports[p.TransportID]
	w.mu.Unlock()
	if r == nil {
		return notFound("router", p.RouterID)
	}
	if dup {
		return exists("transport", p.TransportID)
	}
	t := &transport{id: p.TransportID, w: w, r: r, producerID: p.ProducerID, consumers: map[string]*consumer{}}
	cert, err := api.cert.get()
	if err != nil {
		return err
	}
	pc, err := api.forTransport(&t.keys).NewPeerConnection(webrtc.Configuration{Certificates: []webrtc.Certificate{cert}})
	if err != nil {
		return err
	}
	t.pc = pc
	if p.ProducerID != "" {
		if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			_ = pc.Close()
			return err
		}
	}
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			return
		}
		init := c.ToJSON()
		t.localCands.pass(ipc.Candidate{TransportID: t.id, Candidate: wire.ICECandidate{
			Candidate: init.Candidate, SDPMid: init.SDPMid, SDPMLineIndex: init.SDPMLineIndex, UsernameFragment: init.UsernameFragment,
		}}, t.sendCandidate)
	})
	pc.SCTP().Transport().ICETransport().OnSelectedCandidatePairChange(func(*webrtc.ICECandidatePair) {
		t.updateRoute(false)
		t.keepConsent()
		t.reportPath()
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		switch s {
		case webrtc.PeerConnectionStateConnecting:
			t.handshakeStarted()
		case webrtc.PeerConnectionStateConnected:
			t.updateRoute(true)
			t.prepareReports()
			t.handshakeEnded()
			t.reportPath()
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
			t.handshakeEnded()
		}
		t.keepConsent()
		w.notify(ipc.EventTransportState, ipc.TransportState{TransportID: t.id, State: connState(s)})
	})
	pc.OnTrack(t.onTrack)
	t.scheduleReports()

	w.mu.Lock()
	w.transports[t.id] = t
	w.mu.Unlock()
	r.mu.Lock()
	r.transports[t.id] = t
	r.mu.Unlock()
	return t.negotiate()
}

// negotiate sends a fresh offer, or marks one as needed once the outstanding answer arrives.
func (t *transport) negotiate() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	if t.negotiating {
		t.dirty = true
		return nil
	}
	if len(t.pc.GetTransceivers()) == 0 {
		return nil // a listener with nobody to hear yet: the first consumer starts negotiation
	}
	return t.offerLocked()
}

func (t *transport) offerLocked() error {
	// The offer first, then what gathering finds for it (candidategate.go):
	// shut before CreateOffer, which regathers at once on an ICE restart.
	t.localCands.shut()
	defer t.localCands.reopen(t.sendCandidate)
	var opts *webrtc.OfferOptions
	if t.restart {
		opts = &webrtc.OfferOptions{ICERestart: true}
	}
	offer, err := t.pc.CreateOffer(opts)
	if err != nil {
		return fmt.Errorf("create offer: %w", err)
	}
	if err := t.pc.SetLocalDescription(offer); err != nil {
		return fmt.Errorf("set local offer: %w", err)
	}
	if t.w.afterSetLocal != nil {
		t.w.afterSetLocal()
	}
	if t.restart {
		t.w.log.Info("ICE restart: offering new ICE credentials", "transport", t.id)
	}
	t.negotiating = true
	t.dirty = false
	t.restart = false
	t.w.notify(ipc.EventOffer, ipc.SDP{TransportID: t.id, SDP: offer.SDP})
	return nil
}

// sendCandidate tells control of one of the transport's local candidates.
func (t *transport) sendCandidate(c ipc.Candidate) { t.w.notify(ipc.EventCandidate, c) }

func (t *transport) applyAnswer(sdp string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return notFound("transport", t.id)
	}
	if !t.negotiating {
		return &ipc.RemoteError{Code: ipc.CodeBadSDP, Message: "no offer is waiting for an answer"}
	}
	if err := checkAnswer(t.pc.LocalDescription().SDP, sdp); err != nil {
		return &ipc.RemoteError{Code: ipc.CodeBadSDP, Message: err.Error()}
	}
	if err := t.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		if t.pc.SignalingState() != webrtc.SignalingStateHaveLocalOffer {
			// pion left the offer state: only a new offer can be answered now.
			t.w.log.Debug("answer rejected after the offer state was left; offering again", "transport", t.id, "err", err)
			if oerr := t.offerLocked(); oerr == nil {
				return &ipc.RemoteError{Code: ipc.CodeBadSDP, Message: err.Error() + " (a new offer follows)"}
			}
		}
		return &ipc.RemoteError{Code: ipc.CodeBadSDP, Message: err.Error()}
	}
	t.negotiating = false
	if nack := t.w.nack && answerHasNACK(sdp); t.nack.Swap(nack) != nack {
		if t.producer != nil {
			t.producer.askNACK.Store(nack)
		}
		for _, c := range t.consumers {
			c.producer.refreshNACK()
		}
	}
	t.noteRelays(candidatesIn(sdp)...)
	for _, c := range t.early {
		if err := t.pc.AddICECandidate(c); err != nil {
			t.w.log.Debug("early candidate rejected", "transport", t.id, "err", err)
		}
	}
	t.early = nil
	if t.dirty {
		return t.offerLocked()
	}
	return nil
}

// maxEarlyCandidates bounds candidates buffered before the first answer.
const maxEarlyCandidates = 64

func (t *transport) addCandidate(c wire.ICECandidate) error {
	init := webrtc.ICECandidateInit{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex, UsernameFragment: c.UsernameFragment}
	if err := checkCandidate(c.Candidate, t.w.api != nil && t.w.api.params.MDNS, t.w.api != nil && t.w.api.tcpMux != nil); err != nil {
		return err
	}
	t.mu.Lock()
	if err := checkMedia(t.pc.LocalDescription(), c); err != nil {
		t.mu.Unlock()
		return err
	}
	if t.pc.RemoteDescription() == nil {
		defer t.mu.Unlock()
		if len(t.early) >= maxEarlyCandidates {
			return &ipc.RemoteError{Code: ipc.CodeBadCand, Message: "too many candidates before an answer"}
		}
		t.early = append(t.early, init)
		t.noteRelays(c.Candidate)
		return nil
	}
	t.mu.Unlock()
	err := t.pc.AddICECandidate(init)
	if err != nil {
		return &ipc.RemoteError{Code: ipc.CodeBadCand, Message: err.Error()}
	}
	t.noteRelays(c.Candidate)
	return nil
}

// checkCandidate parses a candidate as pion will once the answer is in, so a
// malformed one sent before the answer is refused at once, not dropped later
// (RFC 8839 §5.1 grammar). Kinds pion discards (unknown types, networks) pass;
// TCP ones (RFC 6544) only when the worker does ICE over TCP.
func checkCandidate(raw string, mdns, tcp bool) error {
	v := strings.TrimPrefix(raw, "candidate:")
	if v == "" {
		return nil
	}
	c, err := ice.UnmarshalCandidate(v)
	switch {
	case err != nil && !errors.Is(err, ice.ErrUnknownCandidateTyp) && !errors.Is(err, ice.ErrDetermineNetworkType):
		return &ipc.RemoteError{Code: ipc.CodeBadCand, Message: err.Error()}
	case err != nil:
		return nil
	case c.NetworkType().IsTCP() && !tcp:
		// Said, not dropped in silence: the client may then stop sending them.
		return &ipc.RemoteError{Code: ipc.CodeBadCand, Message: "TCP candidates are not used: this server does ICE over UDP only (rtc.tcp is off)"}
	case !mdns && strings.HasSuffix(strings.TrimSuffix(c.Address(), "."), ".local"):
		return &ipc.RemoteError{Code: ipc.CodeBadCand, Message: "mDNS (.local) candidates are not resolved here (rtc.mdns is off): the server learns the address from the checks"}
	}
	return nil
}

// checkMedia refuses a candidate for a media section the offer does not have.
func checkMedia(local *webrtc.SessionDescription, c wire.ICECandidate) error {
	if local == nil {
		return nil
	}
	mids := midsOf(local.SDP)
	if c.SDPMLineIndex != nil && int(*c.SDPMLineIndex) >= len(mids) {
		return &ipc.RemoteError{Code: ipc.CodeBadCand, Message: fmt.Sprintf("sdpMLineIndex %d: the offer has %d media sections", *c.SDPMLineIndex, len(mids))}
	}
	if c.SDPMid != nil && *c.SDPMid != "" && !slices.Contains(mids, *c.SDPMid) {
		return &ipc.RemoteError{Code: ipc.CodeBadCand, Message: fmt.Sprintf("sdpMid %q is none of the offer's media sections %v", *c.SDPMid, mids)}
	}
	return nil
}

// midsOf lists the a=mid values of an SDP's media sections, in order.
func midsOf(sdpText string) []string {
	var d sdp.SessionDescription
	if d.UnmarshalString(sdpText) != nil {
		return nil
	}
	out := make([]string, 0, len(d.MediaDescriptions))
	for _, md := range d.MediaDescriptions {
		mid, _ := md.Attribute("mid")
		out = append(out, mid)
	}
	return out
}

// jitter sums the latest RTCP jitter (seconds) of t's consumers that have reported.
func (t *transport) jitter() (sum float64, n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range t.consumers {
		if c.reported.Load() {
			sum += float64(c.jitter.Load()) / float64(OpusCodec.ClockRate)
			n++
		}
	}
	return sum, n
}

func (t *transport) consumerCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.consumers)
}

func (t *transport) onTrack(track *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	t.mu.Lock()
	if t.closed || t.producerID == "" || t.producer != nil || track.Kind() != webrtc.RTPCodecTypeAudio {
		t.mu.Unlock()
		return
	}
	p := newLocalProducer(t.producerID, t, recv)
	p.askNACK.Store(t.nack.Load())
	t.producer = p
	t.mu.Unlock()

	go p.stats.readSenderReports(recv)
	t.r.addProducer(p)
	t.w.notify(ipc.EventProducerNew, ipc.ProducerEvent{RouterID: t.r.id, TransportID: t.id, ProducerID: p.id, LevelExtID: p.levelExtID})
	p.readTrack(track)
	// The track ended (the peer left or the transport closed).
	t.w.closeProducer(p)
}

func (w *Worker) closeTransport(t *transport) {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	t.closed = true
	cons := slices.Collect(maps.Values(t.consumers))
	t.consumers = map[string]*consumer{}
	t.clearRouteConsumers()
	p := t.producer
	if t.reports != nil {
		t.reports.Stop()
	}
	t.mu.Unlock()

	for _, c := range cons {
		c.producer.removeConsumer(c)
	}
	if p != nil {
		w.closeProducer(p)
	}
	t.closeIngress()
	_ = t.pc.Close()
	t.stopHandshakeTimer()
	t.stopConsent()
	w.mu.Lock()
	delete(w.transports, t.id)
	w.mu.Unlock()
	t.r.mu.Lock()
	delete(t.r.transports, t.id)
	t.r.mu.Unlock()
}
