// Package procstat reads a Linux process's CPU time, resident memory and open
// files from /proc (proc(5)): what the admin API reports of the workers and
// what the soak samples.
package procstat

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat (100 on Linux).
const clockTicks = 100

// ErrFormat is returned for a /proc file this package cannot read.
var ErrFormat = errors.New("procstat: unexpected /proc format")

// CPUSeconds is the process's user+system CPU time (/proc/<pid>/stat).
func CPUSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(b))
}

func parseStatCPU(s string) (float64, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 > len(s) {
		return 0, ErrFormat
	}
	// After "pid (comm) ": state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime
	f := strings.Fields(s[i+2:])
	if len(f) < 13 {
		return 0, ErrFormat
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, ErrFormat
	}
	return float64(utime+stime) / clockTicks, nil
}

// RSSBytes is the process's resident set size (VmRSS in /proc/<pid>/status).
func RSSBytes(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return parseVmRSS(b)
}

func parseVmRSS(b []byte) (uint64, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, ErrFormat
		}
		kb, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, ErrFormat
		}
		return kb * 1024, nil
	}
	return 0, ErrFormat
}

// OpenFiles counts the process's file descriptors (/proc/<pid>/fd).
func OpenFiles(pid int) (int, error) {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, err
	}
	return len(ents), nil
}
