package signature

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// trustedCert is one certificate from the trusted directory.
type trustedCert struct {
	file   string
	cert   *x509.Certificate
	keyIDs [][4]byte
}

func (t *trustedCert) subject() string {
	if s := t.cert.Subject.String(); s != "" {
		return s
	}
	return filepath.Base(t.file)
}

// keyring is the set of trusted certificates; immutable once loaded.
type keyring struct {
	dir      string
	certs    []*trustedCert
	problems []string
	// absent says why there are no certificates at all (no directory).
	absent string
	fp     fingerprint
}

// loadKeyring reads every certificate (DER, or PEM with any number of
// CERTIFICATE blocks) in dir. Files that hold none are reported as
// problems, not errors: one bad file must not distrust the others.
func loadKeyring(dir string) *keyring {
	k := &keyring{dir: dir, fp: dirFingerprint(dir)}
	ents, err := os.ReadDir(dir)
	if err != nil {
		k.absent = fmt.Sprintf("trusted key directory %s: %v", dir, unwrapPathError(err))
		return k
	}
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			k.problems = append(k.problems, fmt.Sprintf("read certificate %s: %v", p, err))
			continue
		}
		certs, err := parseCertificates(b)
		if err != nil {
			k.problems = append(k.problems, fmt.Sprintf("parse certificate %s: %v", p, err))
		}
		for _, c := range certs {
			k.certs = append(k.certs, &trustedCert{file: p, cert: c, keyIDs: certKeyIDs(c)})
		}
	}
	if len(k.certs) == 0 {
		k.absent = fmt.Sprintf("no certificates in trusted key directory %s", dir)
	}
	return k
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func parseCertificates(b []byte) ([]*x509.Certificate, error) {
	if !strings.Contains(string(b), "-----BEGIN") {
		c, err := x509.ParseCertificate(b)
		if err != nil {
			return nil, err
		}
		return []*x509.Certificate{c}, nil
	}
	var out []*x509.Certificate
	var errs []error
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue // a key next to its certificate is no reason to fail
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, c)
	}
	if len(out) == 0 && len(errs) == 0 {
		errs = append(errs, errors.New("no CERTIFICATE block"))
	}
	return out, errors.Join(errs...)
}

// certKeyIDs returns the ids a signature may name the certificate's key
// by. evmctl (calc_keyid_v2) uses the last four bytes of the SHA-1 of the
// subjectPublicKey bit string; the kernel matches the last four bytes of
// the certificate's subject key identifier. They agree whenever the SKID
// was made by RFC 5280 method 1, as openssl does by default; both are
// accepted so that certificates with another SKID still match.
func certKeyIDs(c *x509.Certificate) [][4]byte {
	var ids [][4]byte
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(c.RawSubjectPublicKeyInfo, &spki); err == nil {
		sum := sha1.Sum(spki.PublicKey.RightAlign())
		ids = append(ids, [4]byte(sum[16:20]))
	}
	if n := len(c.SubjectKeyId); n >= 4 {
		id := [4]byte(c.SubjectKeyId[n-4:])
		if len(ids) == 0 || ids[0] != id {
			ids = append(ids, id)
		}
	}
	return ids
}

// usable says why c cannot vouch for a file signature at now, or "".
// Every certificate in the directory is a trust anchor in itself: there
// is no chain building, so CA:FALSE leaf certificates (what IMA signing
// keys normally are) are fine. What is refused: outside the validity
// period (an expired key may have leaked since, and re-issuing is the
// owner's job), and a key usage that excludes digital signatures (a
// CA-only key must not sign files).
func (t *trustedCert) usable(now time.Time) string {
	c := t.cert
	switch {
	case now.After(c.NotAfter):
		return fmt.Sprintf("certificate %s expired at %s", t.subject(), c.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(c.NotBefore):
		return fmt.Sprintf("certificate %s is not valid before %s", t.subject(), c.NotBefore.UTC().Format(time.RFC3339))
	case c.KeyUsage != 0 && c.KeyUsage&x509.KeyUsageDigitalSignature == 0:
		return fmt.Sprintf("certificate %s key usage does not include digital signatures", t.subject())
	}
	return ""
}

var errKeyType = errors.New("unsupported key type")

// verifySig checks sig over digest (computed with h) with c's key: RSA
// PKCS#1 v1.5 or ECDSA with an ASN.1 signature, as evmctl writes them.
func verifySig(c *x509.Certificate, h crypto.Hash, digest, sig []byte) (bool, error) {
	switch pub := c.PublicKey.(type) {
	case *rsa.PublicKey:
		return rsa.VerifyPKCS1v15(pub, h, digest, sig) == nil, nil
	case *ecdsa.PublicKey:
		return ecdsa.VerifyASN1(pub, digest, sig), nil
	default:
		return false, fmt.Errorf("%w %T", errKeyType, c.PublicKey)
	}
}

// sigResult is the outcome of checking a signature against the keyring.
type sigResult struct {
	trust Trust
	// until is when a signed_trusted verdict stops holding (the
	// certificate's expiry), so the cache does not outlive it.
	until time.Time
}

// check verifies v over digest against the trusted certificates.
// knows reports whether any trusted certificate has v's key id; when it
// does not, check needs no digest.
func (k *keyring) knows(v *imaValue) bool {
	for _, t := range k.certs {
		for _, id := range t.keyIDs {
			if id == v.keyID {
				return true
			}
		}
	}
	return false
}

func (k *keyring) check(v *imaValue, h crypto.Hash, digest []byte, now time.Time) sigResult {
	keyID := v.keyIDString()
	untrusted := "keyid:" + keyID
	var cands []*trustedCert
	for _, t := range k.certs {
		for _, id := range t.keyIDs {
			if id == v.keyID {
				cands = append(cands, t)
				break
			}
		}
	}
	if len(cands) == 0 {
		why := fmt.Sprintf("signature key id %s matches no trusted certificate", keyID)
		if k.absent != "" {
			why = joinReason(why, k.absent)
		}
		return sigResult{trust: trust(SignedUntrusted, "", untrusted, why)}
	}
	var reasons []string
	anyVerified := false
	for _, t := range cands {
		ok, err := verifySig(t.cert, h, digest, v.sig)
		if err != nil {
			reasons = append(reasons, fmt.Sprintf("certificate %s: %v", t.subject(), err))
			continue
		}
		if !ok {
			continue
		}
		anyVerified = true
		if why := t.usable(now); why != "" {
			reasons = append(reasons, "signature verifies but "+why)
			continue
		}
		return sigResult{trust: trust(SignedTrusted, "", t.subject(), ""), until: t.cert.NotAfter}
	}
	switch {
	case anyVerified:
		return sigResult{trust: trust(SignedUntrusted, "", untrusted, joinReason(reasons...))}
	case len(reasons) > 0:
		return sigResult{trust: trust(Unknown, "", untrusted, joinReason(reasons...))}
	}
	// The key id claims a trusted key and the signature does not verify:
	// the content changed after signing, or someone copied the key id
	// onto a forged signature. Either is worse than an unknown key.
	t := trust(SignedUntrusted, "", untrusted,
		fmt.Sprintf("key id %s names trusted certificate %s but the signature does not verify: content changed after signing, or forged", keyID, cands[0].subject()))
	t.Severity = High
	return sigResult{trust: t}
}
