package signature

import (
	"crypto"
	"encoding/binary"
	"errors"
	"fmt"
	"path"
	"strings"
)

// rpm header tags and types used here (rpmtag.h; the header format is in
// rpm's "Package File Format" documentation).
const (
	rpmTagName           = 1000
	rpmTagVersion        = 1001
	rpmTagRelease        = 1002
	rpmTagEpoch          = 1003
	rpmTagArch           = 1022
	rpmTagOldFileNames   = 1027
	rpmTagFileModes      = 1030
	rpmTagFileStates     = 1029
	rpmTagFileDigests    = 1035
	rpmTagFileFlags      = 1037
	rpmTagDirIndexes     = 1116
	rpmTagBaseNames      = 1117
	rpmTagDirNames       = 1118
	rpmTagFileDigestAlgo = 5011

	rpmTypeChar        = 1
	rpmTypeInt8        = 2
	rpmTypeInt16       = 3
	rpmTypeInt32       = 4
	rpmTypeInt64       = 5
	rpmTypeString      = 6
	rpmTypeBin         = 7
	rpmTypeStringArray = 8
	rpmTypeI18NString  = 9

	rpmFileConfig = 1 << 0
	rpmFileGhost  = 1 << 6

	// rpm's own sanity limits (hdrchkTags, hdrchkData).
	rpmMaxTags = 0xffff
	rpmMaxData = 0x0fffffff
)

// rpmHeader is a parsed header blob as the database stores it: no lead
// and no magic, just the index and the data store.
type rpmHeader struct {
	entries map[uint32]rpmEntry
	data    []byte
}

type rpmEntry struct {
	typ, off, count uint32
}

var errRPMHeader = errors.New("malformed rpm header")

// parseRPMHeader parses a header blob: big-endian int32 index length and
// data length, then 16-byte index entries (tag, type, offset, count), then
// the data store.
func parseRPMHeader(b []byte) (*rpmHeader, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("%w: %d bytes", errRPMHeader, len(b))
	}
	il := binary.BigEndian.Uint32(b[0:])
	dl := binary.BigEndian.Uint32(b[4:])
	if il == 0 || il > rpmMaxTags || dl > rpmMaxData {
		return nil, fmt.Errorf("%w: %d tags, %d data bytes", errRPMHeader, il, dl)
	}
	need := 8 + uint64(il)*16 + uint64(dl)
	if uint64(len(b)) < need {
		return nil, fmt.Errorf("%w: %d bytes, header says %d", errRPMHeader, len(b), need)
	}
	h := &rpmHeader{entries: make(map[uint32]rpmEntry, il), data: b[8+il*16 : need]}
	for i := range il {
		e := b[8+i*16:]
		tag := binary.BigEndian.Uint32(e[0:])
		h.entries[tag] = rpmEntry{
			typ:   binary.BigEndian.Uint32(e[4:]),
			off:   binary.BigEndian.Uint32(e[8:]),
			count: binary.BigEndian.Uint32(e[12:]),
		}
	}
	return h, nil
}

// strings returns a STRING, STRING_ARRAY or I18NSTRING tag's values.
func (h *rpmHeader) strings(tag uint32) ([]string, error) {
	e, ok := h.entries[tag]
	if !ok {
		return nil, nil
	}
	if e.typ != rpmTypeString && e.typ != rpmTypeStringArray && e.typ != rpmTypeI18NString {
		return nil, fmt.Errorf("%w: tag %d has type %d, want a string", errRPMHeader, tag, e.typ)
	}
	if e.typ == rpmTypeString && e.count != 1 {
		return nil, fmt.Errorf("%w: string tag %d has count %d", errRPMHeader, tag, e.count)
	}
	if uint64(e.off) > uint64(len(h.data)) || uint64(e.count) > uint64(len(h.data)) {
		return nil, fmt.Errorf("%w: tag %d out of bounds", errRPMHeader, tag)
	}
	d := h.data[e.off:]
	out := make([]string, 0, e.count)
	for range e.count {
		i := 0
		for i < len(d) && d[i] != 0 {
			i++
		}
		if i == len(d) {
			return nil, fmt.Errorf("%w: tag %d string runs past the data", errRPMHeader, tag)
		}
		out = append(out, string(d[:i]))
		d = d[i+1:]
	}
	return out, nil
}

func (h *rpmHeader) str(tag uint32) (string, error) {
	s, err := h.strings(tag)
	if err != nil || len(s) == 0 {
		return "", err
	}
	return s[0], nil
}

// ints returns an integer tag's values, widened; CHAR and INT8 arrays too.
func (h *rpmHeader) ints(tag uint32) ([]uint64, error) {
	e, ok := h.entries[tag]
	if !ok {
		return nil, nil
	}
	var size uint64
	switch e.typ {
	case rpmTypeChar, rpmTypeInt8:
		size = 1
	case rpmTypeInt16:
		size = 2
	case rpmTypeInt32:
		size = 4
	case rpmTypeInt64:
		size = 8
	default:
		return nil, fmt.Errorf("%w: tag %d has type %d, want an integer", errRPMHeader, tag, e.typ)
	}
	end := uint64(e.off) + uint64(e.count)*size
	if end > uint64(len(h.data)) {
		return nil, fmt.Errorf("%w: tag %d out of bounds", errRPMHeader, tag)
	}
	d := h.data[e.off:end]
	out := make([]uint64, e.count)
	for i := range out {
		switch size {
		case 1:
			out[i] = uint64(d[i])
		case 2:
			out[i] = uint64(binary.BigEndian.Uint16(d[i*2:]))
		case 4:
			out[i] = uint64(binary.BigEndian.Uint32(d[i*4:]))
		case 8:
			out[i] = binary.BigEndian.Uint64(d[i*8:])
		}
	}
	return out, nil
}

