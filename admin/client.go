// Package admin is a client of a voice server's admin API (/admin/v1). It speaks
// only the wire types, never the SFU's internals.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/voicectl/voicectl/server/wire"
)

// Client calls one server's admin API.
type Client struct {
	BaseURL string
	Key     string
	HTTP    *http.Client
}

// New returns a client for the server at baseURL.
func New(baseURL, key string) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server URL %q: want http(s)://host:port", baseURL)
	}
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), Key: key, HTTP: &http.Client{Timeout: 10 * time.Second}}, nil
}

// APIError is an error answer of the admin API.
type APIError struct {
	Status  int
	Code    wire.Code
	Message string
}

func (e *APIError) Error() string {
	if e.Status == http.StatusUnauthorized {
		return "admin key refused: " + e.Message
	}
	return fmt.Sprintf("%s (%s)", e.Message, e.Code)
}

// ErrUnreachable wraps failures to reach the server at all.
var ErrUnreachable = errors.New("cannot reach server")

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, rd)
	if err != nil {
		return err
	}
	if c.Key != "" {
		req.Header.Set("Authorization", "Bearer "+c.Key)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("%w at %s: %v", ErrUnreachable, c.BaseURL, rootCause(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%w at %s: %v", ErrUnreachable, c.BaseURL, err)
	}
	if resp.StatusCode >= 300 {
		var he wire.HTTPError
		if json.Unmarshal(data, &he) != nil || he.Code == "" {
			he = wire.HTTPError{Code: wire.Code("http_" + fmt.Sprint(resp.StatusCode)), Message: strings.TrimSpace(string(data))}
		}
		return &APIError{Status: resp.StatusCode, Code: he.Code, Message: he.Message}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("unexpected answer from %s%s: %v", c.BaseURL, path, err)
		}
	}
	return nil
}

func rootCause(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

// Workers lists the server's workers.
func (c *Client) Workers(ctx context.Context) ([]wire.AdminWorker, error) {
	var out []wire.AdminWorker
	return out, c.do(ctx, http.MethodGet, "/admin/v1/workers", nil, &out)
}

// Process reads the control process's own figures (goroutines, memory, files).
func (c *Client) Process(ctx context.Context) (wire.AdminProcess, error) {
	var out wire.AdminProcess
	return out, c.do(ctx, http.MethodGet, "/admin/v1/process", nil, &out)
}

// Rooms lists the server's rooms.
func (c *Client) Rooms(ctx context.Context) ([]wire.AdminRoom, error) {
	var out []wire.AdminRoom
	return out, c.do(ctx, http.MethodGet, "/admin/v1/rooms", nil, &out)
}

// Room describes one room with its peers and pipes.
func (c *Client) Room(ctx context.Context, id string) (wire.AdminRoomDetail, error) {
	var out wire.AdminRoomDetail
	return out, c.do(ctx, http.MethodGet, "/admin/v1/rooms/"+url.PathEscape(id), nil, &out)
}

// CloseRoom removes every peer of a room.
func (c *Client) CloseRoom(ctx context.Context, id string) (wire.AdminResult, error) {
	var out wire.AdminResult
	return out, c.do(ctx, http.MethodDelete, "/admin/v1/rooms/"+url.PathEscape(id), nil, &out)
}

// Kick removes one peer (by id or identity).
func (c *Client) Kick(ctx context.Context, room, peer string) (wire.AdminResult, error) {
	var out wire.AdminResult
	return out, c.do(ctx, http.MethodPost, "/admin/v1/rooms/"+url.PathEscape(room)+"/peers/"+url.PathEscape(peer)+"/kick", nil, &out)
}

// Mute mutes or unmutes one peer's microphone.
func (c *Client) Mute(ctx context.Context, room, peer string, muted bool) (wire.AdminResult, error) {
	var out wire.AdminResult
	return out, c.do(ctx, http.MethodPost, "/admin/v1/rooms/"+url.PathEscape(room)+"/peers/"+url.PathEscape(peer)+"/mute", wire.AdminMute{Muted: &muted}, &out)
}

// Pipes lists every pipe of every room.
func (c *Client) Pipes(ctx context.Context) ([]wire.AdminPipe, error) {
	var out []wire.AdminPipe
	return out, c.do(ctx, http.MethodGet, "/admin/v1/pipes", nil, &out)
}

// Servers lists the cluster's servers; c must point at `voicectl api` with
// the API key.
func (c *Client) Servers(ctx context.Context) ([]wire.ClusterServer, error) {
	var out []wire.ClusterServer
	return out, c.do(ctx, http.MethodGet, "/v1/servers", nil, &out)
}

// ClusterRooms lists the cluster's rooms with their servers; c must point at
// `voicectl api` with the API key.
func (c *Client) ClusterRooms(ctx context.Context) ([]wire.ClusterRoom, error) {
	var out []wire.ClusterRoom
	return out, c.do(ctx, http.MethodGet, "/v1/rooms", nil, &out)
}

// ClusterRoomPeers is a room with its peers and their connection quality,
// from the room's server through the API; c must point at `voicectl api`.
func (c *Client) ClusterRoomPeers(ctx context.Context, room string) (wire.AdminRoomDetail, error) {
	var out wire.AdminRoomDetail
	return out, c.do(ctx, http.MethodGet, "/v1/rooms/"+url.PathEscape(room)+"/peers", nil, &out)
}

// DrainServer tells a server to drain (deadline 0: its drain.deadline); c
// must point at `voicectl api` with the API key.
func (c *Client) DrainServer(ctx context.Context, id string, deadline time.Duration) (wire.ClusterDrain, error) {
	var out wire.ClusterDrain
	body := map[string]string{}
	if deadline > 0 {
		body["deadline"] = deadline.String()
	}
	return out, c.do(ctx, http.MethodPost, "/v1/servers/"+url.PathEscape(id)+"/drain", body, &out)
}

// DrainSelf drains the server c points at through its admin API (deadline
// 0: its drain.deadline).
func (c *Client) DrainSelf(ctx context.Context, deadline time.Duration) (wire.ClusterDrain, error) {
	var out wire.ClusterDrain
	body := map[string]string{}
	if deadline > 0 {
		body["deadline"] = deadline.String()
	}
	return out, c.do(ctx, http.MethodPost, "/admin/v1/drain", body, &out)
}

// MoveRoom moves a room to server to (empty: the API picks one); c must
// point at `voicectl api` with the API key.
func (c *Client) MoveRoom(ctx context.Context, room, to string) (wire.ClusterRoom, error) {
	var out wire.ClusterRoom
	body := map[string]string{}
	if to != "" {
		body["to"] = to
	}
	return out, c.do(ctx, http.MethodPost, "/v1/rooms/"+url.PathEscape(room)+"/move", body, &out)
}
