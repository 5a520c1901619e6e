// Package cmdutil holds what every command shares: the Factory with its I/O streams
// and the error types that become exit codes.
package cmdutil

import (
	"io"
	"net/http"
	"os"
	"time"

	"github.com/mattn/go-isatty"
)

// IOStreams are a command's standard streams.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	// IsTerminal reports whether Out is a terminal (tables, colours, progress).
	IsTerminal bool
	// ErrIsTerminal reports whether ErrOut is a terminal (log format).
	ErrIsTerminal bool
}

// SystemIO returns the process's streams.
func SystemIO() *IOStreams {
	return &IOStreams{
		In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr,
		IsTerminal:    isatty.IsTerminal(os.Stdout.Fd()),
		ErrIsTerminal: isatty.IsTerminal(os.Stderr.Fd()),
	}
}

// Factory is passed to every command constructor.
type Factory struct {
	IO      *IOStreams
	Version string
	// Executable is the path used to start worker processes.
	Executable func() (string, error)
	// Environ is the environment the configuration reads.
	Environ func() []string
	// HTTPClient is used to talk to servers.
	HTTPClient func() *http.Client
	// Now is the clock for ages in listings.
	Now func() time.Time
}

// New returns the Factory for the real process.
func New(version string) *Factory {
	return &Factory{IO: SystemIO(), Version: version, Executable: os.Executable, Environ: os.Environ,
		HTTPClient: func() *http.Client { return &http.Client{Timeout: 15 * time.Second} }, Now: time.Now}
}
