package turnserver

import (
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// pionLogger hands pion/turn's log lines to slog. Its errors are mostly a
// client's bad request (a refused credential, a closed connection), so they
// log at debug; what matters is counted in the metrics.
type pionLogger struct{ log *slog.Logger }

func (f pionLogger) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{log: f.log.With("scope", scope)}
}

func (l pionLogger) Trace(string)                 {}
func (l pionLogger) Tracef(string, ...any)        {}
func (l pionLogger) Debug(msg string)             { l.log.Debug(msg) }
func (l pionLogger) Debugf(f string, args ...any) { l.log.Debug(fmt.Sprintf(f, args...)) }
func (l pionLogger) Info(msg string)              { l.log.Debug(msg) }
func (l pionLogger) Infof(f string, args ...any)  { l.log.Debug(fmt.Sprintf(f, args...)) }
func (l pionLogger) Warn(msg string)              { l.log.Debug(msg) }
func (l pionLogger) Warnf(f string, args ...any)  { l.log.Debug(fmt.Sprintf(f, args...)) }
func (l pionLogger) Error(msg string)             { l.log.Debug(msg) }
func (l pionLogger) Errorf(f string, args ...any) { l.log.Debug(fmt.Sprintf(f, args...)) }
