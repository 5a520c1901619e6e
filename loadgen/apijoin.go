package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/voicectl/voicectl/admin"
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/wire"
)

// A run against a cluster (Scenario.API): peers get their tokens and their
// server from the API's join endpoint, which creates the room on first use,
// and the report adds up the workers of every server the API lists.

// apiJoin is the API's POST /v1/rooms/{room}/join, as docs/api.md gives it.
type apiJoin struct {
	Identity string `json:"identity"`
	Publish  *bool  `json:"publish,omitempty"`
}

type apiJoinAnswer struct {
	Server    string `json:"server"`
	SignalURL string `json:"signal_url"`
	Token     string `json:"token"`
}

var apiHTTP = &http.Client{Timeout: 15 * time.Second}

func (s *Session) apiDo(ctx context.Context, method, path string, body, out any) error {
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(s.sc.API, "/")+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+s.sc.APIKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := apiHTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var he wire.HTTPError
		_ = json.NewDecoder(resp.Body).Decode(&he)
		return fmt.Errorf("api %s %s: %d %s: %s", method, path, resp.StatusCode, he.Code, he.Message)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// joinThroughAPI is a token and a signalling URL for one peer.
func (s *Session) joinThroughAPI(ctx context.Context, room, identity string, publish bool) (url, token string, err error) {
	var ja apiJoinAnswer
	if err := s.apiDo(ctx, "POST", "/v1/rooms/"+room+"/join", apiJoin{Identity: identity, Publish: &publish}, &ja); err != nil {
		return "", "", err
	}
	return ja.SignalURL, ja.Token, nil
}

// clusterAdmins are admin clients of every live server the API lists (the
// admin key is the cluster's).
func (s *Session) clusterAdmins(ctx context.Context) ([]*admin.Client, error) {
	var servers []wire.ClusterServer
	if err := s.apiDo(ctx, "GET", "/v1/servers", nil, &servers); err != nil {
		return nil, err
	}
	var out []*admin.Client
	for _, srv := range servers {
		if srv.State == cluster.ServerDead {
			continue
		}
		a, err := admin.New(srv.SignalURL, s.sc.AdminKey)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}
