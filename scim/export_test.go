package scim

import "time"

// SetLibraryLists makes s answer list requests through the library, as it
// does when a request projects attributes.
func SetLibraryLists(s *Server, on bool) { s.libraryLists.Store(on) }

// SetPageClock sets the clock by which s's walk cursors expire.
func SetPageClock(s *Server, now func() time.Time) { s.pages.now = now }
