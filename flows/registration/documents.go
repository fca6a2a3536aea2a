package registration

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
)

// Supporting documents: a member (with their registration link) or an
// administrator of their org attaches files proving the member's quality
// (seed 003, step 7). A file is a PDF, PNG or JPEG recognised by its
// content (http.DetectContentType; the name and the declared type are not
// trusted), at most 10 MB. Its bytes go to a DocumentStore under their
// SHA-256; its record is the event document.added of the account (no
// table of its own), which lists and downloads read.

// EventDocumentAdded: a supporting document was attached. Data: a
// Document.
const EventDocumentAdded = "document.added"

// MaxDocumentBytes bounds a document.
const MaxDocumentBytes = 10 << 20

// Errors of the documents.
var (
	// ErrDocumentType: the content is not a PDF, PNG or JPEG.
	ErrDocumentType = errors.New("a document must be a PDF, PNG or JPEG file")
	// ErrDocumentTooLarge: more than MaxDocumentBytes.
	ErrDocumentTooLarge = errors.New("a document must be at most 10 MB")
	// ErrDocumentsUnavailable: no DocumentStore is configured.
	ErrDocumentsUnavailable = errors.New("documents are not available")
)

// allowedTypes are the content types accepted, as DetectContentType names
// them.
var allowedTypes = map[string]bool{"application/pdf": true, "image/png": true, "image/jpeg": true}

// DocumentStore keeps the bytes of documents by key (the hex SHA-256 of
// their content). Implementations: DirDocuments; an object store in
// production.
type DocumentStore interface {
	Put(ctx context.Context, key string, content []byte) error
	Open(ctx context.Context, key string) (io.ReadCloser, error)
}

// DirDocuments keeps documents as files of a directory (0600), named by
// their key.
type DirDocuments struct {
	Dir string
}

var _ DocumentStore = DirDocuments{}

func validKey(key string) bool {
	if len(key) != 64 {
		return false
	}
	_, err := hex.DecodeString(key)
	return err == nil
}

// Put writes the document unless a file of that key exists (same key,
// same content).
func (d DirDocuments) Put(_ context.Context, key string, content []byte) error {
	if !validKey(key) {
		return fmt.Errorf("documents: invalid key %q", key)
	}
	path := filepath.Join(d.Dir, key)
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	tmp, err := os.CreateTemp(d.Dir, ".upload-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(content); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Open reads a document; store.ErrNotFound when there is none.
func (d DirDocuments) Open(_ context.Context, key string) (io.ReadCloser, error) {
	if !validKey(key) {
		return nil, fmt.Errorf("documents: invalid key %q: %w", key, store.ErrNotFound)
	}
	f, err := os.Open(filepath.Join(d.Dir, key))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("document %s: %w", key, store.ErrNotFound)
	}
	return f, err
}

// Document is the record of a supporting document.
type Document struct {
	ID          string    `json:"id"` // hex SHA-256 of the content
	Name        string    `json:"name"`
	ContentType string    `json:"content_type"`
	Size        int       `json:"size"`
	AddedBy     string    `json:"added_by"`
	AddedAt     time.Time `json:"added_at"`
}

// readDocument reads at most MaxDocumentBytes of r and checks the content.
func readDocument(r io.Reader) ([]byte, string, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxDocumentBytes+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, "", ErrDocumentTooLarge
		}
		return nil, "", err
	}
	if len(b) > MaxDocumentBytes {
		return nil, "", ErrDocumentTooLarge
	}
	ct, _, _ := strings.Cut(http.DetectContentType(b), ";")
	if len(b) == 0 || !allowedTypes[ct] {
		return nil, "", ErrDocumentType
	}
	return b, ct, nil
}

