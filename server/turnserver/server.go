// Package turnserver is the embedded TURN server (RFC 8656) on pion/turn: it
// gives clients whose network blocks UDP, or lets through only TLS on 443, a
// path to the workers. It relays to the workers' media sockets and nothing
// else, hands credentials only to peers that joined (ICEServers, in the join
// answer), bounds allocations and bandwidth, and tells which TURN transport
// a relayed address belongs to (Protocol, for the admin view's path).
package turnserver

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"

	"github.com/pion/turn/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/voicectl/voicectl/server/config"
	"github.com/voicectl/voicectl/server/wire"
)

// The protocols a client reaches the TURN server with, as Protocol names them.
const (
	ProtoUDP = "turn/udp"
	ProtoTCP = "turn/tcp"
	ProtoTLS = "turn/tls"
)

// Params configures a Server.
type Params struct {
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Config is the turn.* section; its address fields are resolved below.
	Config config.Turn
	// ListenIP is where the listeners bind, RelayIP where relayed sockets
	// bind (the address workers see), Host what clients dial (the URLs).
	ListenIP, RelayIP, Host string
	// Secret signs and checks credentials (turn.secret, else auth.secret).
	Secret []byte
	// Peers are the workers' media addresses, the only ones relayed to.
	Peers Peers
}

// Server is a running TURN server.
type Server struct {
	p       Params
	log     *slog.Logger
	metrics *metrics
	creds   *Credentials
	allocs  *allocations

	turn  *turn.Server
	conns *connSet
	tls   bool
	// udpPort and tlsPort are the bound ports (the configured ones, or the
	// kernel's choice for port 0 in tests).
	udpPort, tlsPort int
}

// New checks p and prepares a Server; Start listens.
func New(p Params) (*Server, error) {
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
	if p.Registerer == nil {
		p.Registerer = prometheus.NewRegistry()
	}
	creds, err := NewCredentials(p.Secret)
	if err != nil {
		return nil, err
	}
	if _, err := netip.ParseAddr(p.RelayIP); err != nil {
		return nil, fmt.Errorf("turn: relay IP: %w", err)
	}
	return &Server{p: p, log: p.Logger.With("component", "turn"), metrics: newMetrics(p.Registerer), creds: creds,
		allocs: newAllocations(p.Config.MaxAllocations, p.Config.MaxAllocationsPerUser), conns: &connSet{m: map[net.Conn]struct{}{}}}, nil
}

// Start opens the listeners: UDP and TCP on turn.udp_port, TLS on
// turn.tls_port when a certificate is set.
func (s *Server) Start() (err error) {
	c := s.p.Config
	var closers []func() error
	defer func() {
		if err != nil {
			for _, cl := range closers {
				_ = cl()
			}
		}
	}()
	udp, tcp, err := listenUDPAndTCP(s.p.ListenIP, c.UDPPort)
	if err != nil {
		return err
	}
	closers = append(closers, udp.Close, tcp.Close)
	s.udpPort = udp.LocalAddr().(*net.UDPAddr).Port
	listeners := []turn.ListenerConfig{{Listener: s.conns.track(tcp), RelayAddressGenerator: s.relayGen(ProtoTCP), PermissionHandler: s.permit}}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return fmt.Errorf("turn: certificate: %w", err)
		}
		tl, err := net.Listen("tcp4", net.JoinHostPort(s.p.ListenIP, strconv.Itoa(c.TLSPort)))
		if err != nil {
			return fmt.Errorf("turn: listen tls: %w", err)
		}
		closers = append(closers, tl.Close)
		s.tls, s.tlsPort = true, tl.Addr().(*net.TCPAddr).Port
		// TLS over the tracked listener: pion sees *tls.Conn (and its state),
		// Close still reaches the connection underneath.
		tlsl := tls.NewListener(s.conns.track(tl), &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		listeners = append(listeners, turn.ListenerConfig{Listener: tlsl, RelayAddressGenerator: s.relayGen(ProtoTLS), PermissionHandler: s.permit})
	}
	s.turn, err = turn.NewServer(turn.ServerConfig{
		Realm:             c.Realm,
		LoggerFactory:     pionLogger{log: s.log},
		AuthHandler:       s.authenticate,
		QuotaHandler:      s.quotaOK,
		EventHandler:      turn.EventHandler{OnAuth: s.onAuth},
		PacketConnConfigs: []turn.PacketConnConfig{{PacketConn: udp, RelayAddressGenerator: s.relayGen(ProtoUDP), PermissionHandler: s.permit}},
		ListenerConfigs:   listeners,
	})
	if err != nil {
		return fmt.Errorf("turn: %w", err)
	}
	s.log.Info("turn server listening", "udp", udp.LocalAddr().String(), "tcp", tcp.Addr().String(), "tls", s.tls,
		"relay_ip", s.p.RelayIP, "host", s.p.Host)
	return nil
}

