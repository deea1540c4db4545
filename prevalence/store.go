package prevalence

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	_ "modernc.org/sqlite" // pure Go: the sensor stays a static binary
)

// FileName is the store's file in the state directory.
const FileName = "prevalence.db"

// schemaVersion changes when the table layout does; a store of another
// version is rebuilt.
const schemaVersion = "1"

// Defaults.
const (
	DefaultMaxEntries    = 100_000
	DefaultCacheEntries  = 8192
	DefaultFlushInterval = 2 * time.Second
	MaxPaths             = 8
	MaxParents           = 8
)

// Options tune a Store; zero values take the defaults.
type Options struct {
	MaxEntries    int
	CacheEntries  int
	FlushInterval time.Duration
	Logger        *slog.Logger
	// Now is the clock (tests); time.Now by default.
	Now func() time.Time
}

// Key names one binary: "sha256:" and the lowercase hex digest, or
// "file:" and its identity when it has no hash (FileKey).
type Key string

// SHA256Key is the key of a binary by content.
func SHA256Key(hex string) Key { return Key("sha256:" + hex) }

// FileKey is the key of a binary with no hash, by file identity: the same
// file (device, inode) not changed since (ctime).
func FileKey(dev, ino uint64, ctimeNs int64) Key {
	return Key("file:" + strconv.FormatUint(dev, 10) + ":" + strconv.FormatUint(ino, 10) + ":" + strconv.FormatInt(ctimeNs, 10))
}

// Result is what a record carries about a binary.
type Result struct {
	// FirstSeen is the first execution this host's store remembers.
	FirstSeen time.Time
	// Executions counts executions seen, this one included.
	Executions uint64
	// First is true when this record is the first execution seen.
	First bool
	// Connected is true when the binary ever connected outside.
	Connected bool
}

type entry struct {
	first, last int64 // unix ns
	execs       uint64
	connected   bool
	paths       []string
	parents     []string
}

// Stats are the store's counters.
type Stats struct {
	Entries     int64 // rows in the database after the last flush
	Bytes       int64 // database and write-ahead log on disk
	Evicted     uint64
	Flushes     uint64
	WriteErrors uint64
	CacheHits   uint64
	CacheMisses uint64
}

// Store is the prevalence store. Its methods are safe for concurrent use.
type Store struct {
	db   *sql.DB
	path string
	opts Options
	log  *slog.Logger

	// Rebuilt is why an existing store was set aside and a new one made,
	// "" when it opened cleanly or was new.
	Rebuilt string
	// TrackedSince is when this store was created: a first_seen at or near
	// it means "already here when tracking began", not "new".
	TrackedSince time.Time

	mu    sync.Mutex
	cache *lru.Cache[Key, *entry]
	dirty map[Key]*entry

	kick    chan struct{}
	done    chan struct{}
	closeMu sync.Once
	wg      sync.WaitGroup

	entries                                   atomic.Int64
	evicted, flushes, writeErrs, hits, misses atomic.Uint64
	lastErrMu                                 sync.Mutex
	lastErr                                   error
}

// Open opens (or creates) the store in dir. A damaged store is moved
// aside and replaced, with Rebuilt saying why; only a directory that can't
// hold a new store is an error.
func Open(dir string, opts Options) (*Store, error) {
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = DefaultMaxEntries
	}
	if opts.CacheEntries <= 0 {
		opts.CacheEntries = DefaultCacheEntries
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = DefaultFlushInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	s := &Store{path: filepath.Join(dir, FileName), opts: opts, log: opts.Logger,
		dirty: map[Key]*entry{}, kick: make(chan struct{}, 1), done: make(chan struct{})}
	db, created, err := s.open()
	if err != nil {
		s.Rebuilt = err.Error()
		s.log.Warn("prevalence store damaged: rebuilding it", "path", s.path, "err", err)
		aside := fmt.Sprintf("%s.corrupt-%d", s.path, opts.Now().Unix())
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if rerr := os.Rename(s.path+suffix, aside+suffix); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
				return nil, fmt.Errorf("move damaged prevalence store aside: %w", rerr)
			}
		}
		if db, created, err = s.open(); err != nil {
			return nil, fmt.Errorf("create prevalence store: %w", err)
		}
	}
	_ = created
	s.db = db
	if s.cache, err = lru.New[Key, *entry](opts.CacheEntries); err != nil {
		db.Close()
		return nil, fmt.Errorf("prevalence cache: %w", err)
	}
	var n int64
	if err := db.QueryRow(`SELECT count(*) FROM bins`).Scan(&n); err != nil {
		db.Close()
		return nil, fmt.Errorf("count prevalence entries: %w", err)
	}
	s.entries.Store(n)
	s.wg.Add(1)
	go s.flusher()
	return s, nil
}

