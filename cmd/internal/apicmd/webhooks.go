package apicmd

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/voicectl/voicectl/api/service"
	"github.com/voicectl/voicectl/server/bus"
	"github.com/voicectl/voicectl/server/config"
	"github.com/voicectl/voicectl/server/webhook/delivery"
)

// webhookFlush is how long a stopping API waits for its own last events to
// reach the bus; the rest stays in data_dir for the next start.
const webhookFlush = 2 * time.Second

// startWebhooks, when webhooks.urls is set, delivers the cluster's webhook
// events: it consumes the durable webhooks queue (the servers' events and
// its own), POSTs each to the receivers in order per room, and acks it only
// once they all answered 2xx (or it was given up past webhooks.max_age). Its
// own events (room_moved, server_dead) queue on disk in
// data_dir/webhooks-api until the bus confirms them. It returns the
// service's Events (nil when off) and what stops it all.
func startWebhooks(cfg config.Config, log *slog.Logger, reg prometheus.Registerer, b bus.Bus) (service.Events, func(), error) {
	w := cfg.Webhooks
	if !w.Enabled() {
		return nil, func() {}, nil
	}
	log = log.With("component", "webhooks")
	m := delivery.NewMetrics(reg)
	own, err := delivery.StartSender(delivery.SenderParams{Logger: log, Dir: filepath.Join(cfg.DataDir, "webhooks-api"), QueueMax: w.QueueMax,
		Sink: &delivery.BusSink{Bus: b, From: service.ID, Timeout: w.Timeout}, Metrics: m,
		RetryMin: w.RetryMin, RetryMax: w.RetryMax, MaxAge: w.MaxAge})
	if err != nil {
		return nil, nil, fmt.Errorf("webhooks queue in data_dir: %w", err)
	}
	lanes := delivery.NewLanes(delivery.LanesParams{Logger: log, Metrics: m, RetryMin: w.RetryMin, RetryMax: w.RetryMax, MaxAge: w.MaxAge,
		Sink: delivery.NewHTTPSink(delivery.HTTPParams{URLs: w.URLs, Key: []byte(w.Key), Timeout: w.Timeout})})
	sub, err := delivery.Consume(b, lanes, w.InFlight, log, m)
	if err != nil {
		lanes.Close()
		own.Close()
		return nil, nil, err
	}
	log.Info("delivering webhooks", "urls", len(w.URLs), "queue", bus.WebhooksQueue)
	return own, func() {
		// The consumer first: what it holds unacked goes back to the queue
		// for the next API, in order, ahead of the rest.
		_ = sub.Cancel()
		lanes.Close()
		own.Flush(webhookFlush)
		own.Close()
	}, nil
}
