package procstat

import "runtime/metrics"

// Heap is this process's heap: objects allocated since it started
// (/gc/heap/allocs:objects) and bytes of live and not yet swept objects
// (/memory/classes/heap/objects:bytes).
func Heap() (allocs, bytes uint64) {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:objects"}, {Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindUint64 {
		allocs = s[0].Value.Uint64()
	}
	if s[1].Value.Kind() == metrics.KindUint64 {
		bytes = s[1].Value.Uint64()
	}
	return allocs, bytes
}
