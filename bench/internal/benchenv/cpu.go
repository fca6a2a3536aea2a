package benchenv

import (
	"os"
	"strconv"
	"strings"
)

// CPUTime is the CPU time used so far, in seconds; the difference of two
// readings (Sub) is what a phase used. On a shared machine, Machine minus
// Process is what the other processes (the database server among them)
// used, and Steal what the hypervisor gave to other virtual machines.
type CPUTime struct {
	// Process is the user and system time of this process.
	Process float64
	// Machine is the user, nice, system, irq and softirq time of every
	// process of the machine, from the first line of /proc/stat.
	Machine float64
	// Steal is the time the hypervisor gave this machine's CPUs to others,
	// from the same line.
	Steal float64
}

// ReadCPUTime reads the process's CPU time, then the machine's; what
// cannot be read (no getrusage, no /proc/stat) is 0.
func ReadCPUTime() CPUTime {
	t := CPUTime{Process: processCPU()}
	t.Machine, t.Steal = machineCPU()
	return t
}

// Sub returns t minus u: the CPU time used between reading u and reading t.
func (t CPUTime) Sub(u CPUTime) CPUTime {
	return CPUTime{Process: t.Process - u.Process, Machine: t.Machine - u.Machine, Steal: t.Steal - u.Steal}
}

// clockTicks is USER_HZ, the unit of /proc/stat: 100 on every Linux
// architecture Go supports.
const clockTicks = 100

// machineCPU returns the busy time (user, nice, system, irq, softirq) and
// the steal time, in seconds, of the first line of /proc/stat; zeros where
// there is none.
func machineCPU() (busy, steal float64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, 0
	}
	ticks := func(i int) float64 {
		if i >= len(f) {
			return 0
		}
		v, _ := strconv.ParseFloat(f[i], 64)
		return v / clockTicks
	}
	return ticks(1) + ticks(2) + ticks(3) + ticks(6) + ticks(7), ticks(8)
}
