// Package signature gives every executable a provenance verdict: the
// Linux form of Windows' "unsigned". Trust comes from two places only:
// the package manager's record of what it installed, and an IMA signature
// made with a key the operator enrolled.
//
// # Verdicts
//
// A Trust names one Verdict and a Severity (Chronicle UDM SecurityResult
// names); only trusted verdicts are INFORMATIONAL:
//
//	package_verified  INFORMATIONAL  a dpkg or rpm package owns the path and the digest matches
//	signed_trusted    INFORMATIONAL  security.ima verifies with a trusted certificate
//	signed_untrusted  MEDIUM         a well-formed signature no trusted key verifies;
//	                                 HIGH when its key id names a trusted key but it does not verify
//	package_modified  HIGH           a package owns the path, the digest differs;
//	                                 MEDIUM for a conffile, which administrators edit
//	unowned           LOW            no package, no signature
//	unknown           LOW            undecidable; Reason says why
//
// Why each severity is what it is sits next to defaultSeverity. A memfd
// or deleted executable is raised to at least MEDIUM whatever its
// verdict. A deleted file whose digest matches its package stays
// package_verified (a program still running after an upgrade) but at
// MEDIUM; a deleted file whose digest differs is unknown, because the
// previous version of an upgraded package and a tampered file look the
// same once the database has moved on.
//
// Nothing is guessed: a missing digest, an unreadable database or xattr,
// a malformed record, an unsupported algorithm or database format all
// give unknown with the reason, never unowned.
//
// # Order of evidence
//
// Verdict looks at the path first. If a package owns it, the file at the
// path under Root must be the executed inode (same device and inode as
// Input.ID): a process in another mount namespace runs its own
// /usr/bin/python3, and the host's record must not judge it. Then the
// content's digest is compared with the record. The signature is read
// only when no package decides: package-verified files, the vast
// majority, cost no getxattr.
//
// # dpkg
//
// The index is read natively, no process spawned: <Root>/var/lib/dpkg/status
// with the journal in updates/ applied on top (dpkg writes each state
// change there and folds them into status only now and then), then
// info/<pkg>.list and info/<pkg>.md5sums for every package whose status
// has its files on disk. Multi-Arch "same" packages name their files
// <pkg>:<arch>.list. installed, triggers-pending and triggers-awaited count
// as installed; half-installed, unpacked and half-configured packages are
// mid-upgrade, so a digest mismatch on their files is unknown rather than
// package_modified; config-files and not-installed own nothing. Conffiles
// take their digest from the status file's Conffiles field. A malformed
// stanza that names its package makes that package's files unknown; one
// that names none makes every miss unknown, since it could have owned
// anything.
//
// dpkg records md5. Owner tells the pipeline before hashing whether a
// package owns the path and which algorithm its digest uses, so the
// hasher computes md5 in the same read as sha256 only for package-owned
// files (Owner.NeedsMD5).
//
// Diversions (<Root>/var/lib/dpkg/diversions: from, to, package) move
// every other package's copy of the from path to the to path; the
// diverting package's own copy stays at from, and a local diversion
// (package ":") moves every package's copy. So the owner of the from path
// is the diverting package, and the owner of the to path is the package
// that lists from, with that package's digest for from.
//
// # Merged /usr
//
// The kernel reports the resolved path (/usr/bin/true) while dpkg may
// list /bin/true, or the other way round. At index time the alias
// directories (/bin, /sbin, /lib*, and their /usr counterparts, for
// layouts merged the other way) that are symlinks under Root are read,
// and every path, listed or looked up, is rewritten through them, so both
// spellings meet. On a root without the symlinks they stay different
// files, as they are.
//
// # rpm
//
// rpm databases are read from <Root>/var/lib/rpm and
// <Root>/usr/lib/sysimage/rpm (the same file once if one links to the
// other). The sqlite backend (rpm >= 4.16: Fedora, RHEL 9, and Debian's
// rpm) is opened read-only with modernc.org/sqlite, pure Go, so the
// sensor stays a static binary, and the header blobs in the Packages
// table are parsed here: file names from DIRNAMES[DIRINDEXES[i]] +
// BASENAMES[i], digests from FILEDIGESTS in the FILEDIGESTALGO algorithm
// (OpenPGP numbering; md5 when absent), conffiles from FILEFLAGS. Files
// rpm did not install (FILESTATES not normal), ghosts and non-regular
// files carry no comparable digest. The Berkeley DB backend (RHEL,
// CentOS and UBI 8 and older, Amazon Linux 2: /var/lib/rpm/Packages)
// holds the same header blobs in a hash database, read here by a
// bounded page walker (rpmbdb.go, which says why not go-rpmdb). ndb
// (SUSE) databases are detected but not read: files they may own are
// unknown with that reason, never unowned.
//
// # IMA signatures
//
// security.ima is read with getxattr on Input.XattrPath, normally
// /proc/<pid>/exe, which reaches the executed inode even when it was
// deleted or lives in another mount namespace. A v2 signature is the
// kernel's signature_v2_hdr: type 0x03 (EVM_IMA_XATTR_DIGSIG), version 2,
// the hash algorithm in the kernel's HASH_ALGO_* numbering, a 4-byte key
// id, a big-endian 2-byte length that must account for every remaining
// byte, and the signature: RSA PKCS#1 v1.5 or ASN.1 ECDSA over the
// file's digest. The digest-only forms (0x01, 0x04) are no signature.
// Version 1 and 3 signatures and fs-verity signatures (0x06) are unknown.
// A signature over an md5 or sha1 digest is unknown too ("too weak to
// trust"): collisions in those are practical, so it could vouch for a
// file other than the one signed. sha256 and stronger are accepted.
//
// The key id is looked up before any digest is computed: a key id no
// trusted certificate has makes the verdict signed_untrusted at once, so
// a made-up signature over sha512 on a large file costs no hashing.
//
// Certificates (DER or PEM, any file name) come from TrustedKeyDir.
// Each is a trust anchor of its own (no chains): leaf certificates, what
// IMA keys normally are, are fine; a certificate outside its validity
// period or whose key usage excludes digital signatures is not trusted,
// and the verdict says which. A signature names its key by the last four
// bytes of the SHA-1 of the certificate's public key, as evmctl computes
// it; the last four bytes of the subject key identifier, which the
// kernel matches, are accepted too.
//
// The pipeline's hasher supplies sha256 and md5. A signature (or an rpm
// database) using another algorithm Go implements is verified by hashing
// the content here, once, after checking the file is still the version
// Input.ID names; algorithms Go lacks (sm3, streebog, ...) are unknown.
//
// # Caching and refresh
//
// Verdicts are cached in an LRU keyed by fileid.ID and path (ownership
// is by path, and two hard links to one inode can differ), so a cached
// answer is only reused for the file version it was computed from.
// Unknown verdicts are not cached: the next exec may bring what was
// missing. A signed_trusted verdict expires with its certificate.
//
// The index keys each canonical path by a 64-bit keyed hash (hash/maphash,
// a secret seed per index) and stores a 16-byte record: the package, the
// raw digest's offset in one shared arena, the algorithm, and codes for
// the conffile flag and why a digest is missing; the rare "listed as" path
// sits in a side map. About 100,000 paths cost 8 MiB. A chance collision
// can only compare a file with another file's digest and call it
// modified, never trusted.
//
// The index is built in New and is immutable; lookups read it through an
// atomic pointer. At most every RefreshInterval a lookup stats the
// database files (dpkg status, updates/, info/, diversions, each rpmdb
// file and its WAL, the merged-/usr symlinks) and the key directory;
// when any changed, a goroutine of its own rebuilds while every lookup,
// the one that noticed included, carries on with the old index (the
// lookups run on the record path, and a rebuild during an apt or dnf run
// reads the whole database), and the cache is invalidated (a generation counter makes
// sure a verdict computed across the swap is not kept). A digest mismatch
// also forces that check first, without waiting for the interval: an
// upgrade replaces files before the periodic check sees the new database,
// and must not be reported as package_modified.
package signature