// listenUDPAndTCP opens TURN's UDP and TCP listeners on one port. Port 0
// asks for any port: the kernel picks the UDP one, and where that number is
// taken for TCP (a client connection's ephemeral port, say) another is
// tried, since only a port free for both will do.
func listenUDPAndTCP(ip string, port int) (net.PacketConn, net.Listener, error) {
	tries := 1
	if port == 0 {
		tries = 20
	}
	var err error
	for range tries {
		udp, uerr := net.ListenPacket("udp4", net.JoinHostPort(ip, strconv.Itoa(port)))
		if uerr != nil {
			return nil, nil, fmt.Errorf("turn: listen udp: %w", uerr)
		}
		tcp, terr := net.Listen("tcp4", net.JoinHostPort(ip, strconv.Itoa(udp.LocalAddr().(*net.UDPAddr).Port)))
		if terr == nil {
			return udp, tcp, nil
		}
		_ = udp.Close()
		err = fmt.Errorf("turn: listen tcp: %w", terr)
	}
	return nil, nil, err
}

func (s *Server) relayGen(proto string) *relayGen {
	return &relayGen{srv: s, proto: proto, ports: &turn.RelayAddressGeneratorPortRange{
		RelayAddress: net.ParseIP(s.p.RelayIP), Address: s.p.RelayIP,
		MinPort: uint16(s.p.Config.RelayPortMin), MaxPort: uint16(s.p.Config.RelayPortMax)}} //nolint:gosec // validated ports
}

// Close stops the listeners, the clients' TCP and TLS connections and every
// allocation.
func (s *Server) Close() error {
	if s == nil || s.turn == nil {
		return nil
	}
	err := s.turn.Close()
	s.conns.closeAll()
	for _, c := range s.allocs.all() {
		_ = c.Close()
	}
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// authenticate is pion's AuthHandler: the user id is the whole username, so
// that quotas are per credential.
func (s *Server) authenticate(ra *turn.RequestAttributes) (string, []byte, bool) {
	key, ok := s.creds.Key(ra.Username, ra.Realm)
	if !ok {
		s.metrics.authRefused.Inc()
		s.log.Debug("turn credential refused", "username", ra.Username, "remote", ra.SrcAddr.String())
		return "", nil, false
	}
	return ra.Username, key, true
}

// onAuth counts requests whose MESSAGE-INTEGRITY failed: a forged password.
func (s *Server) onAuth(_, _ net.Addr, _, username, _, _ string, verdict bool) {
	if !verdict {
		s.metrics.authRefused.Inc()
		s.log.Debug("turn message integrity refused", "username", username)
	}
}

func (s *Server) quotaOK(user, _ string, _ net.Addr) bool {
	if s.allocs.fits(user) {
		return true
	}
	s.metrics.quota.Inc()
	s.log.Debug("turn allocation over quota", "user", user)
	return false
}

// permit is pion's PermissionHandler for CreatePermission and ChannelBind.
func (s *Server) permit(client net.Addr, peer net.IP) bool {
	if s.p.Peers.allowsIP(peer) {
		return true
	}
	s.metrics.permission.Inc()
	s.log.Debug("turn permission refused", "client", client.String(), "peer", peer.String())
	return false
}

// Protocol says how the client of the live allocation whose relayed address
// is relayed reaches the TURN server: ProtoUDP, ProtoTCP or ProtoTLS. A worker
// reports a relayed peer's remote address, which is that relayed address;
// false when no allocation has it, or on a nil Server (TURN is off).
func (s *Server) Protocol(relayed netip.AddrPort) (string, bool) {
	if s == nil {
		return "", false
	}
	c, ok := s.allocs.lookup(netip.AddrPortFrom(relayed.Addr().Unmap(), relayed.Port()))
	if !ok {
		return "", false
	}
	return c.proto, true
}

// ICEServers is the embedded TURN server as a joined peer's ice_servers
// entry: its URLs with credentials for peerID valid for turn.credential_ttl.
func (s *Server) ICEServers(peerID string) []wire.ICEServer {
	return []wire.ICEServer{s.creds.ICEServer(peerID, s.p.Config.CredentialTTL, s.URLs())}
}

// URLs are the server's TURN URLs (RFC 7065): UDP, TCP, and TLS when a
// certificate is set; none on a nil Server (TURN is off). Heartbeats carry
// them to the other servers of a cluster.
func (s *Server) URLs() []string {
	if s == nil || s.turn == nil {
		return nil
	}
	hp := net.JoinHostPort(s.p.Host, strconv.Itoa(s.udpPort))
	urls := []string{"turn:" + hp + "?transport=udp", "turn:" + hp + "?transport=tcp"}
	if s.tls {
		urls = append(urls, "turns:"+net.JoinHostPort(s.p.Host, strconv.Itoa(s.tlsPort))+"?transport=tcp")
	}
	return urls
}
