//go:build !unix

package benchenv

// processCPU is not measured here.
func processCPU() float64 { return 0 }
