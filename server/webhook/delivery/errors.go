package delivery

import "errors"

var (
	// ErrQueueFull: the on-disk queue holds webhooks.queue_max events.
	ErrQueueFull = errors.New("webhook queue full (webhooks.queue_max)")
	// ErrRefused: a receiver answered other than 2xx.
	ErrRefused = errors.New("receiver refused the webhook")
	// ErrClosed: the sender was closed.
	ErrClosed = errors.New("webhook sender closed")
)
