package benchenv

import (
	"fmt"
	"runtime"
)

// Env is where a run was measured: Go, the machine and the database. A
// harness's report embeds it, so that every report starts with the same
// fields, in JSON too.
type Env struct {
	GoVersion    string `json:"go_version"`
	GOOS         string `json:"goos"`
	GOARCH       string `json:"goarch"`
	GOMAXPROCS   int    `json:"gomaxprocs"`
	NumCPU       int    `json:"num_cpu"`
	CPU          string `json:"cpu"`
	Driver       string `json:"driver"`
	DriverModule string `json:"driver_module"`
	// DBVersion and DBSettings are what Describe returns; NewEnv leaves
	// them to the harness, which knows which connection to read them on.
	DBVersion  string `json:"db_version"`
	DBSettings string `json:"db_settings"`
}

// NewEnv describes this process and machine for a run on driver ("sqlite"
// or "postgres"), all but the database's version and settings.
func NewEnv(driver string) Env {
	return Env{
		GoVersion: runtime.Version(), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH,
		GOMAXPROCS: runtime.GOMAXPROCS(0), NumCPU: runtime.NumCPU(), CPU: CPUModel(),
		Driver: driver, DriverModule: DriverModule(driver),
	}
}

// MachineLine is the one-line description of where the figures were
// measured, the same in every harness's report.
func (e Env) MachineLine() string {
	return fmt.Sprintf("%s %s/%s, GOMAXPROCS=%d, %d CPUs (%s); %s via %s; %s",
		e.GoVersion, e.GOOS, e.GOARCH, e.GOMAXPROCS, e.NumCPU, e.CPU, e.DBVersion, e.DriverModule, e.DBSettings)
}
