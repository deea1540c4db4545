package signature

import "strings"

// Verdict names where an executable's content comes from.
type Verdict string

const (
	// PackageVerified: an installed dpkg or rpm package owns the path and
	// the content's digest is the one its database records.
	PackageVerified Verdict = "package_verified"
	// PackageModified: a package owns the path but the content differs
	// from what the package installed.
	PackageModified Verdict = "package_modified"
	// SignedTrusted: security.ima carries a signature that a certificate
	// in the trusted directory verifies.
	SignedTrusted Verdict = "signed_trusted"
	// SignedUntrusted: security.ima carries a well-formed signature that
	// no trusted certificate verifies.
	SignedUntrusted Verdict = "signed_untrusted"
	// Unowned: no package owns the path and it carries no signature.
	Unowned Verdict = "unowned"
	// Unknown: the verdict could not be decided; Reason says why.
	Unknown Verdict = "unknown"
)

// verdicts lists every Verdict, in the order Stats reports them.
var verdicts = [...]Verdict{PackageVerified, PackageModified, SignedTrusted, SignedUntrusted, Unowned, Unknown}

func (v Verdict) index() int {
	for i, x := range verdicts {
		if x == v {
			return i
		}
	}
	return len(verdicts) - 1
}

// Severity uses the names of Chronicle UDM's SecurityResult.ProductSeverity
// enum so that records map onto it without a translation table.
type Severity string

const (
	Informational Severity = "INFORMATIONAL"
	Low           Severity = "LOW"
	Medium        Severity = "MEDIUM"
	High          Severity = "HIGH"
	Critical      Severity = "CRITICAL"
)

func (s Severity) rank() int {
	switch s {
	case Informational:
		return 0
	case Low:
		return 1
	case Medium:
		return 2
	case High:
		return 3
	case Critical:
		return 4
	}
	return 0
}

// Trust is the provenance verdict of one executable.
type Trust struct {
	Verdict  Verdict  `json:"verdict"`
	Severity Severity `json:"severity"`
	// Package is the owning package's name (multi-arch "same" dpkg
	// packages keep their ":arch" suffix, as dpkg names them).
	Package string `json:"package,omitempty"`
	// Signer is the trusted certificate's subject for signed_trusted, and
	// "keyid:xxxxxxxx" (the signature's key id) when no certificate is
	// known for the key.
	Signer string `json:"signer,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Default severities. Exceptions (each documented where it is made): a
// modified conffile is MEDIUM, a signature whose key id names a trusted
// certificate but does not verify is HIGH, and memfd-backed or deleted
// executables are raised to at least MEDIUM.
var defaultSeverity = map[Verdict]Severity{
	PackageVerified: Informational,
	SignedTrusted:   Informational,
	// The content is not what the package manager installed: tampering
	// or an out-of-band replacement of a system file. Both deserve an
	// analyst's look.
	PackageModified: High,
	// Somebody deliberately signed this file, but with a key this host
	// does not trust: a key never enrolled, a test key, or an attacker
	// dressing a payload up as signed. On a host that uses IMA signing
	// that is an anomaly worth a look, so it ranks above unowned.
	SignedUntrusted: Medium,
	// Locally built tools, language runtimes' caches, /usr/local,
	// /opt and self-updating applications are all unowned: on its own it
	// is weak evidence, and MEDIUM would flood every developer host.
	// Rules combine it with the path class and the parent.
	Unowned: Low,
	// An undecided verdict is not evidence either way; raising it would
	// turn a database outage into an alert storm. The reason says what
	// was missing.
	Unknown: Low,
}

func trust(v Verdict, pkg, signer, reason string) Trust {
	return Trust{Verdict: v, Severity: defaultSeverity[v], Package: pkg, Signer: signer, Reason: reason}
}

// atLeast raises t's severity to s, appending why to the reason.
func (t Trust) atLeast(s Severity, why string) Trust {
	if t.Severity.rank() < s.rank() {
		t.Severity = s
	}
	t.Reason = joinReason(why, t.Reason)
	return t
}

func joinReason(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		if p == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p)
	}
	return b.String()
}
