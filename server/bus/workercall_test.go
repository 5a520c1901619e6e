package bus

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/ipc"
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
	for body, code := range map[string]string{
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
