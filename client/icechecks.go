package client

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/pion/webrtc/v4"
)

// iceChecks sums up a peer connection's ICE connectivity checks (RFC 8445 §7.2)
// from its stats: the candidates on each side, then each candidate pair with
// its state and the binding requests sent and received on it, each with how
// many were answered. For a peer that did not connect it tells the stuck steps
// apart: no remote candidate, checks sent and never answered, or checks
// answered but none received from the server.
func iceChecks(report webrtc.StatsReport) string {
	addrs := map[string]string{}
	local, remote := 0, 0
	var pairs []webrtc.ICECandidatePairStats
	for _, s := range report {
		switch s := s.(type) {
		case webrtc.ICECandidateStats:
			addrs[s.ID] = candidateAddr(s)
			if s.Type == webrtc.StatsTypeRemoteCandidate {
				remote++
			} else {
				local++
			}
		case webrtc.ICECandidatePairStats:
			pairs = append(pairs, s)
		}
	}
	slices.SortFunc(pairs, func(a, b webrtc.ICECandidatePairStats) int { return strings.Compare(a.ID, b.ID) })
	var b strings.Builder
	fmt.Fprintf(&b, "candidates %d local, %d remote", local, remote)
	for _, p := range pairs {
		fmt.Fprintf(&b, "; %s -> %s %s: checks sent %d answered %d, received %d answered %d",
			addrOr(addrs, p.LocalCandidateID), addrOr(addrs, p.RemoteCandidateID), p.State,
			p.RequestsSent, p.ResponsesReceived, p.RequestsReceived, p.ResponsesSent)
	}
	return b.String()
}

func candidateAddr(s webrtc.ICECandidateStats) string {
	return fmt.Sprintf("%s %s", s.CandidateType, net.JoinHostPort(s.IP, strconv.Itoa(int(s.Port))))
}

func addrOr(addrs map[string]string, id string) string {
	if a, ok := addrs[id]; ok {
		return a
	}
	return id
}
