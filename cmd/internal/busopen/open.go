// Package busopen chooses the bus implementation from a URL, in one place:
// amqp:// and amqps:// reach RabbitMQ, local:// is the in-process bus (one
// process holding the API and servers, for experiments and tests).
package busopen

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/voicectl/voicectl/server/bus"
	busamqp "github.com/voicectl/voicectl/server/bus/amqp"
)

// Open connects to the bus at url, retrying until ctx ends.
func Open(ctx context.Context, url, name string, log *slog.Logger, reg prometheus.Registerer) (bus.Bus, error) {
	switch {
	case strings.HasPrefix(url, "amqp://"), strings.HasPrefix(url, "amqps://"):
		return busamqp.Dial(ctx, busamqp.Params{URL: url, Name: name, Logger: log, Registerer: reg})
	case url == "local://":
		return bus.NewLocal(), nil
	}
	return nil, fmt.Errorf("bus.url %q: want amqp://user:password@host:port/vhost", busamqp.Redact(url))
}
