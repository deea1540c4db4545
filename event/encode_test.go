package event

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	cases := []string{
		"", "plain", `quote " and \ backslash`, "tab\tnew\nline\r", "\x00\x01\x1f\x7f",
		"<script>&amp;</script>", "ünïcödé ✓ 🚀", "\u2028\u2029", "bad \xff\xfe utf8 \xc3", "\xed\xa0\x80",
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		cases = append(cases, randString(r))
	}
	for _, s := range cases {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("AppendString(%q) = %s, encoding/json gives %s", s, got, want)
		}
	}
}

// TestAppendStringWordBoundaries: AppendEscaped tests eight bytes at a
// time; every byte that needs care, at every offset of a word and of the
// tail, is still escaped as encoding/json escapes it.
func TestAppendStringWordBoundaries(t *testing.T) {
	specials := []string{"\x00", "\x1f", " ", "~", "\x7f", `"`, `\`, "<", ">", "&", "é", "\xff", "\u2028", "🚀"}
	for n := 1; n <= 19; n++ {
		for at := 0; at < n; at++ {
			for _, sp := range specials {
				s := strings.Repeat("a", at) + sp + strings.Repeat("b", n-at-1)
				want, _ := json.Marshal(s)
				if got := AppendString(nil, s); !bytes.Equal(got, want) {
					t.Fatalf("AppendString(%q) = %s, encoding/json gives %s", s, got, want)
				}
			}
		}
	}
}

// FuzzAppendString: any bytes are escaped as encoding/json escapes them.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"plain/path/of/some/length", "argv with \"quotes\" and \\", "bad \xff utf8 \xc3", "\u2028<&>\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("AppendString(%q) = %s, encoding/json gives %s", s, got, want)
		}
	})
}

func TestAppendJSONRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 500 {
		rec := randRecord(r)
		out := rec.AppendJSON(nil)
		if !json.Valid(out) {
			t.Fatalf("record %d: invalid JSON: %s", i, out)
		}
		var got Record
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("record %d: decode: %v\n%s", i, err, out)
		}
		// What encoding/json makes of the same record is the reference.
		ref, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		var want Record
		if err := json.Unmarshal(ref, &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("record %d differs from encoding/json:\nfast: %s\nref:  %s", i, out, ref)
		}
	}
}

func TestTimeHasNineDigitsInUTC(t *testing.T) {
	loc := time.FixedZone("X", 3600)
	rec := Record{Schema: Schema, Kind: KindSensorHealth, Time: time.Date(2026, 1, 2, 3, 4, 5, 1000, loc)}
	out := string(rec.AppendJSON(nil))
	if want := `"time":"2026-01-02T02:04:05.000001000Z"`; !bytes.Contains([]byte(out), []byte(want)) {
		t.Fatalf("got %s, want it to contain %s", out, want)
	}
}

func TestAppendTimeMatchesLayout(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	zones := []*time.Location{time.UTC, time.FixedZone("A", -7*3600), time.FixedZone("B", 5*3600+1800)}
	for range 10000 {
		tm := time.Unix(r.Int64N(253402300799), r.Int64N(1e9)).In(zones[r.IntN(len(zones))])
		if got, want := string(AppendTime(nil, tm)), tm.UTC().Format(TimeLayout); got != want {
			t.Fatalf("AppendTime(%v) = %s, want %s", tm, got, want)
		}
	}
	for _, tm := range []time.Time{{}, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC)} {
		if got, want := string(AppendTime(nil, tm)), tm.UTC().Format(TimeLayout); got != want {
			t.Errorf("AppendTime(%v) = %s, want %s", tm, got, want)
		}
	}
}

func randString(r *rand.Rand) string {
	n := r.IntN(24)
	b := make([]byte, n)
	for i := range b {
		switch r.IntN(4) {
		case 0:
			b[i] = byte(r.IntN(256))
		default:
			b[i] = byte(0x20 + r.IntN(0x5f))
		}
	}
	if r.IntN(5) == 0 {
		return string(b) + "é\u2028"
	}
	return string(b)
}

func randRecord(r *rand.Rand) *Record {
	rec := &Record{
		Schema: Schema,
		ID:     randString(r),
		Kind:   []Kind{KindProcessLaunch, KindNetworkConnection, KindSensorHealth, KindHashUpdate, KindDetection}[r.IntN(5)],
		Time:   time.Unix(r.Int64N(4e9), r.Int64N(1e9)).UTC(),
		Host:   Host{Hostname: randString(r)},
	}
	if r.IntN(2) == 0 {
		rec.Host.BootID = randString(r)
	}
	if r.IntN(3) == 0 {
		rec.RefID = randString(r)
	}
	if rec.Kind != KindSensorHealth && rec.Kind != KindDetection {
		p := &Process{
			PID: r.Uint32(), TID: r.Uint32() % 3, PPID: r.Uint32(), UID: r.Uint32(), GID: r.Uint32(),
			EUID: r.Uint32(), EGID: r.Uint32(), StartTimeNs: r.Uint64(), Comm: randString(r),
			ArgsTruncated: r.IntN(2) == 0, Cwd: randString(r), CwdTruncated: r.IntN(2) == 0,
			CgroupID: r.Uint64() % 4, Source: []string{"", "exec", "procfs"}[r.IntN(3)],
			Exe: Exe{
				Path: randString(r), PathTruncated: r.IntN(2) == 0, InvokedAs: randString(r),
				Device: r.Uint64(), Inode: r.Uint64(), Size: r.Int64() - r.Int64(), MtimeNs: r.Int64(),
				CtimeNs: -r.Int64(), Nlink: r.Uint32(), Mode: r.Uint32(), UID: r.Uint32(),
				Memfd: r.IntN(2) == 0, Deleted: r.IntN(2) == 0,
				SHA256: randString(r), HashStatus: randString(r), Trust: randTrust(r), PathClasses: randStrings(r),
			},
		}
		p.Exe.AgeSeconds, p.Exe.AgeSource, p.Exe.Prevalence = randAge(r)
		if r.IntN(2) == 0 {
			p.Script = &Script{Path: randString(r), SHA256: randString(r), HashStatus: randString(r),
				PathClasses: randStrings(r), Trust: randTrust(r)}
			p.Script.AgeSeconds, p.Script.AgeSource, p.Script.Prevalence = randAge(r)
		}
		if r.IntN(2) == 0 {
			a := r.Uint32()
			p.AUID = &a
		}
		if n := r.IntN(4); n > 0 {
			for range n - 1 {
				p.Args = append(p.Args, randString(r))
			}
			if p.Args == nil {
				p.Args = []string{}
			}
		}
		if r.IntN(2) == 0 {
			p.Parent = &Parent{PID: r.Uint32(), Comm: randString(r), Exe: ParentExe{Path: randString(r)}}
		}
		for range r.IntN(3) {
			p.Ancestors = append(p.Ancestors, Ancestor{PID: r.Uint32(), ExePath: randString(r), Args: randStrings(r)})
		}
		rec.Process = p
	}
	if rec.Kind == KindNetworkConnection {
		rec.Network = &Network{
			Protocol: "tcp", Family: "ipv6", DstIP: randString(r), DstPort: uint16(r.Uint32()),
			SrcIP: randString(r), SrcPort: uint16(r.Uint32()), Result: randString(r),
			ResultCode: -r.Int32N(200), NetNS: r.Uint32() % 2, Source: []string{"", "sock_diag"}[r.IntN(2)],
			Via: []string{"", "connect", "io_uring_sendmsg32"}[r.IntN(3)],
		}
		if r.IntN(3) > 0 {
			ext := r.IntN(2) == 0
			rec.Network.External = &ext
		}
	}
	if rec.Kind == KindSensorHealth {
		rec.Health = &Health{
			State: "running", EventsLost: r.Uint64(), EventsDropped: r.Uint64(),
			EventsByKind:    map[string]uint64{"exec": r.Uint64()},
			Hooks:           []HookState{{Name: "exec", Attach: "tp_btf/x", Attached: true}, {Name: "sockaddr_connect4", Attach: "cgroup/connect4", Optional: true, Error: "no cgroup v2"}},
			DatagramsFolded: r.Uint64() % 3,
		}
	}
	if rec.Kind == KindDetection {
		inner := randRecord(r)
		inner.Kind = KindProcessLaunch
		rec.Detection = &Detection{
			Rule: randString(r), Technique: "T1587", Techniques: randStrings(r), Tactic: "Resource Development",
			Severity: "HIGH", Summary: randString(r), Hostname: randString(r), SHA256: randString(r),
			WindowSeconds: 3600, Degraded: r.IntN(2) == 0, Events: []Record{*inner},
			FirstSeen: time.Unix(r.Int64N(4e9), 0).UTC(), LastSeen: time.Unix(r.Int64N(4e9), 0).UTC(),
			Connections: r.IntN(5), ProcessTree: []Ancestor{{PID: 1, ExePath: randString(r), Args: randStrings(r)}},
		}
	}
	return rec
}

func randTrust(r *rand.Rand) *Trust {
	if r.IntN(2) == 0 {
		return nil
	}
	return &Trust{Verdict: randString(r), Severity: randString(r), Package: randString(r), Signer: randString(r), Reason: randString(r)}
}

func randStrings(r *rand.Rand) []string {
	var ss []string
	for range r.IntN(3) {
		ss = append(ss, randString(r))
	}
	return ss
}

func BenchmarkAppendJSON(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	rec := randRecord(r)
	rec.Kind = KindNetworkConnection
	rec.Health = nil
	rec.Process = &Process{PID: 4242, PPID: 1, StartTimeNs: 123456789, Comm: "curl",
		Args: []string{"/usr/bin/curl", "-s", "https://example.org/"}, Cwd: "/home/user",
		Exe: Exe{Path: "/usr/bin/curl", Device: 65024, Inode: 123456, Size: 260328}}
	rec.Network = &Network{Protocol: "tcp", Family: "ipv4", DstIP: "192.0.2.1", DstPort: 443, Result: "success"}
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = rec.AppendJSON(buf[:0])
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkAppendEscaped: the strings records are mostly made of (paths,
// argv), which need no escaping, against the byte-at-a-time loop it
// replaced, in the same run (-count interleaves the two).
func BenchmarkAppendEscaped(b *testing.B) {
	s := "/root/.pyenv/versions/3.11.7/lib/python3.11/lib-dynload/zlib.cpython-311-x86_64-linux-gnu.so"
	for _, impl := range []struct {
		name string
		f    func([]byte, string) []byte
	}{{"bytewise", appendEscapedBytewise}, {"words", AppendEscaped}} {
		b.Run(impl.name, func(b *testing.B) {
			buf := make([]byte, 0, 256)
			b.SetBytes(int64(len(s)))
			for b.Loop() {
				buf = impl.f(buf[:0], s)
			}
		})
	}
}

// appendEscapedBytewise is AppendEscaped's plain-ASCII test one byte at a
// time, as it was before plain8: the baseline of BenchmarkAppendEscaped.
func appendEscapedBytewise(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c >= 0x20 && c < utf8.RuneSelf && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
			i++
			continue
		}
		b = AppendEscaped(append(b, s[start:i]...), s[i:i+1])
		i++
		start = i
	}
	return append(b, s[start:]...)
}

func BenchmarkEncodingJSON(b *testing.B) {
	rec := &Record{Schema: Schema, Kind: KindNetworkConnection, Time: time.Now(),
		Process: &Process{PID: 4242, PPID: 1, StartTimeNs: 123456789, Comm: "curl",
			Args: []string{"/usr/bin/curl", "-s", "https://example.org/"}, Cwd: "/home/user",
			Exe: Exe{Path: "/usr/bin/curl", Device: 65024, Inode: 123456, Size: 260328}},
		Network: &Network{Protocol: "tcp", Family: "ipv4", DstIP: "192.0.2.1", DstPort: 443, Result: "success"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(rec); err != nil {
			b.Fatal(err)
		}
	}
}

func randAge(r *rand.Rand) (*int64, string, *Prevalence) {
	var age *int64
	if r.IntN(2) == 0 {
		a := r.Int64N(1 << 40)
		age = &a
	}
	var p *Prevalence
	if r.IntN(2) == 0 {
		p = &Prevalence{FirstSeen: time.Unix(r.Int64N(4e9), r.Int64N(1e9)).UTC(), Executions: r.Uint64(),
			FirstExecution: r.IntN(2) == 0, ConnectedOutside: r.IntN(2) == 0,
			TrackedSince: time.Unix(r.Int64N(4e9), r.Int64N(1e9)).UTC(), Key: []string{"", "file"}[r.IntN(2)]}
	}
	return age, []string{"", "btime", "ctime"}[r.IntN(3)], p
}
