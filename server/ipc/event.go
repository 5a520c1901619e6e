package ipc

import (
	"encoding/json"
	"fmt"
)

// Event is a decoded worker event. Key names what it is about (a transport, or
// a router for speaker updates): events with one key must be handled in the
// order the worker sent them.
type Event interface{ Key() string }

// The events a worker sends, one type each.
type (
	// OfferEvent is a transport's SDP offer for its peer.
	OfferEvent SDP
	// CandidateEvent is a transport's local ICE candidate.
	CandidateEvent Candidate
	// StateEvent is a transport's new connection state.
	StateEvent TransportState
	// PathEvent is a transport's selected candidate pair.
	PathEvent TransportPath
	// QualityEvent is a transport's connection quality.
	QualityEvent TransportQuality
	// ProducerNewEvent: a producer started on a router.
	ProducerNewEvent ProducerEvent
	// ProducerClosedEvent: a producer's track ended.
	ProducerClosedEvent ProducerEvent
	// SpeakersEvent is a router's active speakers.
	SpeakersEvent Speakers
)

// Key implements Event.
func (e OfferEvent) Key() string { return e.TransportID }

// Key implements Event.
func (e CandidateEvent) Key() string { return e.TransportID }

// Key implements Event.
func (e StateEvent) Key() string { return e.TransportID }

// Key implements Event.
func (e PathEvent) Key() string { return e.TransportID }

// Key implements Event.
func (e QualityEvent) Key() string { return e.TransportID }

// Key implements Event.
func (e ProducerNewEvent) Key() string { return e.TransportID }

// Key implements Event.
func (e ProducerClosedEvent) Key() string { return e.TransportID }

// Key implements Event.
func (e SpeakersEvent) Key() string { return e.RouterID }

// DecodeEvent turns a worker's event frame into its typed Event.
func DecodeEvent(method string, raw json.RawMessage) (Event, error) {
	var ev Event
	var err error
	switch method {
	case EventOffer:
		ev, err = decode[OfferEvent](raw)
	case EventCandidate:
		ev, err = decode[CandidateEvent](raw)
	case EventTransportState:
		ev, err = decode[StateEvent](raw)
	case EventTransportPath:
		ev, err = decode[PathEvent](raw)
	case EventQuality:
		ev, err = decode[QualityEvent](raw)
	case EventProducerNew:
		ev, err = decode[ProducerNewEvent](raw)
	case EventProducerClosed:
		ev, err = decode[ProducerClosedEvent](raw)
	case EventSpeakers:
		ev, err = decode[SpeakersEvent](raw)
	default:
		return nil, fmt.Errorf("unknown worker event %q", method)
	}
	if err != nil {
		return nil, fmt.Errorf("worker event %s: %w", method, err)
	}
	return ev, nil
}

func decode[T Event](raw json.RawMessage) (T, error) {
	var v T
	err := json.Unmarshal(raw, &v)
	return v, err
}
