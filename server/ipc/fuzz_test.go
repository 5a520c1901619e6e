package ipc

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"
)

// fuzzHandler answers every request and counts events.
type fuzzHandler struct{ events int }

func (h *fuzzHandler) HandleRequest(_ context.Context, method string, params json.RawMessage) (any, error) {
	return map[string]any{"method": method, "bytes": len(params)}, nil
}

func (h *fuzzHandler) HandleEvent(string, json.RawMessage) { h.events++ }

// FuzzConnReadsAnyStream: whatever bytes arrive on the channel (a worker gone
// mad, a truncated write), the reader serves what it can and ends when the
// stream does: no panic, no hang.
func FuzzConnReadsAnyStream(f *testing.F) {
	for _, s := range []string{
		`{"id":1,"method":"load","params":{}}` + "\n",
		`{"method":"event.offer","params":{"transport_id":"t","sdp":"v=0"}}` + "\n",
		`{"id":2,"reply":true,"result":{}}` + "\n" + `{"id":3,"cancel":true}` + "\n",
		`{"id":4,"method":"x","timeout_us":-5}` + "\n" + "not json\n" + `{"id":18446744073709551615}` + "\n",
		"\n\n\n", "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h := &fuzzHandler{}
		c := New(bytes.NewReader(data), io.Discard, h, slog.New(slog.DiscardHandler)).Start()
		select {
		case <-c.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("the reader did not end with its stream")
		}
	})
}
