package worker

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// gcPercent is the worker's GOGC unless the environment sets one.
const gcPercent = 300

// Main runs a worker on the process's stdin and stdout, logging JSON to stderr; it
// returns the exit code. Control stops a worker by closing its stdin.
func Main(level slog.Level) int {
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("proc", "worker")
	// Ctrl-C in a terminal reaches the whole process group; the control process
	// decides when workers stop.
	signal.Ignore(syscall.SIGINT)
	if os.Getenv("GOGC") == "" {
		// The forwarding path allocates nothing, but hundreds of peer connections
		// (ICE checks, RTCP, timers) do; a collection every 4x heap growth rather
		// than 2x halves the collector's share of the worker's one core and the
		// pauses it puts into fan-outs, for a heap of tens of megabytes.
		debug.SetGCPercent(gcPercent)
	}
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer cancel()
	if err := Run(ctx, Params{Logger: log, In: os.Stdin, Out: os.Stdout}); err != nil {
		log.Error("worker failed", "err", err)
		return 1
	}
	return 0
}
