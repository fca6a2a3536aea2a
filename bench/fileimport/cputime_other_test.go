//go:build !unix

package fileimport

import "time"

// cpuTime is not measured here.
func cpuTime() time.Duration { return 0 }
