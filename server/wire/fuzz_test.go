package wire

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzParseClient: any bytes a client sends are parsed or refused, never a
// panic; what parses marshals back and parses again to the same message.
func FuzzParseClient(f *testing.F) {
	for _, s := range []string{
		`{"type":"join","id":"1"}`, `{"type":"join","publish":false}`, `{"type":"answer","sdp":"v=0"}`,
		`{"type":"candidate","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 5 typ host","sdpMid":"0","sdpMLineIndex":0}}`,
		`{"type":"mute","muted":true}`, `{"type":"mute"}`, `{"type":"leave"}`, `{"type":"ping","id":"p"}`,
		`{"type":"teleport"}`, `{"type":`, `[]`, `null`, `{"type":"mute","muted":null}`, "{\"type\":\"ping\",\"id\":\"\xff\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := ParseClient(data)
		if err != nil {
			return
		}
		b, err := json.Marshal(msg)
		if err != nil {
			t.Fatalf("a parsed %T does not marshal: %v", msg, err)
		}
		again, err := ParseClient(b)
		if err != nil {
			t.Fatalf("%s parsed, its re-marshalled %s does not: %v", data, b, err)
		}
		if reflect.TypeOf(again) != reflect.TypeOf(msg) {
			t.Fatalf("%s: %T became %T", data, msg, again)
		}
	})
}

// FuzzParseServer: a client's decoder never panics on what a server (or
// anything posing as one) sends.
func FuzzParseServer(f *testing.F) {
	for _, s := range []string{
		`{"type":"joined","peer_id":"PA_1","room":"r","peers":[]}`, `{"type":"offer","sdp":"v=0"}`,
		`{"type":"error","code":"bad_sdp","message":"x","fatal":true}`, `{"type":"move","url":"http://x","token":"t"}`,
		`{"type":"reconnect","reason":"moved","delay_ms":5}`, `{"type":"zzz"}`, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = ParseServer(data)
	})
}
