package worker

import (
	"testing"

	"go.uber.org/goleak"
)

// Routers, pipes and transports own goroutines; closing them must end them all.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