// rpmPackage is what the index needs from one header.
type rpmPackage struct {
	name, version string
	algo          crypto.Hash
	files         []rpmFile
}

type rpmFile struct {
	path   string
	digest string
	flags  uint64
	// skip is set for files rpm did not install (FILESTATES other than
	// normal: replaced by another package, excluded, wrong color).
	skip bool
	// notRegular is set for anything but a regular file, which has no content
	// digest to compare.
	notRegular bool
}

// pgpHashAlgo maps FILEDIGESTALGO (OpenPGP hash algorithm ids) to Go's.
func pgpHashAlgo(n uint64) (crypto.Hash, bool) {
	switch n {
	case 1:
		return crypto.MD5, true
	case 2:
		return crypto.SHA1, true
	case 8:
		return crypto.SHA256, true
	case 9:
		return crypto.SHA384, true
	case 10:
		return crypto.SHA512, true
	case 11:
		return crypto.SHA224, true
	}
	return 0, false
}

// decodeRPMPackage extracts name, version and files from a header blob.
func decodeRPMPackage(blob []byte) (*rpmPackage, error) {
	h, err := parseRPMHeader(blob)
	if err != nil {
		return nil, err
	}
	p := &rpmPackage{}
	if p.name, err = h.str(rpmTagName); err != nil {
		return nil, err
	}
	if p.name == "" {
		return nil, fmt.Errorf("%w: no name", errRPMHeader)
	}
	ver, err := h.str(rpmTagVersion)
	if err != nil {
		return nil, err
	}
	rel, err := h.str(rpmTagRelease)
	if err != nil {
		return nil, err
	}
	p.version = ver
	if rel != "" {
		p.version += "-" + rel
	}
	if epoch, err := h.ints(rpmTagEpoch); err == nil && len(epoch) == 1 {
		p.version = fmt.Sprintf("%d:%s", epoch[0], p.version)
	}
	if arch, err := h.str(rpmTagArch); err == nil && arch != "" {
		p.version += "." + arch
	}

	// Without FILEDIGESTALGO rpm used MD5.
	p.algo = crypto.MD5
	if a, err := h.ints(rpmTagFileDigestAlgo); err != nil {
		return nil, err
	} else if len(a) > 0 {
		alg, ok := pgpHashAlgo(a[0])
		if !ok {
			return nil, fmt.Errorf("%w: package %s: unsupported file digest algorithm %d", errRPMHeader, p.name, a[0])
		}
		p.algo = alg
	}

	names, err := rpmFileNames(h)
	if err != nil {
		return nil, fmt.Errorf("package %s: %w", p.name, err)
	}
	if len(names) == 0 {
		return p, nil
	}
	digests, err := h.strings(rpmTagFileDigests)
	if err != nil {
		return nil, err
	}
	flags, err := h.ints(rpmTagFileFlags)
	if err != nil {
		return nil, err
	}
	states, err := h.ints(rpmTagFileStates)
	if err != nil {
		return nil, err
	}
	modes, err := h.ints(rpmTagFileModes)
	if err != nil {
		return nil, err
	}
	for _, arr := range []int{len(digests), len(flags), len(states), len(modes)} {
		if arr != 0 && arr != len(names) {
			return nil, fmt.Errorf("%w: package %s: %d file names but a file array of %d", errRPMHeader, p.name, len(names), arr)
		}
	}
	p.files = make([]rpmFile, len(names))
	for i, n := range names {
		f := rpmFile{path: n}
		// Each array is either absent (empty, even when its tag is
		// present with a count of 0) or as long as names: checked above.
		if len(digests) > 0 {
			f.digest = strings.ToLower(digests[i])
		}
		if len(flags) > 0 {
			f.flags = flags[i]
		}
		if len(states) > 0 && states[i] != 0 {
			f.skip = true
		}
		if len(modes) > 0 && modes[i]&0o170000 != 0o100000 {
			f.notRegular = true
		}
		p.files[i] = f
	}
	return p, nil
}

// rpmFileNames joins DIRNAMES[DIRINDEXES[i]] + BASENAMES[i]; headers from
// before rpm 4 keep whole names in OLDFILENAMES.
func rpmFileNames(h *rpmHeader) ([]string, error) {
	base, err := h.strings(rpmTagBaseNames)
	if err != nil {
		return nil, err
	}
	if base == nil {
		return h.strings(rpmTagOldFileNames)
	}
	dirs, err := h.strings(rpmTagDirNames)
	if err != nil {
		return nil, err
	}
	idx, err := h.ints(rpmTagDirIndexes)
	if err != nil {
		return nil, err
	}
	if len(idx) != len(base) {
		return nil, fmt.Errorf("%w: %d base names, %d dir indexes", errRPMHeader, len(base), len(idx))
	}
	out := make([]string, len(base))
	for i, b := range base {
		if idx[i] >= uint64(len(dirs)) {
			return nil, fmt.Errorf("%w: dir index %d of %d", errRPMHeader, idx[i], len(dirs))
		}
		out[i] = path.Join(dirs[idx[i]], b)
	}
	return out, nil
}
