// Package cluster holds the plain types that name things across servers: a
// server's id and the location of a worker, on this server or another. It
// imports nothing but the standard library, so every layer can share it.
package cluster

import "strconv"

// ServerID names a voice server. Single-node servers use Local until they
// have an identity of their own.
type ServerID string

// Local is the id of a server that has no cluster identity.
const Local ServerID = "local"

// WorkerRef is where a router lives: worker Index of server Server.
type WorkerRef struct {
	Server ServerID `json:"server"`
	Index  int      `json:"index"`
}

// LocalWorker names worker i of server s.
func LocalWorker(s ServerID, i int) WorkerRef { return WorkerRef{Server: s, Index: i} }

func (r WorkerRef) String() string { return string(r.Server) + "/" + strconv.Itoa(r.Index) }

// Less orders refs by server, then index, so choices among equals are stable.
func (r WorkerRef) Less(o WorkerRef) bool {
	if r.Server != o.Server {
		return r.Server < o.Server
	}
	return r.Index < o.Index
}
