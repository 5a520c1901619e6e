package bus

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/wire"
)

func TestWorkerCallCrossesTyped(t *testing.T) {
	in := WorkerCall{Worker: 2, Request: ipc.NewRequest(ipc.CallConsumerCreate, ipc.ConsumerRef{TransportID: "T", ProducerID: "P"})}
	raw, err := json.Marshal(in)
	require.NoError(t, err)
	require.JSONEq(t, `{"worker":2,"method":"consumer.create","params":{"transport_id":"T","producer_id":"P"}}`, string(raw))
	var out WorkerCall
	require.NoError(t, json.Unmarshal(raw, &out))
	require.Equal(t, in, out)
}

func TestMuxRefusesAWorkerCallThatDoesNotDecode(t *testing.T) {
	mux := NewMux("b")
	served := false
	Handle(mux, CallWorker, func(_ context.Context, _ Envelope, _ WorkerCall) (json.RawMessage, error) {
		served = true
		return nil, nil
	})
	for body, code := range map[string]wire.Code{
		// A method the relay does not know (an owner newer than it) is
		// refused unknown_method, as the relay answered before requests
		// were typed; params that do not decode are a bad request.
		`{"worker":0,"method":"router.explode","params":{}}`:            ipc.CodeUnknownMethod,
		`{"worker":0,"method":"router.close","params":{"router_id":5}}`: CodeBadRequest,
		`{"worker":0,"method":"","params":null}`:                        CodeBadRequest,
	} {
		_, err := mux.Serve(context.Background(), Envelope{Type: CallWorker.Type, Body: json.RawMessage(body)})
		require.Equal(t, code, AsError(err).Code, body)
	}
	require.False(t, served)
}

// legacyWorkerCall is the worker call as servers before typed requests
// (cluster.WorkerCall) sent and read it; a rolling restart mixes the two.
type legacyWorkerCall struct {
	Worker int             `json:"worker"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params,omitempty"`
}

func TestWorkerCallIsByteCompatibleWithTheUntypedOne(t *testing.T) {
	level := uint16(0)
	for _, req := range []ipc.Request{
		ipc.NewRequest(ipc.CallRouterClose, ipc.RouterRef{RouterID: "R"}),
		ipc.NewRequest(ipc.CallTransportCreate, ipc.TransportCreate{RouterID: "R", TransportID: "T", ProducerID: "P"}),
		ipc.NewRequest(ipc.CallTransportAnswer, ipc.SDP{TransportID: "T", SDP: "v=0\r\na=x:<&>\r\n"}),
		ipc.NewRequest(ipc.CallTransportCand, ipc.Candidate{TransportID: "T", Candidate: wire.ICECandidate{Candidate: "candidate:1 1 udp 1 127.0.0.1 9 typ host", SDPMLineIndex: &level}}),
		ipc.NewRequest(ipc.CallTransportClose, ipc.TransportRef{TransportID: "T"}),
		ipc.NewRequest(ipc.CallConsumerCreate, ipc.ConsumerRef{TransportID: "T", ProducerID: "P", StreamID: "S"}),
		ipc.NewRequest(ipc.CallConsumerClose, ipc.ConsumerRef{TransportID: "T", ProducerID: "P"}),
		ipc.NewRequest(ipc.CallProducerPause, ipc.ProducerPause{ProducerID: "P", Paused: true}),
		ipc.NewRequest(ipc.CallPipeCreate, ipc.PipeCreate{PipeID: "PP", RouterID: "R", ListenIP: "127.0.0.1"}),
		ipc.NewRequest(ipc.CallPipeConnect, ipc.PipeConnect{PipeID: "PP", RemoteAddr: "127.0.0.1:9", SRTP: &ipc.PipeSRTP{SendKey: "a", RecvKey: "b"}}),
		ipc.NewRequest(ipc.CallPipeConsume, ipc.PipeFlow{PipeID: "PP", ProducerID: "P", SSRC: 7, LevelExtID: 1, Paused: true}),
		ipc.NewRequest(ipc.CallPipeClose, ipc.PipeRef{PipeID: "PP"}),
	} {
		params, err := json.Marshal(req.Params())
		require.NoError(t, err)
		legacy, err := json.Marshal(legacyWorkerCall{Worker: 1, Method: req.Method(), Params: params})
		require.NoError(t, err)

		typed, err := json.Marshal(WorkerCall{Worker: 1, Request: req})
		require.NoError(t, err)
		require.Equal(t, string(legacy), string(typed), "an old relay reads what a new owner sends")

		var got WorkerCall
		require.NoError(t, json.Unmarshal(legacy, &got), "a new relay reads what an old owner sends")
		require.Equal(t, WorkerCall{Worker: 1, Request: req}, got)
	}
}
