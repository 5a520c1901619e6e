package config

import (
	"fmt"
	"net/url"
	"time"
)

// Webhooks configures the events POSTed to the app's backend (docs/webhooks.md).
// Single-node, `serve` delivers them from an on-disk queue in data_dir; in a
// cluster the servers publish them on the bus and `voicectl api` delivers
// them from a durable RabbitMQ queue. Both need URLs set to send anything.
type Webhooks struct {
	// URLs receive every event; empty turns webhooks off.
	URLs []string `mapstructure:"urls"`
	// Key signs every request (HMAC-SHA256, header Voicectl-Signature).
	Key string `mapstructure:"key"`
	// Timeout bounds one POST; a receiver slower than this is retried.
	Timeout time.Duration `mapstructure:"timeout"`
	// RetryMin and RetryMax bound the backoff between tries of one event
	// (doubling, with jitter).
	RetryMin time.Duration `mapstructure:"retry_min"`
	RetryMax time.Duration `mapstructure:"retry_max"`
	// MaxAge is how long an event is retried: past it, it is logged in full
	// (level error) and counted as failed, and the next one of its room goes.
	MaxAge time.Duration `mapstructure:"max_age"`
	// QueueMax bounds the events kept on disk (single-node, and a cluster
	// server's outbox towards the bus); past it new events are logged in
	// full and counted, not queued.
	QueueMax int `mapstructure:"queue_max"`
	// InFlight is how many events the API holds unacknowledged from the
	// bus at once: rooms are delivered in parallel up to it.
	InFlight int `mapstructure:"in_flight"`
}

// Enabled reports whether any URL is set.
func (w Webhooks) Enabled() bool { return len(w.URLs) > 0 }

func webhookDefaults() map[string]any {
	return map[string]any{
		"webhooks.urls":      []string{},
		"webhooks.key":       "",
		"webhooks.timeout":   "10s",
		"webhooks.retry_min": "1s",
		"webhooks.retry_max": "1m",
		"webhooks.max_age":   "24h",
		"webhooks.queue_max": 100000,
		"webhooks.in_flight": 256,
	}
}

func (c *Config) validateWebhooks() error {
	w := c.Webhooks
	for _, raw := range w.URLs {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return &KeyError{Key: "webhooks.urls", Err: fmt.Errorf("%q is not an http:// or https:// URL", raw)}
		}
	}
	if !w.Enabled() {
		return nil // the rest matters only to a sender
	}
	switch {
	case len(w.Key) < MinSecretLen:
		return &KeyError{Key: "webhooks.key", Err: fmt.Errorf("must be set (at least %d characters) when webhooks.urls is: every request is signed with it", MinSecretLen)}
	case w.Timeout <= 0:
		return &KeyError{Key: "webhooks.timeout", Err: fmt.Errorf("must be positive")}
	case w.RetryMin <= 0 || w.RetryMax < w.RetryMin:
		return &KeyError{Key: "webhooks.retry_max", Err: fmt.Errorf("webhooks.retry_min must be positive and at most webhooks.retry_max (%s, %s)", w.RetryMin, w.RetryMax)}
	case w.MaxAge < w.RetryMax:
		return &KeyError{Key: "webhooks.max_age", Err: fmt.Errorf("must be at least webhooks.retry_max, got %s", w.MaxAge)}
	case w.QueueMax < 1:
		return &KeyError{Key: "webhooks.queue_max", Err: fmt.Errorf("must be >= 1, got %d", w.QueueMax)}
	case w.InFlight < 1 || w.InFlight > 65535:
		return &KeyError{Key: "webhooks.in_flight", Err: fmt.Errorf("must be between 1 and 65535, got %d", w.InFlight)}
	}
	return nil
}
