package loadgencmd

import "github.com/voicectl/voicectl/client"

// transportFlag is --transport: a client.Transport, checked as it is parsed
// so that a wrong name is a usage error naming the choices.
type transportFlag struct{ t *client.Transport }

func (f transportFlag) String() string {
	if f.t == nil {
		return ""
	}
	return string(*f.t)
}

func (f transportFlag) Set(s string) error {
	t, err := client.ParseTransport(s)
	if err != nil {
		return err
	}
	*f.t = t
	return nil
}

func (f transportFlag) Type() string { return "transport" }
