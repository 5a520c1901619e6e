package worker

import (
	"fmt"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/testenv"
)

// benchPacket is an Opus-sized RTP packet with an audio-level extension.
func benchPacket() *rtp.Packet {
	p := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: 1, Timestamp: 960, SSRC: 42}, Payload: make([]byte, 80)}
	_ = p.Header.SetExtension(1, []byte{0x9e})
	return p
}

// connectedConsumers builds n server-side consumers, each a real pion
// PeerConnection on the worker's UDP mux, connected to a pion client that drains it.
func connectedConsumers(b *testing.B, r *router, api *webrtc.API, n int) []*consumer {
	b.Helper()
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	me := &webrtc.MediaEngine{}
	if err := me.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: OpusCodec, PayloadType: opusPayloadType}, webrtc.RTPCodecTypeAudio); err != nil {
		b.Fatal(err)
	}
	capi := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se))
	var out []*consumer
	for i := 0; i < n; i++ {
		spc, err := api.NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			b.Fatal(err)
		}
		cpc, err := capi.NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = spc.Close(); _ = cpc.Close() })
		track, _ := webrtc.NewTrackLocalStaticRTP(OpusCodec, fmt.Sprint("p", i), "s")
		tr, err := spc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err != nil {
			b.Fatal(err)
		}
		go func() {
			buf := make([]byte, 1500)
			for {
				if _, _, err := tr.Sender().Read(buf); err != nil {
					return
				}
			}
		}()
		cpc.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
			buf := make([]byte, 1500)
			for {
				if _, _, err := t.Read(buf); err != nil {
					return
				}
			}
		})
		connected := make(chan struct{})
		cpc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
			if s == webrtc.PeerConnectionStateConnected {
				close(connected)
			}
		})
		offer, _ := spc.CreateOffer(nil)
		gathered := webrtc.GatheringCompletePromise(spc)
		_ = spc.SetLocalDescription(offer)
		<-gathered
		if err := cpc.SetRemoteDescription(*spc.LocalDescription()); err != nil {
			b.Fatal(err)
		}
		answer, _ := cpc.CreateAnswer(nil)
		cg := webrtc.GatheringCompletePromise(cpc)
		_ = cpc.SetLocalDescription(answer)
		<-cg
		if err := spc.SetRemoteDescription(*cpc.LocalDescription()); err != nil {
			b.Fatal(err)
		}
		select {
		case <-connected:
		case <-time.After(10 * time.Second):
			b.Fatal("consumer did not connect")
		}
		out = append(out, &consumer{track: track, sender: tr.Sender()})
	}
	time.Sleep(200 * time.Millisecond) // let DTLS-SRTP finish on the server side
	return out
}

// BenchmarkForwardWebRTC forwards one packet to N listeners through pion's stock
// write path (TrackLocalStaticRTP → SRTP → the worker's UDP mux).
func BenchmarkForwardWebRTC(b *testing.B) {
	testenv.RequireLoopbackOnly(b)
	for _, n := range []int{1, 20} {
		b.Run(fmt.Sprintf("listeners=%d", n), func(b *testing.B) {
			p := ipc.InitParams{Port: 47000 + n, Loopback: true}
			mux, err := listenMux(p)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = mux.Close() })
			api, err := newAPI(p, mux)
			if err != nil {
				b.Fatal(err)
			}
			wk := &Worker{log: slog.New(slog.DiscardHandler)}
			r := &router{w: wk, id: "r"}
			pr := newProducer("P", r)
			for _, c := range connectedConsumers(b, r, api, n) {
				c.producer = pr
				pr.addConsumer(c)
			}
			pkt := benchPacket()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				pkt.SequenceNumber++
				pr.dispatch(pkt)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/forwarded")
		})
	}
}

// BenchmarkForwardPipe forwards one packet into N pipes (plain RTP over loopback UDP).
func BenchmarkForwardPipe(b *testing.B) {
	testenv.RequireLoopbackOnly(b)
	for _, n := range []int{1, 8} {
		b.Run(fmt.Sprintf("pipes=%d", n), func(b *testing.B) {
			a := &Worker{log: slog.New(slog.DiscardHandler), api: &webrtc.API{}, routers: map[string]*router{},
				transports: map[string]*transport{}, producers: map[string]*producer{}, pipes: map[string]*pipeTransport{}}
			if err := a.createRouter("r", 0); err != nil {
				b.Fatal(err)
			}
			sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = sink.Close(); a.closeAll() })
			go func() {
				buf := make([]byte, 1500)
				for {
					if _, _, err := sink.ReadFrom(buf); err != nil {
						return
					}
				}
			}()
			src := newProducer("P", a.routers["r"])
			a.routers["r"].addProducer(src)
			for i := 0; i < n; i++ {
				id := fmt.Sprint("pipe", i)
				if _, err := a.createPipe(ipc.PipeCreate{PipeID: id, RouterID: "r", ListenIP: "127.0.0.1"}); err != nil {
					b.Fatal(err)
				}
				pt := a.pipes[id]
				if err := pt.connect(ipc.PipeConnect{PipeID: id, RemoteAddr: sink.LocalAddr().String()}); err != nil {
					b.Fatal(err)
				}
				if err := pt.consume(ipc.PipeFlow{PipeID: id, ProducerID: "P", SSRC: uint32(i + 1)}); err != nil {
					b.Fatal(err)
				}
			}
			pkt := benchPacket()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				pkt.SequenceNumber++
				src.dispatch(pkt)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/forwarded")
		})
	}
}
