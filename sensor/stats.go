package sensor

import (
	"fmt"
	"time"
)

// Stats are the sensor's loss and throughput counters since load.
type Stats struct {
	// Emitted counts records the kernel wrote to the ring, by kind.
	Emitted map[Kind]uint64
	// Lost counts records the kernel could not write because the ring was
	// full, by kind (BPF ringbuf output failures, counted per CPU).
	Lost map[Kind]uint64
	// PendingFull counts connects not recorded because the legacy hooks'
	// enter-to-exit stash was full.
	PendingFull uint64
	// ScratchMissing counts exec records abandoned for want of per-CPU
	// scratch space; it should stay zero.
	ScratchMissing uint64
	// DatagramsFolded counts datagrams sent to a (socket, destination)
	// whose first datagram already has its connection record. They are
	// not lost: each pair is reported once, not per datagram.
	DatagramsFolded uint64
	// ConnectsFolded counts connects identical to one reported within
	// Options.FoldInterval: counted in the kernel, reported in a summary
	// record (FoldSummaries), not sent one by one. ConnectsUnfolded
	// counts foldable connects sent on their own because the fold map
	// was full (or another CPU's identical record came first).
	ConnectsFolded   uint64
	ConnectsUnfolded uint64
	// FoldSummaries counts the summary records the reader made from fold
	// entries; FoldErrors the flushes and deletes of entries that failed.
	FoldSummaries uint64
	FoldErrors    uint64
	// DNSRateLimited counts DNS responses the in-kernel rate limit kept
	// out of the ring (counted, not copied); DNSSkipped counts port 53
	// TCP segments that did not hold one whole message, which the hook
	// does not reassemble.
	DNSRateLimited uint64
	DNSSkipped     uint64
	// LibrariesTrusted counts executable file mappings the kernel did not
	// report because userspace had judged the file trusted (TrustLibrary);
	// LibrariesRepeated those of a file the process had already mapped.
	LibrariesTrusted  uint64
	LibrariesRepeated uint64
	// ExecFilesFull counts execs the kernel could not note as their
	// process's executed file (exec_files full): a relabel by such a
	// process is told by userspace alone, from its exec record.
	ExecFilesFull uint64

	// Read counts records decoded by the reader, by kind.
	Read map[Kind]uint64
	// Dropped counts decoded events discarded because the Events channel
	// was full: the consumer fell behind.
	Dropped uint64
	// DroppedForBytes counts the records of Dropped that the size bound
	// (Options.QueueBytes) turned away, not the channel's length.
	DroppedForBytes uint64
	// DroppedForShare counts the records of Dropped shed from a flood:
	// connects to non-public addresses by a process that held its share
	// of a queue past three quarters full (see Sensor.queue).
	DroppedForShare uint64
	// DroppedTrusted counts the records of Dropped shed first as a trusted
	// program's connects, past three quarters full (see Sensor.TrustExe).
	DroppedTrusted uint64
	// DecodeErrors counts records that failed to decode; LastDecodeError
	// says why the last one did.
	DecodeErrors    uint64
	LastDecodeError string

	RingBytes   int   // ring buffer size
	RingPending int   // bytes queued in the ring now
	QueueLen    int   // events waiting in the Events channel now
	QueueBytes  int64 // their size, as QueueBytes counts it
	// LastDrain is when the reader last found the ring empty, or last
	// read another 1024 records from it.
	LastDrain time.Time
}

// KernelLost is every record the kernel failed to deliver.
func (s Stats) KernelLost() uint64 {
	n := s.PendingFull + s.ScratchMissing
	for _, v := range s.Lost {
		n += v
	}
	return n
}

var statSlots = []struct {
	kind          Kind
	emitted, lost execStatIndex
}{
	{KindExec, execStatIndexSTAT_EXEC_EMITTED, execStatIndexSTAT_EXEC_LOST},
	{KindExit, execStatIndexSTAT_EXIT_EMITTED, execStatIndexSTAT_EXIT_LOST},
	{KindFork, execStatIndexSTAT_FORK_EMITTED, execStatIndexSTAT_FORK_LOST},
	{KindConnect, execStatIndexSTAT_CONNECT_EMITTED, execStatIndexSTAT_CONNECT_LOST},
	{KindDNS, execStatIndexSTAT_DNS_EMITTED, execStatIndexSTAT_DNS_LOST},
	{KindLibrary, execStatIndexSTAT_LIBRARY_EMITTED, execStatIndexSTAT_LIBRARY_LOST},
	{KindCgroup, execStatIndexSTAT_CGROUP_EMITTED, execStatIndexSTAT_CGROUP_LOST},
}

// Stats reads the kernel counters and the reader's own.
func (s *Sensor) Stats() (Stats, error) {
	st := Stats{
		Emitted:         map[Kind]uint64{},
		Lost:            map[Kind]uint64{},
		Read:            map[Kind]uint64{},
		Dropped:         s.dropped.Load(),
		DecodeErrors:    s.decodeErrors.Load(),
		RingBytes:       s.opts.RingBytes,
		QueueLen:        len(s.out),
		QueueBytes:      s.queuedBytes.Load(),
		DroppedForBytes: s.droppedBytes.Load(),
		DroppedForShare: s.droppedShare.Load(),
		DroppedTrusted:  s.droppedTrust.Load(),
		LastDrain:       time.Unix(0, s.lastRead.Load()),
	}
	kernel := make([]uint64, execStatIndexSTAT_MAX)
	for i := range kernel {
		var perCPU []uint64
		if err := s.exec.Stats.Lookup(uint32(i), &perCPU); err != nil {
			return st, fmt.Errorf("read kernel stats slot %d: %w", i, err)
		}
		for _, v := range perCPU {
			kernel[i] += v
		}
	}
	for _, slot := range statSlots {
		st.Emitted[slot.kind] = kernel[slot.emitted]
		st.Lost[slot.kind] = kernel[slot.lost]
		st.Read[slot.kind] = s.read[slot.kind].Load()
	}
	st.PendingFull = kernel[execStatIndexSTAT_CONNECT_PENDING_FULL]
	st.ScratchMissing = kernel[execStatIndexSTAT_SCRATCH_MISSING]
	st.DatagramsFolded = kernel[execStatIndexSTAT_DATAGRAM_FOLDED]
	st.ConnectsFolded = kernel[execStatIndexSTAT_CONNECT_FOLDED]
	st.ConnectsUnfolded = kernel[execStatIndexSTAT_CONNECT_UNFOLDED]
	st.FoldSummaries = s.fold.summaries.Load()
	st.FoldErrors = s.fold.errors.Load()
	st.DNSRateLimited = kernel[execStatIndexSTAT_DNS_RATE_LIMITED]
	st.DNSSkipped = kernel[execStatIndexSTAT_DNS_SKIPPED]
	st.LibrariesTrusted = kernel[execStatIndexSTAT_LIBRARY_TRUSTED]
	st.LibrariesRepeated = kernel[execStatIndexSTAT_LIBRARY_REPEATED]
	st.ExecFilesFull = kernel[execStatIndexSTAT_EXEC_FILES_FULL]
	if s.reader != nil {
		st.RingPending = s.reader.AvailableBytes()
	}
	s.lastDecodeMu.Lock()
	if s.lastDecode != nil {
		st.LastDecodeError = s.lastDecode.Error()
	}
	s.lastDecodeMu.Unlock()
	return st, nil
}
