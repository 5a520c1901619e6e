package control

import (
	"net/http"
	"os"
	"runtime"
	rtmetrics "runtime/metrics"

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
	s := []rtmetrics.Sample{{Name: "/gc/heap/allocs:objects"}, {Name: "/memory/classes/heap/objects:bytes"}}
	rtmetrics.Read(s)
	if s[0].Value.Kind() == rtmetrics.KindUint64 {
		p.HeapAllocs = s[0].Value.Uint64()
	}
	if s[1].Value.Kind() == rtmetrics.KindUint64 {
		p.HeapBytes = s[1].Value.Uint64()
	}
	return p
}

func (c *Control) adminProcess(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, processStats())
}
