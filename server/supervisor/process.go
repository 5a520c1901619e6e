package supervisor

import (
	"os"
	"runtime"

	"github.com/voicectl/voicectl/internal/procstat"
	"github.com/voicectl/voicectl/server/wire"
)

// ProcessStats are the control process's own figures; the workers' come
// with each worker's listing.
func ProcessStats() wire.AdminProcess {
	pid := os.Getpid()
	p := wire.AdminProcess{PID: pid, Goroutines: runtime.NumGoroutine()}
	p.RSSBytes, _ = procstat.RSSBytes(pid)
	p.OpenFiles, _ = procstat.OpenFiles(pid)
	p.HeapAllocs, p.HeapBytes = procstat.Heap()
	return p
}
