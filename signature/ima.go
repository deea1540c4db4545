package signature

import (
	"crypto"
	_ "crypto/md5" // linked so crypto.Hash.New works for every algorithm named below
	_ "crypto/sha1"
	_ "crypto/sha256"
	_ "crypto/sha3"
	_ "crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

const imaXattr = "security.ima"

// security.ima type bytes (the kernel's enum evm_ima_xattr_type).
const (
	imaXattrDigest    = 0x01 // IMA_XATTR_DIGEST: bare md5/sha1 digest, pre-3.13 kernels
	evmXattrHMAC      = 0x02 // EVM_XATTR_HMAC: belongs in security.evm
	evmIMAXattrDigsig = 0x03 // EVM_IMA_XATTR_DIGSIG: a signature
	imaXattrDigestNG  = 0x04 // IMA_XATTR_DIGEST_NG: algorithm byte + digest
	evmXattrPortable  = 0x05 // EVM_XATTR_PORTABLE_DIGSIG: belongs in security.evm
	imaVerityDigsig   = 0x06 // IMA_VERITY_DIGSIG: signature over an fs-verity digest
)

// imaSigHeaderLen is the signature_v2_hdr: type, version, hash algorithm,
// 4-byte key id, 2-byte big-endian signature size.
const imaSigHeaderLen = 9

// kernelHashAlgos names the kernel's enum hash_algo (hash_info.h) by
// position, and the Go hash for those Go can compute.
var kernelHashAlgos = [...]struct {
	name string
	hash crypto.Hash
}{
	{"md4", 0}, {"md5", crypto.MD5}, {"sha1", crypto.SHA1}, {"rmd160", 0},
	{"sha256", crypto.SHA256}, {"sha384", crypto.SHA384}, {"sha512", crypto.SHA512}, {"sha224", crypto.SHA224},
	{"rmd128", 0}, {"rmd256", 0}, {"rmd320", 0}, {"wp256", 0}, {"wp384", 0}, {"wp512", 0},
	{"tgr128", 0}, {"tgr160", 0}, {"tgr192", 0}, {"sm3-256", 0}, {"streebog256", 0}, {"streebog512", 0},
	{"sha3-256", crypto.SHA3_256}, {"sha3-384", crypto.SHA3_384}, {"sha3-512", crypto.SHA3_512},
}

// imaValue is a parsed security.ima.
type imaValue struct {
	// signed is false for the digest-only forms, which say what the
	// content was when last measured but not who vouches for it.
	signed   bool
	hashAlgo uint8
	keyID    [4]byte
	sig      []byte
}

func (v *imaValue) keyIDString() string { return hex.EncodeToString(v.keyID[:]) }

// hash returns the Go hash and kernel name of the signature's algorithm;
// the hash is 0 when Go cannot compute it.
func (v *imaValue) hash() (crypto.Hash, string) {
	if int(v.hashAlgo) < len(kernelHashAlgos) {
		a := kernelHashAlgos[v.hashAlgo]
		return a.hash, a.name
	}
	return 0, fmt.Sprintf("hash algorithm %d", v.hashAlgo)
}

var (
	errIMAMalformed   = errors.New("malformed security.ima")
	errIMAUnsupported = errors.New("unsupported security.ima")
)

// parseIMA decodes a security.ima value. Only v2 digital signatures are
// verified; the digest-only forms are reported unsigned; everything else
// is an error wrapping errIMAMalformed or errIMAUnsupported.
func parseIMA(b []byte) (imaValue, error) {
	if len(b) == 0 {
		return imaValue{}, fmt.Errorf("%w: empty", errIMAMalformed)
	}
	switch b[0] {
	case imaXattrDigest, imaXattrDigestNG:
		if len(b) < 2 {
			return imaValue{}, fmt.Errorf("%w: digest of %d bytes", errIMAMalformed, len(b)-1)
		}
		return imaValue{}, nil
	case evmIMAXattrDigsig:
	case imaVerityDigsig:
		return imaValue{}, fmt.Errorf("%w: fs-verity signature (type 6) is not verified", errIMAUnsupported)
	case evmXattrHMAC, evmXattrPortable:
		return imaValue{}, fmt.Errorf("%w: EVM value (type %d) in security.ima", errIMAMalformed, b[0])
	default:
		return imaValue{}, fmt.Errorf("%w: type %d", errIMAMalformed, b[0])
	}
	if len(b) < 2 {
		return imaValue{}, fmt.Errorf("%w: signature of %d bytes", errIMAMalformed, len(b))
	}
	switch b[1] {
	case 2:
	case 1, 3:
		return imaValue{}, fmt.Errorf("%w: signature version %d", errIMAUnsupported, b[1])
	default:
		return imaValue{}, fmt.Errorf("%w: signature version %d", errIMAMalformed, b[1])
	}
	if len(b) < imaSigHeaderLen {
		return imaValue{}, fmt.Errorf("%w: signature header of %d bytes", errIMAMalformed, len(b))
	}
	v := imaValue{signed: true, hashAlgo: b[2]}
	copy(v.keyID[:], b[3:7])
	size := int(binary.BigEndian.Uint16(b[7:9]))
	// The kernel rejects a size that does not account for every byte;
	// so do we, rather than verify a prefix.
	if size == 0 || size != len(b)-imaSigHeaderLen {
		return imaValue{}, fmt.Errorf("%w: signature size %d, %d bytes follow the header", errIMAMalformed, size, len(b)-imaSigHeaderLen)
	}
	v.sig = b[imaSigHeaderLen:]
	return v, nil
}

// readIMA reads security.ima at p (following symlinks, so /proc/<pid>/exe
// names the executed inode). It returns nil, nil when the file has none
// or its filesystem cannot hold one.
func readIMA(p string) ([]byte, error) {
	buf := make([]byte, 1024)
	for range 3 {
		n, err := unix.Getxattr(p, imaXattr, buf)
		switch {
		case err == nil:
			return buf[:n], nil
		case errors.Is(err, unix.ENODATA), errors.Is(err, unix.ENOTSUP):
			return nil, nil
		case errors.Is(err, unix.ERANGE):
			// Grew between calls or larger than any RSA-16384
			// signature: ask for the size and try again.
			sz, err := unix.Getxattr(p, imaXattr, nil)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", imaXattr, err)
			}
			buf = make([]byte, sz)
		default:
			return nil, fmt.Errorf("read %s: %w", imaXattr, err)
		}
	}
	return nil, fmt.Errorf("read %s: %w", imaXattr, unix.ERANGE)
}
