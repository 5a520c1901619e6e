package cmdutil

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// ParseLevel turns a log.level value into a slog.Level.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(s))); err != nil {
		return 0, fmt.Errorf("log level %q: %w", s, err)
	}
	return l, nil
}

// NewLogger returns text logs for a terminal and JSON otherwise (format "auto").
func NewLogger(w io.Writer, isTerminal bool, level slog.Level, format string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "text" || (format == "auto" && isTerminal) {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
