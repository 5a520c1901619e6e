package cluster

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// idFile is where a server keeps its id, in its data dir.
const idFile = "server-id"

var validID = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// LoadOrCreateServerID returns the id kept in dataDir, making one (a random
// RFC 9562 version 4 UUID) on first start, so a restarted server gets its own
// queue, and the messages waiting in it, back.
func LoadOrCreateServerID(dataDir string) (ServerID, error) {
	path := filepath.Join(dataDir, idFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		id := strings.TrimSpace(string(b))
		if !validID.MatchString(id) {
			return "", fmt.Errorf("%s: %q is not a server id (delete the file to make a new one)", path, id)
		}
		return ServerID(id), nil
	case !errors.Is(err, os.ErrNotExist):
		return "", err
	}
	id := newUUID()
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return "", err
	}
	// Written whole or not at all: a full disk leaves no half id behind.
	tmp := path + ".tmp"
	if err := writeSynced(tmp, []byte(id+"\n")); err != nil {
		_ = os.Remove(tmp)
		return "", err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return "", err
	}
	return ServerID(id), nil
}

func writeSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 9562 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
