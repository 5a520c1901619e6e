package worker

import (
	"errors"
	"fmt"

	"github.com/voicectl/voicectl/server/ipc"
)

func notFound(what, id string) error {
	return &ipc.RemoteError{Code: ipc.CodeNotFound, Message: fmt.Sprintf("%s %q not found", what, id)}
}

func exists(what, id string) error {
	return &ipc.RemoteError{Code: ipc.CodeExists, Message: fmt.Sprintf("%s %q already exists", what, id)}
}

// ErrTCPListen: the worker could not open its ICE-TCP port (taken, or not
// allowed); it runs on UDP alone.
var ErrTCPListen = errors.New("ICE over TCP is off: cannot listen on rtc.tcp_port")

// errNotBound: a consumer's track has no binding (the listener has not
// answered the offer that announced it, or it was removed).
var errNotBound = errors.New("consumer track not bound")