// cleanName keeps a file name for display: its base, valid UTF-8 without
// control characters, at most 100 characters; "document" when empty.
func cleanName(name string) string {
	name = strings.ToValidUTF8(filepath.Base(strings.ReplaceAll(name, `\`, "/")), "")
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '"' {
			return -1
		}
		return r
	}, name)
	if utf8.RuneCountInString(name) > 100 {
		name = string([]rune(name)[:100])
	}
	if name == "" || name == "." || name == "/" {
		return "document"
	}
	return name
}

// AddDocument attaches a document to a member of an org, by an
// administrator (by: "token:<name>"). ErrNotMember, ErrDocumentType,
// ErrDocumentTooLarge.
func (s *Service) AddDocument(ctx context.Context, orgID, accountID, name string, content io.Reader, by string) (Document, error) {
	return s.addDocument(ctx, content, name, func(tx store.Tx) (identity.Account, string, string, error) {
		if _, err := tx.Memberships().Get(ctx, orgID, accountID); errors.Is(err, store.ErrNotFound) {
			return identity.Account{}, "", "", ErrNotMember
		} else if err != nil {
			return identity.Account{}, "", "", err
		}
		a, err := tx.Accounts().Get(ctx, accountID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && !a.Status.Live()) {
			return a, "", "", ErrNotMember
		}
		return a, orgID, by, err
	})
}

// AddDocumentByLink attaches a document to the account of a valid
// registration link, by its owner. ErrInvalidLink, ErrDocumentType,
// ErrDocumentTooLarge.
func (s *Service) AddDocumentByLink(ctx context.Context, linkToken, name string, content io.Reader) (Document, error) {
	return s.addDocument(ctx, content, name, func(tx store.Tx) (identity.Account, string, string, error) {
		tok, a, err := s.find(ctx, tx, linkToken, s.now())
		return a, tok.Data[dataOrg], actor(a.ID), err
	})
}

func (s *Service) addDocument(ctx context.Context, content io.Reader, name string,
	owner func(tx store.Tx) (identity.Account, string, string, error)) (Document, error) {
	if s.docs == nil {
		return Document{}, ErrDocumentsUnavailable
	}
	// Check who before reading and storing anything.
	if err := s.st.View(ctx, func(tx store.Tx) error { _, _, _, err := owner(tx); return err }); err != nil {
		return Document{}, err
	}
	b, ct, err := readDocument(content)
	if err != nil {
		return Document{}, err
	}
	sum := sha256.Sum256(b)
	d := Document{ID: hex.EncodeToString(sum[:]), Name: cleanName(name), ContentType: ct, Size: len(b)}
	// The bytes first: a record never points to nothing; a file whose
	// record failed is an orphan that a retry reuses.
	if err := s.docs.Put(ctx, d.ID, b); err != nil {
		return Document{}, fmt.Errorf("registration: store document: %w", err)
	}
	err = s.st.Update(ctx, func(tx store.Tx) error {
		a, orgID, by, err := owner(tx)
		if err != nil {
			return err
		}
		d.AddedBy, d.AddedAt = by, s.now()
		return tx.Record(ctx, store.Event{Type: EventDocumentAdded, Actor: by, AccountID: a.ID, OrgID: orgID, At: d.AddedAt, Data: d})
	})
	return d, err
}

// Documents lists the documents of a member of an org, newest first.
// ErrNotMember.
func (s *Service) Documents(ctx context.Context, orgID, accountID string) ([]Document, error) {
	var out []Document
	err := s.st.View(ctx, func(tx store.Tx) error {
		if _, err := tx.Memberships().Get(ctx, orgID, accountID); errors.Is(err, store.ErrNotFound) {
			return ErrNotMember
		} else if err != nil {
			return err
		}
		var err error
		out, err = documentsOf(ctx, tx, accountID)
		return err
	})
	return out, err
}

func documentsOf(ctx context.Context, tx store.Tx, accountID string) ([]Document, error) {
	evs, err := tx.Audit().List(ctx, store.AuditQuery{AccountID: accountID, Type: EventDocumentAdded, Limit: 1000})
	if err != nil {
		return nil, err
	}
	out := []Document{}
	for _, ev := range evs {
		var d Document
		if json.Unmarshal(ev.Data, &d) == nil && validKey(d.ID) {
			out = append(out, d)
		}
	}
	return out, nil
}

// OpenDocument reads a document of a member of an org: its record and its
// bytes (to close). ErrNotMember, store.ErrNotFound.
func (s *Service) OpenDocument(ctx context.Context, orgID, accountID, id string) (Document, io.ReadCloser, error) {
	if s.docs == nil {
		return Document{}, nil, ErrDocumentsUnavailable
	}
	docs, err := s.Documents(ctx, orgID, accountID)
	if err != nil {
		return Document{}, nil, err
	}
	for _, d := range docs {
		if d.ID == id {
			r, err := s.docs.Open(ctx, id)
			return d, r, err
		}
	}
	return Document{}, nil, fmt.Errorf("document %s: %w", id, store.ErrNotFound)
}