// open opens the database, creating the schema when it is new, and
// checks an existing one.
func (s *Store) open() (*sql.DB, bool, error) {
	_, statErr := os.Stat(s.path)
	created := errors.Is(statErr, os.ErrNotExist)
	dsn := "file:" + s.path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(5000)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, false, fmt.Errorf("open: %w", err)
	}
	db.SetMaxOpenConns(1) // one writer; reads are quick and serialised
	fail := func(op string, err error) (*sql.DB, bool, error) {
		db.Close()
		return nil, false, fmt.Errorf("%s: %w", op, err)
	}
	if !created {
		var res string
		if err := db.QueryRow(`PRAGMA quick_check`).Scan(&res); err != nil {
			return fail("quick_check", err)
		}
		if res != "ok" {
			return fail("quick_check", errors.New(res))
		}
	}
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS bins (
	key TEXT PRIMARY KEY,
	first_ns INTEGER NOT NULL,
	last_ns INTEGER NOT NULL,
	execs INTEGER NOT NULL,
	connected INTEGER NOT NULL,
	paths TEXT NOT NULL,
	parents TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS bins_last ON bins(last_ns);`); err != nil {
		return fail("create schema", err)
	}
	var version, since string
	err = db.QueryRow(`SELECT v FROM meta WHERE k = 'version'`).Scan(&version)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		now := strconv.FormatInt(s.opts.Now().UnixNano(), 10)
		if _, err := db.Exec(`INSERT INTO meta (k, v) VALUES ('version', ?), ('created_ns', ?)`, schemaVersion, now); err != nil {
			return fail("write schema version", err)
		}
	case err != nil:
		return fail("read schema version", err)
	case version != schemaVersion:
		return fail("schema version", fmt.Errorf("%q, want %q", version, schemaVersion))
	}
	if err := db.QueryRow(`SELECT v FROM meta WHERE k = 'created_ns'`).Scan(&since); err != nil {
		return fail("read creation time", err)
	}
	ns, err := strconv.ParseInt(since, 10, 64)
	if err != nil {
		return fail("read creation time", err)
	}
	s.TrackedSince = time.Unix(0, ns).UTC()
	return db, created, nil
}

// get returns the entry for k, from memory or the database; nil when the
// store has never seen k. s.mu is held.
func (s *Store) get(k Key) *entry {
	if e, ok := s.cache.Get(k); ok {
		s.hits.Add(1)
		return e
	}
	if e, ok := s.dirty[k]; ok {
		s.cache.Add(k, e)
		return e
	}
	s.misses.Add(1)
	var e entry
	var conn int
	var paths, parents string
	err := s.db.QueryRow(`SELECT first_ns, last_ns, execs, connected, paths, parents FROM bins WHERE key = ?`, string(k)).
		Scan(&e.first, &e.last, &e.execs, &conn, &paths, &parents)
	if err != nil {
		if !errors.Is(err, sql.ErrNoRows) {
			s.noteErr(fmt.Errorf("read prevalence entry: %w", err))
		}
		return nil
	}
	e.connected = conn != 0
	json.Unmarshal([]byte(paths), &e.paths)
	json.Unmarshal([]byte(parents), &e.parents)
	s.cache.Add(k, &e)
	return &e
}

// Observe records one execution of k at t, from path with parent
// executable parent, and returns the binary's prevalence including it.
func (s *Store) Observe(k Key, t time.Time, path, parent string) Result {
	ns := t.UnixNano()
	s.mu.Lock()
	e := s.get(k)
	first := e == nil
	if first {
		e = &entry{first: ns, last: ns}
		s.cache.Add(k, e)
	}
	e.execs++
	if ns > e.last {
		e.last = ns
	}
	if ns < e.first {
		e.first = ns
	}
	e.paths = addBounded(e.paths, path, MaxPaths)
	e.parents = addBounded(e.parents, parent, MaxParents)
	s.dirty[k] = e
	r := Result{FirstSeen: time.Unix(0, e.first).UTC(), Executions: e.execs, First: first, Connected: e.connected}
	n := len(s.dirty)
	s.mu.Unlock()
	if n >= 1024 {
		s.poke()
	}
	return r
}

// Lookup returns k's prevalence without counting an execution; false
// when the store has never seen it execute.
func (s *Store) Lookup(k Key) (Result, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.get(k)
	if e == nil {
		return Result{}, false
	}
	return Result{FirstSeen: time.Unix(0, e.first).UTC(), Executions: e.execs, Connected: e.connected}, true
}

// MarkConnected records that k connected outside. It does nothing for a
// key never seen executing.
func (s *Store) MarkConnected(k Key) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.get(k)
	if e == nil || e.connected {
		return
	}
	e.connected = true
	s.dirty[k] = e
}

func addBounded(list []string, v string, max int) []string {
	if v == "" || len(list) >= max {
		return list
	}
	for _, x := range list {
		if x == v {
			return list
		}
	}
	return append(list, v)
}

func (s *Store) poke() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

func (s *Store) flusher() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		case <-s.kick:
		}
		s.Flush()
	}
}

type row struct {
	k Key
	e entry
}

// Flush writes every dirty entry in one transaction, then trims the store
// to its bound. The record path never calls it; the background flusher
// and Close do.
func (s *Store) Flush() error {
	s.mu.Lock()
	if len(s.dirty) == 0 {
		s.mu.Unlock()
		return nil
	}
	rows := make([]row, 0, len(s.dirty))
	for k, e := range s.dirty {
		c := *e
		c.paths = append([]string(nil), e.paths...)
		c.parents = append([]string(nil), e.parents...)
		rows = append(rows, row{k, c})
	}
	clear(s.dirty)
	s.mu.Unlock()

	if err := s.write(rows); err != nil {
		s.writeErrs.Add(1)
		s.noteErr(err)
		// Put them back: the next flush tries again, unless newer counts
		// for the key are already waiting.
		s.mu.Lock()
		for _, r := range rows {
			if _, ok := s.dirty[r.k]; !ok {
				e := r.e
				s.dirty[r.k] = &e
			}
		}
		s.mu.Unlock()
		return err
	}
	s.flushes.Add(1)
	return s.trim()
}

func (s *Store) write(rows []row) error {
	ctx := context.Background()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin prevalence flush: %w", err)
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, `INSERT INTO bins (key, first_ns, last_ns, execs, connected, paths, parents)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(key) DO UPDATE SET first_ns = min(first_ns, excluded.first_ns), last_ns = max(last_ns, excluded.last_ns),
	execs = max(execs, excluded.execs), connected = max(connected, excluded.connected),
	paths = excluded.paths, parents = excluded.parents`)
	if err != nil {
		return fmt.Errorf("prepare prevalence flush: %w", err)
	}
	defer st.Close()
	for _, r := range rows {
		paths, _ := json.Marshal(nonNil(r.e.paths))
		parents, _ := json.Marshal(nonNil(r.e.parents))
		conn := 0
		if r.e.connected {
			conn = 1
		}
		if _, err := st.ExecContext(ctx, string(r.k), r.e.first, r.e.last, int64(r.e.execs), conn, string(paths), string(parents)); err != nil {
			return fmt.Errorf("write prevalence entry: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit prevalence flush: %w", err)
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// trim deletes the least recently seen rows past the bound.
func (s *Store) trim() error {
	var n int64
	if err := s.db.QueryRow(`SELECT count(*) FROM bins`).Scan(&n); err != nil {
		return fmt.Errorf("count prevalence entries: %w", err)
	}
	if over := n - int64(s.opts.MaxEntries); over > 0 {
		res, err := s.db.Exec(`DELETE FROM bins WHERE key IN (SELECT key FROM bins ORDER BY last_ns ASC LIMIT ?)`, over)
		if err != nil {
			s.writeErrs.Add(1)
			return fmt.Errorf("evict prevalence entries: %w", err)
		}
		d, _ := res.RowsAffected()
		s.evicted.Add(uint64(d))
		n -= d
	}
	s.entries.Store(n)
	return nil
}

func (s *Store) noteErr(err error) {
	s.lastErrMu.Lock()
	first := s.lastErr == nil || s.lastErr.Error() != err.Error()
	s.lastErr = err
	s.lastErrMu.Unlock()
	if first {
		s.log.Warn("prevalence store", "err", err)
	}
}

// Stats returns the store's counters.
func (s *Store) Stats() Stats {
	st := Stats{Entries: s.entries.Load(), Evicted: s.evicted.Load(), Flushes: s.flushes.Load(),
		WriteErrors: s.writeErrs.Load(), CacheHits: s.hits.Load(), CacheMisses: s.misses.Load()}
	for _, suffix := range []string{"", "-wal"} {
		if fi, err := os.Stat(s.path + suffix); err == nil {
			st.Bytes += fi.Size()
		}
	}
	return st
}

// Close flushes what is pending and closes the database.
func (s *Store) Close() error {
	var err error
	s.closeMu.Do(func() {
		close(s.done)
		s.wg.Wait()
		err = s.Flush()
		if cerr := s.db.Close(); err == nil {
			err = cerr
		}
	})
	return err
}
