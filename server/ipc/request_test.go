package ipc

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDecodeRequestTypesTheParams(t *testing.T) {
	req, err := DecodeRequest(MethodPipeConsume, json.RawMessage(`{"pipe_id":"P","producer_id":"PR","ssrc":7}`))
	require.NoError(t, err)
	require.Equal(t, MethodPipeConsume, req.Method())
	require.Equal(t, PipeFlow{PipeID: "P", ProducerID: "PR", SSRC: 7}, req.Params())

	req, err = DecodeRequest(MethodLoad, nil)
	require.NoError(t, err)
	require.Equal(t, Empty{}, req.Params(), "no params is the zero request")

	var re *RemoteError
	_, err = DecodeRequest("router.explode", json.RawMessage(`{}`))
	require.ErrorAs(t, err, &re)
	require.Equal(t, CodeUnknownMethod, re.Code)
	_, err = DecodeRequest(MethodRouterClose, json.RawMessage(`{"router_id": 5}`))
	require.ErrorAs(t, err, &re)
	require.Equal(t, CodeBadRequest, re.Code)
	require.Contains(t, re.Message, MethodRouterClose)
}

func TestRequestOfChecksTheParamsType(t *testing.T) {
	req, err := RequestOf(MethodTransportClose, TransportRef{TransportID: "T"})
	require.NoError(t, err)
	require.Equal(t, NewRequest(CallTransportClose, TransportRef{TransportID: "T"}), req)
	_, err = RequestOf(MethodTransportClose, RouterRef{RouterID: "R"})
	require.ErrorContains(t, err, "not the method's request type")
	_, err = RequestOf("no.such", Empty{})
	require.Error(t, err)
}

func TestRequestSendCallsItsMethod(t *testing.T) {
	var got string
	var gotParams any
	c := CallerFunc(func(_ context.Context, method string, params, out any) error {
		got, gotParams = method, params
		*out.(*PipeCreated) = PipeCreated{LocalAddr: "127.0.0.1:9"}
		return nil
	})
	var out PipeCreated
	req := NewRequest(CallPipeCreate, PipeCreate{PipeID: "P"})
	require.NoError(t, req.Send(context.Background(), c, &out))
	require.Equal(t, MethodPipeCreate, got)
	require.Equal(t, PipeCreate{PipeID: "P"}, gotParams)
	require.Equal(t, "127.0.0.1:9", out.LocalAddr)
}
