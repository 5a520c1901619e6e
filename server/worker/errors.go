package worker

import (
	"fmt"

	"github.com/voicectl/voicectl/server/ipc"
)

func notFound(what, id string) error {
	return &ipc.RemoteError{Code: ipc.CodeNotFound, Message: fmt.Sprintf("%s %q not found", what, id)}
}

func exists(what, id string) error {
	return &ipc.RemoteError{Code: ipc.CodeExists, Message: fmt.Sprintf("%s %q already exists", what, id)}
}
