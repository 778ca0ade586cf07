package fetch

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/latchsec/latch/mirror"
)

// SPKIPin returns the pin of cert's public key in the form
// [Options.SPKIPins] takes: the hex SHA-256 of its DER-encoded
// SubjectPublicKeyInfo. It is the same hash as that of
// "openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | sha256sum".
func SPKIPin(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return hex.EncodeToString(sum[:])
}

// pinSet is a parsed, non-empty Options.SPKIPins.
type pinSet struct {
	sums [][sha256.Size]byte
	hex  []string // the same, for errors
}

// parsePins parses pins in either accepted form: 64 hex digits (any case),
// or "sha256/" followed by the standard base64 of the 32 bytes (the form of
// HPKP and curl's --pinnedpubkey).
func parsePins(pins []string) (*pinSet, error) {
	set := &pinSet{}
	for _, p := range pins {
		var sum []byte
		var err error
		if b64, ok := strings.CutPrefix(p, "sha256/"); ok {
			sum, err = base64.StdEncoding.Strict().DecodeString(b64)
		} else {
			sum, err = hex.DecodeString(p)
		}
		if err != nil || len(sum) != sha256.Size {
			return nil, fmt.Errorf("SPKI pin %q is neither 64 hex digits nor sha256/<base64 of 32 bytes>: %w", p, ErrInvalidOptions)
		}
		set.sums = append(set.sums, [sha256.Size]byte(sum))
		set.hex = append(set.hex, hex.EncodeToString(sum))
	}
	return set, nil
}

// verify returns a *mirror.PinError unless certs, as presented by host, start with
// a leaf whose key is pinned.
func (s *pinSet) verify(host string, certs []*x509.Certificate) error {
	if len(certs) > 0 && slices.Contains(s.sums, sha256.Sum256(certs[0].RawSubjectPublicKeyInfo)) {
		return nil
	}
	seen := make([]string, len(certs))
	for i, c := range certs {
		seen[i] = SPKIPin(c)
	}
	return &mirror.PinError{Host: host, Seen: seen, Pins: slices.Clone(s.hex)}
}

// verifyConnection is a tls.Config.VerifyConnection. It runs after the
// normal chain verification on every handshake, resumed ones included. A
// server named by an IP address has no ServerName here; HTTP.do fills in
// the mirror.PinError's Host.
func (s *pinSet) verifyConnection(cs tls.ConnectionState) error {
	return s.verify(cs.ServerName, cs.PeerCertificates)
}

// pinnedTransport checks the pins on each response of a caller's transport,
// whose TLS configuration this package cannot change. Every https response
// must carry the TLS state of its connection.
type pinnedTransport struct {
	rt   http.RoundTripper
	pins *pinSet
}

func (p *pinnedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := p.rt.RoundTrip(req)
	if err != nil || req.URL.Scheme != "https" {
		return resp, err
	}
	var certs []*x509.Certificate
	if resp.TLS != nil {
		certs = resp.TLS.PeerCertificates
	}
	if err := p.pins.verify(req.URL.Hostname(), certs); err != nil {
		_ = resp.Body.Close() // the pin error is the one that matters
		return nil, err
	}
	return resp, nil
}
