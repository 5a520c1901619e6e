package worker

import (
	"fmt"

	"github.com/pion/sdp/v3"
)

// checkAnswer refuses an answer that cannot complete offer before pion sees
// it: pion leaves the offer state on some of these, after which no answer,
// not even the right one, could be applied. An answer must parse (RFC 8866),
// have one media section per offered one (RFC 3264 §6), and give ICE
// credentials (RFC 8839 §5.4) and a DTLS fingerprint (RFC 8122 §5) for each,
// at media or session level.
func checkAnswer(offer, answer string) error {
	var a, o sdp.SessionDescription
	if err := a.UnmarshalString(answer); err != nil {
		return fmt.Errorf("answer does not parse: %w", err)
	}
	if err := o.UnmarshalString(offer); err != nil {
		return fmt.Errorf("offer does not parse: %w", err)
	}
	if len(a.MediaDescriptions) != len(o.MediaDescriptions) {
		return fmt.Errorf("answer has %d media sections; the offer has %d", len(a.MediaDescriptions), len(o.MediaDescriptions))
	}
	for i, md := range a.MediaDescriptions {
		for _, attr := range []string{"ice-ufrag", "ice-pwd", "fingerprint"} {
			if _, ok := md.Attribute(attr); ok {
				continue
			}
			if _, ok := a.Attribute(attr); ok {
				continue
			}
			return fmt.Errorf("media section %d has no %s", i, attr)
		}
	}
	return nil
}
