package loadgen

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Ratio is a probability written as a percentage ("5%") or a fraction
// ("0.05"), in flags and scenario files alike.
type Ratio float64

// ParseRatio reads "5%", "0.5%" or "0.05".
func ParseRatio(s string) (Ratio, error) {
	s = strings.TrimSpace(s)
	pct, isPct := strings.CutSuffix(s, "%")
	v, err := strconv.ParseFloat(strings.TrimSpace(pct), 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a ratio (5%% or 0.05)", s)
	}
	if isPct {
		v /= 100
	}
	if v < 0 || v >= 1 {
		return 0, fmt.Errorf("%q is not between 0 and 100%%", s)
	}
	return Ratio(v), nil
}

func (r Ratio) String() string { return strconv.FormatFloat(100*float64(r), 'g', -1, 64) + "%" }

// Set and Type make a *Ratio a pflag.Value.
func (r *Ratio) Set(s string) error {
	v, err := ParseRatio(s)
	if err != nil {
		return err
	}
	*r = v
	return nil
}

func (r *Ratio) Type() string { return "ratio" }

// UnmarshalYAML takes 5%, "5%" or 0.05.
func (r *Ratio) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a ratio (5%% or 0.05) is a scalar", n.Line)
	}
	return r.Set(n.Value)
}
