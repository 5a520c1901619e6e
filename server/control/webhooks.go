package control

import (
	"log/slog"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/voicectl/voicectl/server/bus"
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/config"
	"github.com/voicectl/voicectl/server/webhook/delivery"
)

// webhookFlush is how long a stopping server waits for its last events
// (its rooms' participant_left and room_finished) to go; what is left stays
// in data_dir for the next start.
const webhookFlush = 3 * time.Second

// newWebhooks starts the server's webhook sender when webhooks.urls is set:
// events queue on disk in data_dir/webhooks and go to the receivers
// (single-node) or to the bus's durable webhooks queue, for the API to
// deliver (cluster). nil when webhooks are off.
func newWebhooks(cfg config.Config, log *slog.Logger, reg prometheus.Registerer, b bus.Bus, id cluster.ServerID) (*delivery.Sender, error) {
	w := cfg.Webhooks
	if !w.Enabled() {
		return nil, nil
	}
	var sink delivery.Sink = delivery.NewHTTPSink(delivery.HTTPParams{URLs: w.URLs, Key: []byte(w.Key), Timeout: w.Timeout})
	if b != nil {
		sink = &delivery.BusSink{Bus: b, From: id, Timeout: w.Timeout}
	}
	return delivery.StartSender(delivery.SenderParams{Logger: log.With("component", "webhooks"), Dir: filepath.Join(cfg.DataDir, "webhooks"),
		QueueMax: w.QueueMax, Sink: sink, Metrics: delivery.NewMetrics(reg), RetryMin: w.RetryMin, RetryMax: w.RetryMax, MaxAge: w.MaxAge})
}

// stopWebhooks waits up to flush for the events still queued, then stops
// the sender; what did not go stays on disk.
func (c *Control) stopWebhooks(flush time.Duration) {
	if c.webhooks == nil {
		return
	}
	if flush > 0 {
		c.webhooks.Flush(flush)
	}
	c.webhooks.Close()
}
