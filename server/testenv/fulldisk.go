package testenv

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// FullDisk mounts a small tmpfs (in the test's own mount namespace, which
// scripts/in-netns.sh gives it) and fills it until writes fail with ENOSPC:
// a data dir on a full disk.
func FullDisk(t testing.TB) string {
	t.Helper()
	RequireLoopbackOnly(t) // in the namespace, whose mounts are its own
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=64k"); err != nil {
		t.Fatalf("mount a tmpfs for a full disk (needs the test namespace): %v", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	f, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	block := make([]byte, 4096)
	for {
		if _, err := f.Write(block); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill the tmpfs: %v", err)
			}
			return dir
		}
	}
}
