//go:build !unix

package ingest

// processAlive cannot tell on this system: leases wait for their expiry.
func processAlive(int) bool { return true }
