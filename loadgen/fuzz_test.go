package loadgen

import (
	"testing"
)

// FuzzParseScenario: any scenario file is read or refused, never a panic;
// one that reads and validates is a scenario a run can take.
func FuzzParseScenario(f *testing.F) {
	for _, s := range []string{
		"rooms: 2\npublishers: 1\nlisteners: 10\njoin_rate: 20\nduration: 5s\n",
		"api: http://127.0.0.1:7870\napi_key: k\nrooms: 1\n", "rooms: -1\n", "nope: 1\n", "duration: forever\n", "", ":::",
		"rooms: 99999999999999999999\n", "max_gap: 5s\nmax_loss: 0.01\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		sc := DefaultScenario()
		if err := ParseScenario(b, &sc); err != nil {
			return
		}
		if sc.Validate() != nil {
			return
		}
		if sc.Rooms < 1 || sc.JoinRate <= 0 || sc.Duration <= 0 || sc.LatencySampleEvery < 1 {
			t.Fatalf("a valid scenario a run cannot take: %+v", sc)
		}
	})
}
