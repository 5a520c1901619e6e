package worker

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// Main runs a worker on the process's stdin and stdout, logging JSON to stderr; it
// returns the exit code. Control stops a worker by closing its stdin.
func Main(level slog.Level) int {
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("proc", "worker")
	// Ctrl-C in a terminal reaches the whole process group; the control process
	// decides when workers stop.
	signal.Ignore(syscall.SIGINT)
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer cancel()
	if err := Run(ctx, Params{Logger: log, In: os.Stdin, Out: os.Stdout}); err != nil {
		log.Error("worker failed", "err", err)
		return 1
	}
	return 0
}
