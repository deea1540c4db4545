package signature

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// The rpm Berkeley DB reader. RHEL, CentOS and Oracle Linux up to 8, UBI 8
// images, Amazon Linux 2 and older SUSE keep their rpm database in
// /var/lib/rpm/Packages: a Berkeley DB hash database whose keys are header
// numbers (key 0 holds the next free one) and whose values are rpm header
// blobs, the same blobs the sqlite database keeps in its Packages table.
// Only the database file is read, never its environment (__db.*) or
// indexes: the headers carry everything the index needs.
//
// Why not github.com/knqyf263/go-rpmdb: the one version the module proxy
// serves (2021-09) panics in a goroutine of its own on an item offset
// near a page's end (a crash nothing can recover) and loops forever on an
// overflow chain that reaches a non-overflow page; both were reproduced
// here on a one-byte change to a real database. A container image's
// database is input its author controls, so this reader bounds every
// offset, chain and length.
//
// The layout (Berkeley DB's db_page.h, stable since 4.x): page 0 is the
// hash metadata page (magic 0x061561, page size, last page number). Every
// page starts with a 26-byte header: LSN (8), page number (4), previous
// and next page (4 + 4), entry count (2), high free offset (2), level (1),
// type (1). A hash page (type 13, or 2 unsorted in old releases) has an
// array of entry offsets after its header, key and data alternating; an
// entry starts with its type: 1 for data inline (up to the previous
// entry's offset), 3 for data off page (page number at +4, total length
// at +8) in a chain of overflow pages (type 7) whose high free offset is
// the count of data bytes on the page. A database written on a machine of
// the other byte order has the magic swapped, and every integer with it.

const (
	bdbHashMagic      = 0x061561
	bdbPageHeaderSize = 26
	bdbTypeHashMeta   = 8
	bdbTypeHashOld    = 2
	bdbTypeHash       = 13
	bdbTypeOverflow   = 7
	bdbItemKeyData    = 1
	bdbItemOffPage    = 3
	// bdbMaxHeader bounds one header blob; the largest real rpm headers
	// (kernel-devel, texlive) are a few MiB.
	bdbMaxHeader = 64 << 20
	// bdbMaxFile bounds the database file read.
	bdbMaxFile = 2 << 30
)

// errBDBFormat marks a database that is not, or is no longer, a well-formed
// Berkeley DB hash database.
var errBDBFormat = errors.New("not a Berkeley DB hash database")

// bdbReader walks a Berkeley DB hash database held in an io.ReaderAt.
type bdbReader struct {
	r        io.ReaderAt
	order    binary.ByteOrder
	pageSize uint32
	lastPage uint32
	// budget is what the values may still add up to. Each byte of a
	// well-formed database belongs to one value at most, so a whole
	// database yields at most its own size; entries or chains sharing
	// bytes (quadratic work) exhaust it.
	budget int64
}

func openBDB(r io.ReaderAt, size int64) (*bdbReader, error) {
	meta := make([]byte, 72)
	if _, err := r.ReadAt(meta, 0); err != nil {
		return nil, fmt.Errorf("%w: read metadata page: %v", errBDBFormat, err)
	}
	b := &bdbReader{r: r, order: binary.LittleEndian, budget: size}
	switch {
	case binary.LittleEndian.Uint32(meta[12:]) == bdbHashMagic:
	case binary.BigEndian.Uint32(meta[12:]) == bdbHashMagic:
		b.order = binary.BigEndian
	default:
		return nil, fmt.Errorf("%w: magic %#x", errBDBFormat, binary.LittleEndian.Uint32(meta[12:]))
	}
	if meta[25] != bdbTypeHashMeta {
		return nil, fmt.Errorf("%w: metadata page type %d", errBDBFormat, meta[25])
	}
	b.pageSize = b.order.Uint32(meta[20:])
	if b.pageSize < 512 || b.pageSize > 65536 || b.pageSize&(b.pageSize-1) != 0 {
		return nil, fmt.Errorf("%w: page size %d", errBDBFormat, b.pageSize)
	}
	b.lastPage = b.order.Uint32(meta[32:])
	if int64(b.lastPage)+1 > size/int64(b.pageSize) {
		return nil, fmt.Errorf("%w: last page %d beyond the file's %d bytes", errBDBFormat, b.lastPage, size)
	}
	return b, nil
}

func (b *bdbReader) page(n uint32, buf []byte) error {
	if n > b.lastPage {
		return fmt.Errorf("%w: page %d beyond the last, %d", errBDBFormat, n, b.lastPage)
	}
	if _, err := b.r.ReadAt(buf, int64(n)*int64(b.pageSize)); err != nil {
		return fmt.Errorf("read page %d: %w", n, err)
	}
	return nil
}

