package registration

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"time"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
)

// Phone verification: while the registration link is valid, the person
// asks for a one-time code sent by SMS to the phone they registered, and
// types it back. The code has 6 digits, is stored hashed (with the account
// id), works 10 minutes, once, and 5 wrong attempts void it. Sending is
// bounded per account (3 an hour). The phone counts as verified while the
// account's phone is the one of its latest phone.verified event.

// Events of the phone verification.
const (
	// EventPhoneCodeSent: a code was sent. Data: token_id, phone,
	// expires_at, voided.
	EventPhoneCodeSent = "phone.code_sent"
	// EventPhoneCodeFailed: a wrong code was typed. Data: token_id,
	// attempt, voided (the 5th).
	EventPhoneCodeFailed = "phone.code_failed"
	// EventPhoneVerified: the right code was typed. Data: token_id,
	// phone.
	EventPhoneVerified = "phone.verified"
)

// Phone verification bounds.
const (
	PhoneCodeTTL      = 10 * time.Minute
	PhoneCodeAttempts = 5
	// PhoneCodesPerHour bounds the codes sent to one account in an hour.
	PhoneCodesPerHour = 3
	phoneCodeDigits   = 6
)

// Errors of the phone verification.
var (
	// ErrNoPhone: the account has no phone to send a code to.
	ErrNoPhone = errors.New("no phone number to verify")
	// ErrSMSUnavailable: no SMS sender is configured.
	ErrSMSUnavailable = errors.New("phone verification is not available")
	// ErrTooManyCodes: too many codes were sent lately; try later.
	ErrTooManyCodes = errors.New("too many codes were sent; try again later")
	// ErrWrongCode: the code is not the one sent.
	ErrWrongCode = errors.New("this code is not the one sent")
	// ErrNoCode: no code is pending (none sent, expired, used, or voided
	// after too many attempts): ask for a new one.
	ErrNoCode = errors.New("no code is pending; ask for a new one")
)

// SMSSender sends a text message to a phone number. Implementations: the
// log driver (LogSMS) for development; a provider's driver in production.
type SMSSender interface {
	SendSMS(ctx context.Context, to, text string) error
}

// LogSMS is the log driver: it writes each SMS, code included, to its
// logger. For development only.
type LogSMS struct {
	Logger *slog.Logger
}

var _ SMSSender = LogSMS{}

// SendSMS logs the message.
func (l LogSMS) SendSMS(ctx context.Context, to, text string) error {
	if l.Logger != nil {
		l.Logger.InfoContext(ctx, "sms (log driver)", "to", to, "text", text)
	}
	return nil
}

func phoneCodeHash(accountID, code string) []byte {
	sum := sha256.Sum256([]byte("phone_code\x00" + accountID + "\x00" + code))
	return sum[:]
}

func newPhoneCode() string {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return fmt.Sprintf("%0*d", phoneCodeDigits, n.Int64())
}

func smsText(locale, code string) string {
	if locale == "en" {
		return fmt.Sprintf("Your verification code: %s. It is valid for 10 minutes.", code)
	}
	return fmt.Sprintf("Votre code de vérification : %s. Il est valable 10 minutes.", code)
}

// SendPhoneCode sends a new code to the phone of the account of a valid
// registration link (voiding the older codes), in locale. ErrInvalidLink,
// ErrNoPhone, ErrTooManyCodes, ErrSMSUnavailable.
func (s *Service) SendPhoneCode(ctx context.Context, linkToken, locale string) error {
	if s.sms == nil {
		return ErrSMSUnavailable
	}
	code := newPhoneCode()
	var phone string
	err := s.st.Update(ctx, func(tx store.Tx) error {
		now := s.now()
		_, a, err := s.find(ctx, tx, linkToken, now)
		if err != nil {
			return err
		}
		if phone = a.Phone; phone == "" {
			return ErrNoPhone
		}
		recent, err := tx.Audit().List(ctx, store.AuditQuery{AccountID: a.ID, Type: EventPhoneCodeSent, Limit: PhoneCodesPerHour})
		if err != nil {
			return err
		}
		if len(recent) >= PhoneCodesPerHour && now.Sub(recent[len(recent)-1].At) < time.Hour {
			return ErrTooManyCodes
		}
		voided, err := tx.Tokens().Revoke(ctx, a.ID, now, store.PurposePhoneCode)
		if err != nil {
			return err
		}
		tok := store.OneTimeToken{Purpose: store.PurposePhoneCode, Hash: phoneCodeHash(a.ID, code), AccountID: a.ID,
			Data: map[string]string{"phone": phone}, CreatedAt: now, ExpiresAt: now.Add(PhoneCodeTTL)}
		if err := tx.Tokens().Create(ctx, &tok); err != nil {
			return err
		}
		return tx.Record(ctx, store.Event{Type: EventPhoneCodeSent, Actor: actor(a.ID), AccountID: a.ID, At: now,
			Data: map[string]any{"token_id": tok.ID, "phone": phone, "expires_at": tok.ExpiresAt, "voided": voided}})
	})
	if err != nil {
		return err
	}
	// After the commit: an SMS goes out only for a code that exists.
	if err := s.sms.SendSMS(ctx, phone, smsText(locale, code)); err != nil {
		return fmt.Errorf("registration: send sms: %w", err)
	}
	return nil
}

