package amqp

import (
	"errors"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// QueueReady asks the broker at url how many messages wait ready in queue
// (a passive declare answers with the count); found is false when there is
// no such queue. It opens a connection of its own, so it is for tools and
// tests that watch a queue from outside, not for the bus's own path.
func QueueReady(url, queue string) (ready int, found bool, err error) {
	conn, err := amqp091.Dial(url)
	if err != nil {
		return 0, false, err
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return 0, false, err
	}
	q, err := ch.QueueDeclarePassive(queue, false, false, false, false, nil)
	var ae *amqp091.Error
	if errors.As(err, &ae) && ae.Code == amqp091.NotFound {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	return q.Messages, true, nil
}