// values calls fn with the data item of every key/data pair on the hash
// pages, in page order. A malformed item ends the walk with an error;
// what fn was given so far stands.
func (b *bdbReader) values(fn func([]byte)) error {
	buf := make([]byte, b.pageSize)
	for n := uint32(1); n <= b.lastPage; n++ {
		if err := b.page(n, buf); err != nil {
			return err
		}
		if t := buf[25]; t != bdbTypeHash && t != bdbTypeHashOld {
			continue
		}
		entries := int(b.order.Uint16(buf[20:]))
		if bdbPageHeaderSize+2*entries > len(buf) {
			return fmt.Errorf("%w: page %d: %d entries do not fit", errBDBFormat, n, entries)
		}
		for i := 1; i < entries; i += 2 { // odd entries are the data
			off := int(b.order.Uint16(buf[bdbPageHeaderSize+2*i:]))
			end := int(b.order.Uint16(buf[bdbPageHeaderSize+2*(i-1):])) // the key is just above it
			if off < bdbPageHeaderSize+2*entries || off >= len(buf) || end > len(buf) || end <= off {
				return fmt.Errorf("%w: page %d: entry %d at %d..%d", errBDBFormat, n, i, off, end)
			}
			switch buf[off] {
			case bdbItemKeyData:
				if b.budget -= int64(end - off - 1); b.budget < 0 {
					return fmt.Errorf("%w: values add up to more than the file (entries share bytes)", errBDBFormat)
				}
				fn(append([]byte(nil), buf[off+1:end]...))
			case bdbItemOffPage:
				if off+12 > len(buf) {
					return fmt.Errorf("%w: page %d: off-page entry %d cut short", errBDBFormat, n, i)
				}
				v, err := b.overflow(b.order.Uint32(buf[off+4:]), b.order.Uint32(buf[off+8:]))
				if err != nil {
					return fmt.Errorf("page %d entry %d: %w", n, i, err)
				}
				fn(v)
			}
		}
	}
	return nil
}

// overflow reads a value of length total from the chain of overflow pages
// starting at page first. The chain is bounded by the value's length and
// the file's page count, so a loop in it ends.
func (b *bdbReader) overflow(first, total uint32) ([]byte, error) {
	if total > bdbMaxHeader {
		return nil, fmt.Errorf("%w: a %d byte value is over the %d byte limit", errBDBFormat, total, bdbMaxHeader)
	}
	if b.budget -= int64(total); b.budget < 0 {
		return nil, fmt.Errorf("%w: values add up to more than the file (chains share pages)", errBDBFormat)
	}
	out := make([]byte, 0, total)
	buf := make([]byte, b.pageSize)
	for n, hops := first, uint32(0); len(out) < int(total); hops++ {
		if n == 0 || hops > b.lastPage {
			return nil, fmt.Errorf("%w: overflow chain from page %d ends after %d of %d bytes", errBDBFormat, first, len(out), total)
		}
		if err := b.page(n, buf); err != nil {
			return nil, err
		}
		if buf[25] != bdbTypeOverflow {
			return nil, fmt.Errorf("%w: overflow chain from page %d reaches page %d of type %d", errBDBFormat, first, n, buf[25])
		}
		count := int(b.order.Uint16(buf[22:]))
		if count > len(buf)-bdbPageHeaderSize || len(out)+count > int(total) {
			return nil, fmt.Errorf("%w: overflow page %d holds %d bytes", errBDBFormat, n, count)
		}
		out = append(out, buf[bdbPageHeaderSize:bdbPageHeaderSize+count]...)
		n = b.order.Uint32(buf[16:])
	}
	return out, nil
}

// readRPMBDB decodes every header in a Berkeley DB rpm database. Headers
// that do not decode are returned as problems, not errors; so is the rest
// of a database whose structure breaks part way.
func readRPMBDB(name string) ([]*rpmPackage, []string, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, fmt.Errorf("open rpmdb %s: %w", name, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("open rpmdb %s: %w", name, err)
	}
	if st.Size() > bdbMaxFile {
		return nil, nil, fmt.Errorf("read rpmdb %s: %d bytes is over the %d byte limit", name, st.Size(), int64(bdbMaxFile))
	}
	db, err := openBDB(f, st.Size())
	if err != nil {
		return nil, nil, fmt.Errorf("read rpmdb %s: %w", name, err)
	}
	var (
		pkgs []*rpmPackage
		bad  []string
		n    int
	)
	err = db.values(func(v []byte) {
		n++
		if len(v) == 4 {
			return // key 0: the next header number, not a header
		}
		p, err := decodeRPMPackage(v)
		if err != nil {
			bad = append(bad, fmt.Sprintf("rpm header %d in %s is malformed: %v", n, name, err))
			return
		}
		pkgs = append(pkgs, p)
	})
	if err != nil {
		if len(pkgs) == 0 && len(bad) == 0 {
			return nil, nil, fmt.Errorf("read rpmdb %s: %w", name, err)
		}
		bad = append(bad, fmt.Sprintf("rpmdb %s is damaged after %d headers: %v", name, n, err))
	}
	return pkgs, bad, nil
}
