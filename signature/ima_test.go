package signature

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// xattrDir returns a directory whose filesystem takes security.ima from
// root. The temp dir is tried first (ext4 here); a tmpfs mounted for the
// test is the fallback for filesystems that refuse it.
func xattrDir(t *testing.T) string {
	t.Helper()
	requireRoot(t)
	dir := t.TempDir()
	probe := filepath.Join(dir, "probe")
	writeFile(t, probe, "probe", 0o644)
	err := unix.Setxattr(probe, imaXattr, []byte{imaXattrDigestNG, 4, 0}, 0)
	os.Remove(probe)
	if err == nil {
		return dir
	}
	if !errors.Is(err, unix.ENOTSUP) && !errors.Is(err, unix.EOPNOTSUPP) {
		t.Fatalf("setxattr %s: %v", imaXattr, err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=16m"); err != nil {
		t.Fatalf("%s cannot hold %s and mounting a tmpfs failed: %v", dir, imaXattr, err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	return dir
}

type testKey struct {
	keyPEM, certPEM string
	cert            *x509.Certificate
	priv            crypto.Signer
}

// newOpenSSLKey makes a throwaway self-signed key and certificate the way
// an administrator would.
func newOpenSSLKey(t *testing.T, dir, name string, newkey ...string) testKey {
	t.Helper()
	requireTool(t, "openssl")
	k := testKey{keyPEM: filepath.Join(dir, name+".key"), certPEM: filepath.Join(dir, name+".pem")}
	args := append([]string{"req", "-x509", "-nodes", "-days", "2", "-subj", "/CN=" + name,
		"-keyout", k.keyPEM, "-out", k.certPEM}, newkey...)
	run(t, "openssl", args...)
	b, err := os.ReadFile(k.certPEM)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := parseCertificates(b)
	if err != nil || len(certs) != 1 {
		t.Fatalf("parse %s: %v", k.certPEM, err)
	}
	k.cert = certs[0]
	kb, err := os.ReadFile(k.keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(kb)
	priv, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	k.priv = priv.(crypto.Signer)
	return k
}

// certFor issues another self-signed certificate for k's key.
func (k testKey) certFor(t *testing.T, cn string, notBefore, notAfter time.Time, ca bool, usage x509.KeyUsage) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		BasicConstraintsValid: true,
		IsCA:                  ca,
		KeyUsage:              usage,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.priv.Public(), k.priv)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// signedCopy copies /usr/bin/true into dir and signs it with evmctl.
func signedCopy(t *testing.T, dir, name string, k testKey, algo string) string {
	t.Helper()
	requireTool(t, "evmctl")
	b, err := os.ReadFile("/usr/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	writeFile(t, p, string(b), 0o755)
	run(t, "evmctl", "ima_sign", "--key", k.keyPEM, "-a", algo, p)
	return p
}

func imaChecker(t *testing.T, keyDir string) *Checker {
	t.Helper()
	c, err := New(Options{Root: t.TempDir(), TrustedKeyDir: keyDir, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	// The fake root has no package database: make misses plain unowned
	// so the signature is the only evidence.
	c.ix.Load().missReason = ""
	return c
}

func sigVerdict(t *testing.T, c *Checker, p string) Trust {
	t.Helper()
	in := inputFor(t, p, p)
	in.Path = "/opt/" + filepath.Base(p)
	return c.Verdict(in)
}

func TestIMAUntrustedThenTrusted(t *testing.T) {
	dir := xattrDir(t)
	k := newOpenSSLKey(t, t.TempDir(), "argus-test-rsa", "-newkey", "rsa:2048")
	p := signedCopy(t, dir, "signed", k, "sha256")
	raw, err := readIMA(p)
	if err != nil || len(raw) == 0 {
		t.Fatalf("evmctl wrote no %s: %v", imaXattr, err)
	}
	t.Logf("security.ima = %x", raw)

	keyDir := t.TempDir()
	c := imaChecker(t, keyDir)
	got := sigVerdict(t, c, p)
	expect(t, got, SignedUntrusted, Medium, "")
	// The key id is evmctl's: the last 4 bytes of SHA-1 over the public key.
	wantID := certKeyIDs(k.cert)[0]
	if got.Signer != "keyid:"+hex.EncodeToString(wantID[:]) {
		t.Fatalf("signer %q, want keyid %x", got.Signer, wantID)
	}
	der := filepath.Join(t.TempDir(), "cert.der")
	writeFile(t, der, string(k.cert.Raw), 0o644)
	if out := run(t, "evmctl", "-v", "ima_verify", "--key", der, p); !strings.Contains(out, "keyid: "+hex.EncodeToString(wantID[:])) {
		t.Fatalf("evmctl's key id is not %x:\n%s", wantID, out)
	}
	expectReason(t, got, "matches no trusted certificate")

	// Enrol the certificate (PEM); the next periodic check picks it up,
	// in the background, and drops the cached untrusted verdict.
	writeFile(t, filepath.Join(keyDir, "argus.pem"), mustRead(t, k.certPEM), 0o644)
	c.nextCheck.Store(0)
	sigVerdict(t, c, p)
	c.background.Wait()
	got = sigVerdict(t, c, p)
	expect(t, got, SignedTrusted, Informational, "")
	if got.Signer != "CN=argus-test-rsa" {
		t.Fatalf("signer %q", got.Signer)
	}

	// Content changed after signing (writing keeps the xattr): the key id
	// names a trusted key but the signature does not verify.
	f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("appended"))
	f.Close()
	got = sigVerdict(t, c, p)
	expect(t, got, SignedUntrusted, High, "")
	expectReason(t, got, "does not verify")
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestIMAECDSAWithDERCert(t *testing.T) {
	dir := xattrDir(t)
	k := newOpenSSLKey(t, t.TempDir(), "argus-test-ec", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1")
	p := signedCopy(t, dir, "signed-ec", k, "sha256")
	keyDir := t.TempDir()
	writeFile(t, filepath.Join(keyDir, "x509_ima.der"), string(k.cert.Raw), 0o644)
	c := imaChecker(t, keyDir)
	got := sigVerdict(t, c, p)
	expect(t, got, SignedTrusted, Informational, "")
	if got.Signer != "CN=argus-test-ec" {
		t.Fatalf("signer %q", got.Signer)
	}
}

// The hasher gives sha256 and md5 only; a sha512 signature is verified
// from the content, hashed here.
func TestIMASHA512(t *testing.T) {
	dir := xattrDir(t)
	k := newOpenSSLKey(t, t.TempDir(), "argus-test-512", "-newkey", "rsa:2048")
	p := signedCopy(t, dir, "signed-512", k, "sha512")
	keyDir := t.TempDir()
	writeFile(t, filepath.Join(keyDir, "k.pem"), mustRead(t, k.certPEM), 0o644)
	c := imaChecker(t, keyDir)
	expect(t, sigVerdict(t, c, p), SignedTrusted, Informational, "")
}

func TestIMACertificatePolicy(t *testing.T) {
	dir := xattrDir(t)
	k := newOpenSSLKey(t, t.TempDir(), "argus-test-policy", "-newkey", "rsa:2048")
	p := signedCopy(t, dir, "signed", k, "sha256")
	now := time.Now()

	// A leaf (CA:FALSE) certificate with digitalSignature: what IMA keys
	// normally are, and trusted.
	keyDir := t.TempDir()
	writeFile(t, filepath.Join(keyDir, "leaf.der"), string(k.certFor(t, "leaf", now.Add(-time.Hour), now.Add(time.Hour), false, x509.KeyUsageDigitalSignature)), 0o644)
	got := sigVerdict(t, imaChecker(t, keyDir), p)
	expect(t, got, SignedTrusted, Informational, "")
	if got.Signer != "CN=leaf" {
		t.Fatalf("signer %q", got.Signer)
	}

	// Expired: the signature verifies, but the key is no longer vouched for.
	keyDir = t.TempDir()
	writeFile(t, filepath.Join(keyDir, "expired.der"), string(k.certFor(t, "expired", now.Add(-48*time.Hour), now.Add(-24*time.Hour), false, x509.KeyUsageDigitalSignature)), 0o644)
	got = sigVerdict(t, imaChecker(t, keyDir), p)
	expect(t, got, SignedUntrusted, Medium, "")
	expectReason(t, got, "certificate CN=expired expired at")

	// A CA-only key (certificate signing, no digital signatures).
	keyDir = t.TempDir()
	writeFile(t, filepath.Join(keyDir, "ca.der"), string(k.certFor(t, "ca-only", now.Add(-time.Hour), now.Add(time.Hour), true, x509.KeyUsageCertSign)), 0o644)
	got = sigVerdict(t, imaChecker(t, keyDir), p)
	expect(t, got, SignedUntrusted, Medium, "")
	expectReason(t, got, "key usage does not include digital signatures")

	// Garbage next to a good certificate is reported, not fatal.
	keyDir = t.TempDir()
	writeFile(t, filepath.Join(keyDir, "junk.der"), "not a certificate", 0o644)
	writeFile(t, filepath.Join(keyDir, "good.pem"), mustRead(t, k.certPEM), 0o644)
	c := imaChecker(t, keyDir)
	if len(c.keys.Load().problems) != 1 {
		t.Fatalf("problems %v", c.keys.Load().problems)
	}
	expect(t, sigVerdict(t, c, p), SignedTrusted, Informational, "")

	// A cached signed_trusted verdict lapses when the certificate does.
	keyDir = t.TempDir()
	writeFile(t, filepath.Join(keyDir, "short.der"), string(k.certFor(t, "short", now.Add(-time.Hour), now.Add(time.Hour), false, 0)), 0o644)
	c = imaChecker(t, keyDir)
	expect(t, sigVerdict(t, c, p), SignedTrusted, Informational, "")
	c.now = func() time.Time { return now.Add(2 * time.Hour) }
	got = sigVerdict(t, c, p)
	expect(t, got, SignedUntrusted, Medium, "")
	expectReason(t, got, "expired")
}

func TestIMABadValues(t *testing.T) {
	dir := xattrDir(t)
	b, err := os.ReadFile("/usr/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256hex(b)
	dg, _ := hex.DecodeString(digest)
	cases := []struct {
		name   string
		value  []byte
		want   Verdict
		reason string
	}{
		{"truncated", []byte{3, 2, 4, 1, 2, 3, 4, 1, 0, 0xaa}, Unknown, "signature size 256, 1 bytes follow"},
		{"header only", []byte{3, 2, 4, 1, 2}, Unknown, "signature header of 5 bytes"},
		{"garbage type", []byte("garbage"), Unknown, "malformed security.ima: type 103"},
		{"v1", []byte{3, 1, 0, 0, 0, 0, 0, 0, 0}, Unknown, "unsupported security.ima: signature version 1"},
		{"sm3", append([]byte{3, 2, 17, 1, 2, 3, 4, 0, 4}, 1, 2, 3, 4), Unknown, "sm3-256"},
		{"digest only", append([]byte{imaXattrDigestNG, 4}, dg...), Unowned, "holds a digest, not a signature"},
		{"random signature", append([]byte{3, 2, 4, 0xde, 0xad, 0xbe, 0xef, 0, 4}, 9, 9, 9, 9), SignedUntrusted, "key id deadbeef matches no trusted certificate"},
		// A signature over md5 or sha1 proves nothing: collisions are
		// practical, so one signed file lends its signature to another.
		{"md5 signature", append([]byte{3, 2, 1, 0xde, 0xad, 0xbe, 0xef, 0, 4}, 9, 9, 9, 9), Unknown, "md5, which is too weak to trust"},
		{"sha1 signature", append([]byte{3, 2, 2, 0xde, 0xad, 0xbe, 0xef, 0, 4}, 9, 9, 9, 9), Unknown, "sha1, which is too weak to trust"},
	}
	c := imaChecker(t, t.TempDir())
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
			writeFile(t, p, string(b), 0o755)
			if err := unix.Setxattr(p, imaXattr, tc.value, 0); err != nil {
				t.Fatal(err)
			}
			got := sigVerdict(t, c, p)
			if got.Verdict != tc.want || !strings.Contains(got.Reason, tc.reason) || got.Severity == Informational {
				t.Fatalf("got %+v, want %s with %q", got, tc.want, tc.reason)
			}
		})
	}
}

// TestIMAUnknownKeyNotHashed: a signature whose key id no trusted
// certificate has is untrusted whatever the digest; anyone can set one
// on their own files, so it must not make the checker hash the file (a
// sha512 of up to 512 MiB, synchronously). The file is changed after its
// digests were taken: hashing it would say so in the reason.
func TestIMAUnknownKeyNotHashed(t *testing.T) {
	dir := xattrDir(t)
	p := filepath.Join(dir, "random-key")
	writeFile(t, p, "#!/bin/sh\n", 0o755)
	if err := unix.Setxattr(p, imaXattr, append([]byte{3, 2, 6, 0xde, 0xad, 0xbe, 0xef, 0, 4}, 9, 9, 9, 9), 0); err != nil {
		t.Fatal(err)
	}
	in := inputFor(t, p, p)
	in.Path = "/opt/random-key"
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("exit 0\n")
	f.Close()
	got := imaChecker(t, t.TempDir()).Verdict(in)
	if got.Verdict != SignedUntrusted || !strings.Contains(got.Reason, "matches no trusted certificate") {
		t.Fatalf("got %+v: want signed_untrusted on the key id alone", got)
	}
}

func TestParseIMA(t *testing.T) {
	sig := bytes.Repeat([]byte{0x5a}, 256)
	v, err := parseIMA(append([]byte{3, 2, 4, 0x3b, 0x96, 0xf8, 0xbf, 1, 0}, sig...))
	if err != nil || !v.signed || v.keyIDString() != "3b96f8bf" || !bytes.Equal(v.sig, sig) {
		t.Fatalf("%+v %v", v, err)
	}
	if h, name := v.hash(); h != crypto.SHA256 || name != "sha256" {
		t.Fatalf("hash %v %s", h, name)
	}
	for _, b := range [][]byte{nil, {3}, {3, 2}, {3, 9, 4, 0, 0, 0, 0, 0, 1, 0}, {3, 2, 4, 0, 0, 0, 0, 0, 0}, {6, 3}, {2, 0}} {
		if _, err := parseIMA(b); err == nil {
			t.Errorf("%x accepted", b)
		}
	}
	if v, _ := parseIMA([]byte{3, 2, 200, 0, 0, 0, 0, 0, 1, 0}); v.signed {
		if h, name := v.hash(); h != 0 || !strings.Contains(name, "200") {
			t.Errorf("algo 200: %v %q", h, name)
		}
	}
}

// A binary that replaced its path after starting is judged through
// ProcExe, which still names the executed inode; a ProcExe that names some
// other inode is ignored.
func TestIMAReadThroughProcExe(t *testing.T) {
	dir := xattrDir(t)
	k := newOpenSSLKey(t, t.TempDir(), "argus-test-procexe", "-newkey", "rsa:2048")
	executed := signedCopy(t, dir, "executed", k, "sha256")
	b, err := os.ReadFile(executed)
	if err != nil {
		t.Fatal(err)
	}
	// What the path holds now: the same bytes, no signature.
	replaced := filepath.Join(dir, "replaced")
	writeFile(t, replaced, string(b), 0o755)
	c := imaChecker(t, t.TempDir())

	in := inputFor(t, "/opt/via-proc", executed)
	in.XattrPath, in.ProcExe = replaced, executed
	expect(t, c.Verdict(in), SignedUntrusted, Medium, "")

	// /proc/<pid>/exe of a reused pid: another inode, so the path is read.
	other := inputFor(t, "/opt/pid-reused", executed)
	other.XattrPath, other.ProcExe = replaced, replaced
	if got := c.Verdict(other); got.Verdict == SignedUntrusted || got.Verdict == SignedTrusted {
		t.Fatalf("verdict %+v read a signature through a ProcExe naming another inode", got)
	}
}
