//go:build unix

package benchenv

import (
	"syscall"
	"time"
)

// processCPU is the user and system CPU time, in seconds, the process has
// used so far.
func processCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
