package scim

// SetLibraryLists makes s answer list requests through the library, as it
// does when a request projects attributes.
func SetLibraryLists(s *Server, on bool) { s.libraryLists.Store(on) }
