// Package capture reads packet captures (pcap and pcapng, written by tcpdump,
// tshark, dumpcap or any other tool following the formats) without cgo or
// third-party packet libraries, and walks each captured frame down to the
// Mobility Header messages it carries:
//
//   - IPv6 with next header 135, through extension headers (Hop-by-Hop,
//     Destination Options with a Home Address option, routing headers
//     including the type 2 routing header, Fragment, AH);
//   - IPv4 or IPv6 UDP port 4191 (RFC 5555 section 4.1: the UDP payload is an
//     IPv6 packet, or a TLV header followed by one);
//   - UDP port 5436 (RFC 5844 section 3: the Mobility Header directly in UDP,
//     used between a MAG and an LMA over an IPv4 transport network);
//   - IPv6-in-IPv6 and IPv6-in-IPv4 tunnels (RFC 2473, RFC 4213).
//
// Link types: Ethernet (with 802.1Q/802.1ad tags), BSD loopback (null and
// loop), raw IP (101, 228, 229) and Linux cooked captures (SLL, SLL2).
//
// A frame that cannot be decoded yields a Frame with Err set; reading goes on
// with the next one. Only a damaged file structure stops the Reader.
package capture