// VerifyPhone checks a code typed for the account of a valid registration
// link. The right code is consumed and phone.verified recorded; a wrong
// one records phone.code_failed, and the 5th voids the code. ErrWrongCode,
// ErrNoCode, ErrInvalidLink.
func (s *Service) VerifyPhone(ctx context.Context, linkToken, code string) error {
	code = strings.TrimSpace(code)
	var result error
	err := s.st.Update(ctx, func(tx store.Tx) error {
		result = nil
		now := s.now()
		_, a, err := s.find(ctx, tx, linkToken, now)
		if err != nil {
			return err
		}
		pending, err := tx.Tokens().ListPending(ctx, a.ID, now)
		if err != nil {
			return err
		}
		var tok *store.OneTimeToken
		for i := range pending {
			if pending[i].Purpose == store.PurposePhoneCode {
				tok = &pending[i]
			}
		}
		if tok == nil {
			return ErrNoCode
		}
		h := phoneCodeHash(a.ID, code)
		if len(code) == phoneCodeDigits && subtle.ConstantTimeCompare(h, tok.Hash) == 1 {
			used, err := tx.Tokens().Consume(ctx, store.PurposePhoneCode, h, now)
			if errors.Is(err, store.ErrNotFound) {
				return ErrNoCode
			} else if err != nil {
				return err
			}
			return tx.Record(ctx, store.Event{Type: EventPhoneVerified, Actor: actor(a.ID), AccountID: a.ID, At: now,
				Data: map[string]string{"token_id": used.ID, "phone": used.Data["phone"]}})
		}
		failures, err := s.failures(ctx, tx, a.ID, tok.ID)
		if err != nil {
			return err
		}
		attempt := failures + 1
		voided := attempt >= PhoneCodeAttempts
		if voided {
			if _, err := tx.Tokens().Revoke(ctx, a.ID, now, store.PurposePhoneCode); err != nil {
				return err
			}
		}
		// The failure is kept: the transaction commits, the caller gets
		// ErrWrongCode.
		result = ErrWrongCode
		return tx.Record(ctx, store.Event{Type: EventPhoneCodeFailed, Actor: actor(a.ID), AccountID: a.ID, At: now,
			Data: map[string]any{"token_id": tok.ID, "attempt": attempt, "voided": voided}})
	})
	if err != nil {
		return err
	}
	return result
}

// failures counts the wrong codes typed for a code token.
func (s *Service) failures(ctx context.Context, tx store.Tx, accountID, tokenID string) (int, error) {
	evs, err := tx.Audit().List(ctx, store.AuditQuery{AccountID: accountID, Type: EventPhoneCodeFailed, Limit: PhoneCodeAttempts * 4})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, ev := range evs {
		var d struct {
			TokenID string `json:"token_id"`
		}
		if json.Unmarshal(ev.Data, &d) == nil && d.TokenID == tokenID {
			n++
		}
	}
	return n, nil
}

// phoneVerified reports whether the account's current phone is the one
// of its latest phone.verified event.
func phoneVerified(ctx context.Context, tx store.Tx, a identity.Account) (bool, error) {
	if a.Phone == "" {
		return false, nil
	}
	evs, err := tx.Audit().List(ctx, store.AuditQuery{AccountID: a.ID, Type: EventPhoneVerified, Limit: 1})
	if err != nil || len(evs) == 0 {
		return false, err
	}
	var d struct {
		Phone string `json:"phone"`
	}
	return json.Unmarshal(evs[0].Data, &d) == nil && d.Phone == a.Phone, nil
}
