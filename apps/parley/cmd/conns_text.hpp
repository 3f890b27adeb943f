#pragma once
// Text pieces of `parley conns`: addresses, names made safe for a terminal, display widths, and
// ss's notation for timers (-o), socket memory (-m) and TCP internals (-i). Everything appends
// to a caller's string, so a listing of 20,000 sockets formats without allocating per cell.
// Pure functions; any thread (display_width() initialises a locale once, thread-safely).

#include <cstdint>
#include <string>
#include <string_view>

#include "parley/socket_table.hpp"

namespace parley::cmd {

// 127.0.0.1, ::1 (RFC 5952, as inet_ntop writes it: ::ffff:127.0.0.1 for v4-mapped).
void append_address(std::string* out, int family, const std::uint8_t* addr);
void append_number(std::string* out, std::uint64_t v);

// A name or path as the terminal should see it: control bytes (and DEL) as \xHH, a backslash
// as \\, bytes that are not UTF-8 as \xHH; valid UTF-8 unchanged.
void append_escaped(std::string* out, std::string_view s);
// Terminal columns s takes (wide characters 2, combining ones 0).
std::size_t display_width(std::string_view s);
bool valid_utf8(std::string_view s);
std::string hex_bytes(std::string_view s);

// ss's forms: "timer:(keepalive,7.2sec,0)" (nothing when off), "skmem:(r0,rb131072,...)",
// "cubic wscale:7,7 rto:204 rtt:0.035/0.017 ... bytes_sent:100 bytes_acked:101 ..."
// (with_options: the "ts sack ecn" flags that ss shows with -o; numeric: bit rates as plain
// numbers, as ss -n does).
void append_timer(std::string* out, Timer timer, std::uint32_t expires_ms, unsigned retrans);
void append_skmem(std::string* out, const SkMem& m);
void append_tcp_info(std::string* out, const TcpInfo& i, std::string_view congestion, int state,
                     bool with_options, bool numeric);
// ss's print_ms_timer: "7.200sec" -> "7.2sec", "1min20sec", "200ms".
void append_ms_timer(std::string* out, std::uint32_t ms);

}  // namespace parley::cmd
