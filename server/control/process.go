package control

import (
	"net/http"
	"os"
	"runtime"

	"github.com/voicectl/voicectl/internal/procstat"
	"github.com/voicectl/voicectl/server/wire"
)

// processStats are the control process's own figures; the workers' come
// with each worker's listing.
func processStats() wire.AdminProcess {
	pid := os.Getpid()
	p := wire.AdminProcess{PID: pid, Goroutines: runtime.NumGoroutine()}
	p.RSSBytes, _ = procstat.RSSBytes(pid)
	p.OpenFiles, _ = procstat.OpenFiles(pid)
	p.HeapAllocs, p.HeapBytes = procstat.Heap()
	return p
}

func (c *Control) adminProcess(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, processStats())
}
