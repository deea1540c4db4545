package enrich

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/argus-sensor/argus-sensor/event"
	"github.com/argus-sensor/argus-sensor/sensor"
	"github.com/argus-sensor/argus-sensor/snapshot"
)

// Seed puts the processes running when the sensor started into the
// table, starts their hashes, and queues a process_launch record for each,
// with process.source "procfs" and the time of the snapshot: the rules
// then treat a process older than the sensor as launched when the sensor
// first saw it, so an implant that predates the sensor is still caught
// when it connects.
func (e *Enricher) Seed(procs []snapshot.Process, now time.Time) {
	e.enqueue(e.seed(procs, now, e.items[:0]))
}

// SeedConnections queues a network_connection record, with
// network.source "sock_diag", for each connection that was already open
// when the sensor started. owners maps socket inodes to pids; a socket
// held by no process the table knows is reported with what the socket
// itself says.
func (e *Enricher) SeedConnections(conns []snapshot.Conn, owners map[uint64]uint32, netns uint32, now time.Time) {
	e.enqueue(e.seedConnections(conns, owners, netns, now, e.items[:0]))
}

// seed is Seed, appending the records to out.
func (e *Enricher) seed(procs []snapshot.Process, now time.Time, out []Item) []Item {
	seeded := make([]*Proc, 0, len(procs))
	for _, sp := range procs {
		p := &Proc{
			PID: sp.PID, StartNs: sp.StartNs, coarseStart: true, PPID: sp.PPID, UID: sp.UID, GID: sp.GID,
			Comm: sp.Comm, ExePath: sp.ExePath, HaveExe: sp.HaveExe, Args: sp.Args, Cwd: sp.Cwd, Source: SourceProcfs,
			Exe: sensor.File{
				Dev: sp.Exe.Dev, Ino: sp.Exe.Ino, Size: sp.Exe.Size, MtimeNs: sp.Exe.MtimeNs, CtimeNs: sp.Exe.CtimeNs,
				Nlink: sp.Nlink, Deleted: sp.Deleted, Memfd: sp.Memfd,
			},
		}
		e.add(p)
		seeded = append(seeded, p)
	}
	for i, p := range seeded {
		p.Ancestors = e.ancestors(p.PPID)
		e.track(p, 0)
		r := &event.Record{
			Schema: event.Schema,
			ID:     fmt.Sprintf("%s-seed-%x-%x-%d", e.bootPrefix(), p.StartNs, p.PID, i),
			Kind:   event.KindProcessLaunch,
			Time:   now.UTC(),
			Host:   e.host,
		}
		t := sensor.Task{StartNs: p.StartNs, PPID: p.PPID, UID: p.UID, GID: p.GID, EUID: p.UID, EGID: p.GID, AUID: 0xffffffff, Comm: p.Comm}
		r.Process = e.process(p, &t, p.PID, p.Exe, "")
		r.Process.Ancestors = p.Ancestors
		out = append(out, Item{Rec: r, proc: p})
	}
	return out
}

// seedConnections is SeedConnections, appending the records to out.
func (e *Enricher) seedConnections(conns []snapshot.Conn, owners map[uint64]uint32, netns uint32, now time.Time, out []Item) []Item {
	for i, c := range conns {
		r := &event.Record{
			Schema: event.Schema,
			ID:     fmt.Sprintf("%s-sockdiag-%x-%x-%d", e.bootPrefix(), now.UnixNano(), c.Inode, i),
			Kind:   event.KindNetworkConnection,
			Time:   now.UTC(),
			Host:   e.host,
			Network: &event.Network{
				DstIP: c.Dst.Addr().String(), DstPort: c.Dst.Port(),
				SrcIP: c.Src.Addr().String(), SrcPort: c.Src.Port(),
				Result: "established", NetNS: netns, Source: "sock_diag",
			},
		}
		n := r.Network
		n.Protocol = protocolName(uint16(c.Protocol))
		n.Family = "ipv4"
		if c.Family == unix.AF_INET6 {
			n.Family = "ipv6"
		}
		if c.State == 2 { // TCP_SYN_SENT
			n.Result = "EINPROGRESS"
		}
		if e.opts.Networks != nil {
			ext := e.opts.Networks.External(c.Dst.Addr())
			n.External = &ext
		}
		var p *Proc
		if pid, ok := owners[c.Inode]; ok {
			p, _ = e.procs.Peek(pid)
		}
		if p == nil {
			p = &Proc{Source: SourceKernel}
		}
		t := sensor.Task{StartNs: p.StartNs, PPID: p.PPID, UID: c.UID, GID: p.GID, EUID: c.UID, EGID: p.GID, AUID: 0xffffffff, Comm: p.Comm}
		r.Process = e.process(p, &t, p.PID, p.Exe, "")
		out = append(out, Item{Rec: r, proc: p})
	}
	return out
}

func (e *Enricher) bootPrefix() string {
	if len(e.host.BootID) > 8 {
		return e.host.BootID[:8]
	}
	return e.host.BootID
}
