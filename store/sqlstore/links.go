package sqlstore

import (
	"context"
	"fmt"
	"slices"

	"github.com/canonid/canonid/identity"
)

type links struct{ t *tx }

func checkLink(l *identity.Link) error {
	if l.Source == "" || l.ExternalID == "" || l.AccountID == "" {
		return fmt.Errorf("link %q/%q: source, external id and account are required", l.Source, l.ExternalID)
	}
	if l.Status == "" {
		l.Status = identity.LinkActive
	}
	if l.Status != identity.LinkActive && l.Status != identity.LinkGone {
		return fmt.Errorf("link %s/%s: unknown status %q", l.Source, l.ExternalID, l.Status)
	}
	return nil
}

func (r links) Create(ctx context.Context, l *identity.Link) error {
	if err := checkLink(l); err != nil {
		return err
	}
	attrs, err := jsonText(l.Attributes)
	if err != nil {
		return err
	}
	r.t.stamp(&l.CreatedAt)
	r.t.stamp(&l.UpdatedAt)
	l.Digest = identity.LinkDigest(l.Attributes)
	if _, err := r.t.exec(ctx, `INSERT INTO links (source, external_id, account_id, status, attributes, digest, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		l.Source, l.ExternalID, l.AccountID, l.Status, attrs, l.Digest, r.t.time(l.CreatedAt), r.t.time(l.UpdatedAt)); err != nil {
		return fmt.Errorf("create link %s/%s: %w", l.Source, l.ExternalID, err)
	}
	return nil
}

func (r links) Get(ctx context.Context, source, externalID string) (identity.Link, error) {
	l, err := scanLink(r.t.queryRow(ctx, "SELECT "+linkCols+" FROM links WHERE source = ? AND external_id = ?", source, externalID))
	return l, r.t.oneRow(err, "link "+source+"/"+externalID)
}

func (r links) ListByAccount(ctx context.Context, accountID string) ([]identity.Link, error) {
	return scanLinks(r.t.query(ctx, "SELECT "+linkCols+" FROM links WHERE account_id = ? ORDER BY source, external_id", accountID))
}

func (r links) Update(ctx context.Context, l *identity.Link) error {
	if err := checkLink(l); err != nil {
		return err
	}
	attrs, err := jsonText(l.Attributes)
	if err != nil {
		return err
	}
	l.UpdatedAt = r.t.now()
	l.Digest = identity.LinkDigest(l.Attributes)
	return r.t.execOne(ctx, "link "+l.Source+"/"+l.ExternalID,
		`UPDATE links SET account_id = ?, status = ?, attributes = ?, digest = ?, updated_at = ? WHERE source = ? AND external_id = ?`,
		l.AccountID, l.Status, attrs, l.Digest, r.t.time(l.UpdatedAt), l.Source, l.ExternalID)
}

func (r links) Delete(ctx context.Context, source, externalID string) error {
	return r.t.execOne(ctx, "link "+source+"/"+externalID, `DELETE FROM links WHERE source = ? AND external_id = ?`, source, externalID)
}

func (r links) GetMany(ctx context.Context, source string, externalIDs []string) (map[string]identity.Link, error) {
	out := make(map[string]identity.Link, len(externalIDs))
	for chunk := range slices.Chunk(externalIDs, batchSize) {
		args := make([]any, 0, len(chunk)+1)
		args = append(args, source)
		for _, id := range chunk {
			args = append(args, id)
		}
		got, err := scanLinkHeads(r.t.query(ctx, "SELECT "+linkHeadCols+" FROM links WHERE source = ? AND external_id IN ("+placeholders(len(chunk))+")", args...))
		if err != nil {
			return nil, err
		}
		for _, l := range got {
			out[l.ExternalID] = l
		}
	}
	return out, nil
}

func (r links) ListBySource(ctx context.Context, source, after string, limit int) ([]identity.Link, error) {
	if limit <= 0 {
		limit = 1000
	}
	return scanLinkHeads(r.t.query(ctx, "SELECT "+linkHeadCols+" FROM links WHERE source = ? AND external_id > ? ORDER BY external_id LIMIT ?", source, after, limit))
}

func (r links) ListByAccounts(ctx context.Context, accountIDs []string) (map[string][]identity.Link, error) {
	out := make(map[string][]identity.Link, len(accountIDs))
	for chunk := range slices.Chunk(accountIDs, batchSize) {
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		got, err := scanLinkHeads(r.t.query(ctx, "SELECT "+linkHeadCols+" FROM links WHERE account_id IN ("+placeholders(len(chunk))+
			") ORDER BY account_id, source, external_id", args...))
		if err != nil {
			return nil, err
		}
		for _, l := range got {
			out[l.AccountID] = append(out[l.AccountID], l)
		}
	}
	return out, nil
}
