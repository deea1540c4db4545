package forward

import (
	"fmt"
	"os"
	"strconv"

	"github.com/argus-sensor/argus-sensor/forward/spool"
)

// Local sink defaults.
const (
	DefaultFileMaxBytes = 100 << 20
	DefaultFileKeep     = 5
	localBufBytes       = 256 << 10
)

// localWriter writes newline-terminated records to stdout or a file,
// rotating the file by size. It is used by one goroutine only.
type localWriter struct {
	path     string // "" for stdout
	f        *os.File
	size     int64
	maxBytes int64
	keep     int
	buf      []byte
}

func openStdout() *localWriter {
	return &localWriter{f: os.Stdout, maxBytes: -1, buf: make([]byte, 0, localBufBytes)}
}

// openFile opens path for appending, creating it 0600 and forcing 0600 on
// an existing file: records name users, commands and hosts.
func openFile(path string, o FileOptions) (*localWriter, error) {
	w := &localWriter{path: path, maxBytes: o.MaxBytes, keep: o.Keep, buf: make([]byte, 0, localBufBytes)}
	if w.maxBytes == 0 {
		w.maxBytes = DefaultFileMaxBytes
	}
	if o.Keep == 0 {
		w.keep = DefaultFileKeep
	}
	if err := w.open(); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *localWriter) open() error {
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open output file %s: %w", w.path, err)
	}
	st, err := f.Stat()
	if err == nil {
		err = f.Chmod(0o600)
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("open output file %s: %w", w.path, err)
	}
	w.f, w.size = f, st.Size()
	return nil
}

// write writes one queue batch and returns the records and bytes
// written. A record that does not fit the current file starts the next
// one; the file is never cut inside a record.
func (w *localWriter) write(batch []byte) (records, bytes int, err error) {
	err = spool.EachFrame(batch, func(rec []byte) error {
		if w.maxBytes > 0 && w.size+int64(len(w.buf)) > 0 &&
			w.size+int64(len(w.buf)+len(rec)+1) > w.maxBytes {
			if err := w.rotate(); err != nil {
				return err
			}
		}
		w.buf = append(w.buf, rec...)
		w.buf = append(w.buf, '\n')
		records++
		bytes += len(rec) + 1
		if len(w.buf) >= localBufBytes {
			return w.flush()
		}
		return nil
	})
	if err == nil {
		err = w.flush()
	}
	return records, bytes, err
}

func (w *localWriter) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	n, err := w.f.Write(w.buf)
	w.size += int64(n)
	w.buf = w.buf[:0]
	if err != nil {
		return fmt.Errorf("write %s: %w", w.name(), err)
	}
	return nil
}

// rotate renames PATH to PATH.1, shifting older files up and deleting
// the one past keep. The closed file is fsynced first so a rotated file
// is complete on disk.
func (w *localWriter) rotate() error {
	if err := w.flush(); err != nil {
		return err
	}
	w.f.Sync()
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("rotate %s: %w", w.path, err)
	}
	if w.keep > 0 {
		os.Remove(w.path + "." + strconv.Itoa(w.keep))
		for i := w.keep - 1; i >= 1; i-- {
			os.Rename(w.path+"."+strconv.Itoa(i), w.path+"."+strconv.Itoa(i+1))
		}
		if err := os.Rename(w.path, w.path+".1"); err != nil {
			return fmt.Errorf("rotate %s: %w", w.path, err)
		}
	} else if err := os.Remove(w.path); err != nil {
		return fmt.Errorf("rotate %s: %w", w.path, err)
	}
	return w.open()
}

func (w *localWriter) close() error {
	err := w.flush()
	if w.path == "" {
		return err
	}
	if serr := w.f.Sync(); err == nil {
		err = serr
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	return err
}

func (w *localWriter) name() string {
	if w.path == "" {
		return "stdout"
	}
	return w.path
}
