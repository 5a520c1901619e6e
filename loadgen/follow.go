package loadgen

import (
	"context"
	"fmt"
	"time"

	"github.com/voicectl/voicectl/client"
	"github.com/voicectl/voicectl/server/wire"
)

// A peer stays in its room as a real client would: it follows a move
// instruction (joins the new home, then leaves the old one: the old home
// keeps it for cluster.move_grace), and after a reconnect instruction or a
// lost connection (its server drained, restarted or died) it joins again,
// through the API in a cluster run. Each new client counts as a rejoin; the
// gap it caused shows in the report's listener gaps.

// rejoinBackoff bounds the pause between failed rejoins.
const (
	rejoinFirst = 200 * time.Millisecond
	rejoinMax   = 2 * time.Second
)

func (p *peer) client() *client.Client {
	p.cmu.Lock()
	defer p.cmu.Unlock()
	return p.c
}

// sent is every packet the peer's clients sent.
func (p *peer) sent() uint64 {
	p.cmu.Lock()
	defer p.cmu.Unlock()
	return p.sentBefore + p.c.Sent()
}

// swap makes c the peer's client and returns the one it replaces.
func (p *peer) swap(c *client.Client) *client.Client {
	p.cmu.Lock()
	defer p.cmu.Unlock()
	old := p.c
	p.sentBefore += old.Sent()
	p.c = c
	p.joinSeq = c.NextSeq()
	p.rejoins.Add(1)
	return old
}

// credentials are a signalling URL and a token for p: from the API's join
// endpoint in a cluster run, minted here otherwise.
func (s *Session) credentials(ctx context.Context, p *peer) (url, token string, err error) {
	if s.sc.API != "" {
		return s.joinThroughAPI(ctx, p.room, p.identity, p.publish)
	}
	tok, err := mintToken(s.sc.Secret, p.room, p.identity, p.publish, time.Hour)
	return s.sc.Server, tok, err
}

// follow watches p's client until the session closes.
func (s *Session) follow(p *peer) {
	defer s.follows.Done()
	for {
		c := p.client()
		var move *wire.Move
		delay := time.Duration(0)
	watch:
		for {
			select {
			case <-s.closing:
				return
			case ev, ok := <-c.Events():
				if !ok {
					break watch // the connection is gone
				}
				switch m := ev.(type) {
				case *wire.Move:
					move = m
					break watch
				case *wire.Reconnect:
					delay = time.Duration(m.DelayMS) * time.Millisecond
					break watch
				}
			}
		}
		if !s.pause(delay) {
			return
		}
		if !s.rejoin(p, move) {
			return
		}
	}
}

// pause waits d unless the session closes first.
func (s *Session) pause(d time.Duration) bool {
	if d <= 0 {
		return true
	}
	select {
	case <-s.closing:
		return false
	case <-time.After(d):
		return true
	}
}

// rejoin gives p a new client: at the move's new home first, when there is
// a move, else (or when that fails) wherever the API or the server says,
// trying again with backoff until the session closes. The old client is
// closed once the new one has media.
func (s *Session) rejoin(p *peer, move *wire.Move) bool {
	wait := rejoinFirst
	for attempt := 0; ; attempt++ {
		c, err := s.connect(p, move)
		if err == nil {
			select {
			case <-s.closing:
				c.Close()
				return false
			default:
			}
			old := p.swap(c)
			s.markSpan(p)
			go old.Close()
			s.log.Debug("peer rejoined", "peer", p.identity, "moved", move != nil, "attempts", attempt+1)
			return true
		}
		s.log.Debug("rejoin failed", "peer", p.identity, "err", err)
		move = nil // a move that failed: ask the API where the room is
		if !s.pause(wait) {
			return false
		}
		wait = min(2*wait, rejoinMax)
	}
}

func (s *Session) connect(p *peer, move *wire.Move) (*client.Client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() {
		select {
		case <-s.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	cfg := p.cfg
	if move != nil {
		cfg.URL, cfg.Token = move.URL, move.Token
	} else {
		url, tok, err := s.credentials(ctx, p)
		if err != nil {
			return nil, err
		}
		cfg.URL, cfg.Token = url, tok
	}
	c, err := client.Connect(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("join: %w", err)
	}
	if err := awaitMedia(ctx, c); err != nil {
		return nil, err
	}
	return c, nil
}
