package format

import (
	"strconv"
	"strings"
)

// dnsTypes numbers the record types argus names by mnemonic (RFC 1035,
// 3596, 9460, ...): UDM carries types as numbers.
var dnsTypes = map[string]uint16{
	"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "HINFO": 13, "MX": 15, "TXT": 16, "AAAA": 28,
	"SRV": 33, "NAPTR": 35, "OPT": 41, "DS": 43, "RRSIG": 46, "NSEC": 47, "DNSKEY": 48, "NSEC3": 50,
	"SVCB": 64, "HTTPS": 65, "AXFR": 252, "ALL": 255, "ANY": 255, "CAA": 257,
}

// dnsTypeNumber is the number of a type mnemonic, or of "TYPE<n>"; 0 when
// neither.
func dnsTypeNumber(t string) uint16 {
	if n, ok := dnsTypes[t]; ok {
		return n
	}
	if rest, ok := strings.CutPrefix(t, "TYPE"); ok {
		if n, err := strconv.ParseUint(rest, 10, 16); err == nil {
			return uint16(n)
		}
	}
	return 0
}

var dnsRCodes = map[string]uint16{"NOERROR": 0, "FORMERR": 1, "SERVFAIL": 2, "NXDOMAIN": 3, "NOTIMP": 4, "REFUSED": 5}

// dnsRCodeNumber is the number of a response code name, or of
// "RCODE<n>"; 2 (SERVFAIL) for anything else.
func dnsRCodeNumber(c string) uint16 {
	if n, ok := dnsRCodes[c]; ok {
		return n
	}
	if rest, ok := strings.CutPrefix(c, "RCODE"); ok {
		if n, err := strconv.ParseUint(rest, 10, 16); err == nil {
			return uint16(n)
		}
	}
	return 2
}
