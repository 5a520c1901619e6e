package amqp

import (
	"strings"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/voicectl/voicectl/server/bus"
)

// Queues are durable quorum queues: they survive a broker restart with
// their messages (persistent ones), they are the replicated kind when the
// broker is a cluster, and their delivery limit drops a message that keeps
// being handed back (a poison message that kills its consumer) instead of
// looping on it forever. A dropped one is still answered: the requester's
// deadline runs out and it says so.
var quorum = amqp091.Table{"x-queue-type": "quorum", "x-delivery-limit": int32(10)}

// replyTo is RabbitMQ's direct reply-to pseudo-queue: replies go straight
// to the requesting channel, with nothing to declare or clean up.
const replyTo = "amq.rabbitmq.reply-to"

// declareExchanges declares the exchanges everything uses.
func declareExchanges(ch *amqp091.Channel) error {
	if err := ch.ExchangeDeclare(bus.DirectExchange, amqp091.ExchangeDirect, true, false, false, false, nil); err != nil {
		return err
	}
	return ch.ExchangeDeclare(bus.EventsExchange, amqp091.ExchangeTopic, true, false, false, false, nil)
}

// declareQueue declares a served queue; a server's own queue is bound to the
// direct exchange by the server's id.
func declareQueue(ch *amqp091.Channel, name string) error {
	if _, err := ch.QueueDeclare(name, true, false, false, false, quorum); err != nil {
		return err
	}
	if id, ok := strings.CutPrefix(name, "voice.server."); ok {
		return ch.QueueBind(name, id, bus.DirectExchange, false, nil)
	}
	return nil
}
