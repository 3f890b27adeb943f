#include "conns_text.hpp"

#include <locale.h>
#include <sys/socket.h>
#include <wchar.h>

#include <cstring>

#include <fmt/format.h>

namespace parley::cmd {
namespace {

const char kHex[] = "0123456789abcdef";

// Length of the UTF-8 sequence at s[i] if it is valid (1..4), else 0.
std::size_t utf8_sequence(std::string_view s, std::size_t i, char32_t* cp) {
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  unsigned char c = b(0);
  std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  char32_t v = n == 1 ? c : c & (0x7f >> n);
  for (std::size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xc0) != 0x80) return 0;
    v = (v << 6) | (b(k) & 0x3f);
  }
  // Overlong forms, surrogates and values past Unicode are not UTF-8.
  static const char32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
  if (v < min[n] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
  *cp = v;
  return n;
}

int char_width(char32_t cp) {
  static locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(nullptr));
  if (utf8 == static_cast<locale_t>(nullptr)) return 1;
  locale_t old = uselocale(utf8);
  int w = wcwidth(static_cast<wchar_t>(cp));
  uselocale(old);
  return w < 0 ? 1 : w;
}

void append_fixed(std::string* out, std::uint64_t v, int decimals_of_thousand) {
  // v / 1000 with decimals_of_thousand digits, trailing zeros dropped (like %g for these).
  append_number(out, v / 1000);
  std::uint64_t frac = v % 1000;
  if (frac == 0 || decimals_of_thousand == 0) return;
  char d[3] = {static_cast<char>('0' + frac / 100), static_cast<char>('0' + frac / 10 % 10),
               static_cast<char>('0' + frac % 10)};
  int len = 3;
  while (len > 0 && d[len - 1] == '0') --len;
  out->push_back('.');
  out->append(d, static_cast<std::size_t>(len));
}

// ss's sprint_bw: "%.3g" with k/M/G/T, or the plain number with -n.
void append_rate(std::string* out, double bps, bool numeric) {
  if (numeric) {
    out->append(fmt::format("{:.0f}", bps));
    return;
  }
  const char* unit = "";
  double v = bps;
  if (bps >= 1e12)
    v = bps / 1e12, unit = "T";
  else if (bps >= 1e9)
    v = bps / 1e9, unit = "G";
  else if (bps >= 1e6)
    v = bps / 1e6, unit = "M";
  else if (bps >= 1e3)
    v = bps / 1e3, unit = "k";
  out->append(fmt::format("{:.3g}{}", v, unit));
}

void token(std::string* out, const char* name) {
  if (!out->empty() && out->back() != ' ' && out->back() != '\t') out->push_back(' ');
  out->append(name);
}

}  // namespace

void append_number(std::string* out, std::uint64_t v) {
  char buf[20];
  int n = 0;
  do {
    buf[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0) out->push_back(buf[--n]);
}

void append_address(std::string* out, int family, const std::uint8_t* a) {
  auto v4 = [out](const std::uint8_t* b) {
    for (int i = 0; i < 4; ++i) {
      if (i) out->push_back('.');
      append_number(out, b[i]);
    }
  };
  if (family != AF_INET6) {
    v4(a);
    return;
  }
  std::uint16_t w[8];
  for (int i = 0; i < 8; ++i) w[i] = static_cast<std::uint16_t>(a[2 * i] << 8 | a[2 * i + 1]);
  int best = -1, best_len = 0;
  for (int i = 0; i < 8;) {
    if (w[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && w[j] == 0) ++j;
    if (j - i > best_len) best = i, best_len = j - i;
    i = j;
  }
  if (best_len < 2) best = -1;
  for (int i = 0; i < 8; ++i) {
    if (i == best) {
      out->append("::");
      // glibc's inet_ntop: ::a.b.c.d and ::ffff:a.b.c.d keep the IPv4 part dotted.
      if (i == 0 && (best_len == 6 || (best_len == 5 && w[5] == 0xffff))) {
        if (best_len == 5) out->append("ffff:");
        v4(a + 12);
        return;
      }
      i += best_len - 1;
      continue;
    }
    if (i != 0 && !(best >= 0 && i == best + best_len)) out->push_back(':');
    bool lead = true;
    for (int shift = 12; shift >= 0; shift -= 4) {
      unsigned d = (w[i] >> shift) & 0xf;
      if (lead && d == 0 && shift != 0) continue;
      lead = false;
      out->push_back(kHex[d]);
    }
  }
}

void append_escaped(std::string* out, std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out->push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    char32_t cp;
    std::size_t n = c >= 0x80 ? utf8_sequence(s, i, &cp) : 0;
    if (n > 0 && cp >= 0xa0) {  // Valid, and not a C1 control character.
      out->append(s.substr(i, n));
      i += n;
      continue;
    }
    if (c == '\\') {
      out->append("\\\\");
    } else {
      out->append("\\x");
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 15]);
    }
    ++i;
  }
}

std::size_t display_width(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size() && static_cast<unsigned char>(s[i]) < 0x80) ++i;
  if (i == s.size()) return s.size();  // ASCII: one column per byte.
  std::size_t width = i;
  while (i < s.size()) {
    char32_t cp;
    std::size_t n = utf8_sequence(s, i, &cp);
    if (n == 0) {
      ++width;
      ++i;
      continue;
    }
    width += cp < 0x80 ? 1 : static_cast<std::size_t>(char_width(cp));
    i += n;
  }
  return width;
}

bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    char32_t cp;
    std::size_t n = utf8_sequence(s, i, &cp);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string hex_bytes(std::string_view s) {
  std::string out;
  out.reserve(2 * s.size());
  for (unsigned char c : s) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

void append_ms_timer(std::string* out, std::uint32_t timeout) {
  std::uint32_t secs = timeout / 1000, minutes = secs / 60, msecs = timeout % 1000;
  secs %= 60;
  if (minutes) {
    msecs = 0;
    append_number(out, minutes);
    out->append("min");
    if (minutes > 9) secs = 0;
  }
  if (secs) {
    if (secs > 9) msecs = 0;
    append_number(out, secs);
    out->append(msecs ? "." : "sec");
  }
  if (msecs) {
    char d[4] = {static_cast<char>('0' + msecs / 100), static_cast<char>('0' + msecs / 10 % 10),
                 static_cast<char>('0' + msecs % 10), 0};
    out->append(d);
    out->append("ms");
  }
}

void append_timer(std::string* out, Timer timer, std::uint32_t expires_ms, unsigned retrans) {
  if (timer == Timer::off) return;
  out->append("timer:(");
  out->append(timer_name(timer));
  out->push_back(',');
  append_ms_timer(out, expires_ms);
  out->push_back(',');
  append_number(out, retrans);
  out->push_back(')');
}

void append_skmem(std::string* out, const SkMem& m) {
  static const char* names[] = {"r", "rb", "t", "tb", "f", "w", "o", "bl", "d"};
  out->append("skmem:(");
  for (std::size_t i = 0; i < m.count && i < m.v.size(); ++i) {
    if (i) out->push_back(',');
    out->append(names[i]);
    append_number(out, m.v[i]);
  }
  out->push_back(')');
}

// ss's tcp_stats_print, field for field (tcp_show_info decides which are shown).
void append_tcp_info(std::string* out, const TcpInfo& i, std::string_view congestion, int state,
                     bool with_options, bool numeric) {
  auto num = [out](const char* name, std::uint64_t v) {
    token(out, name);
    append_number(out, v);
  };
  auto ms = [out](const char* name, std::uint64_t us) {  // µs as ss's %g of milliseconds
    token(out, name);
    append_fixed(out, us, 3);
  };
  if (with_options) {
    if (i.options & 1) token(out, "ts");         // TCPI_OPT_TIMESTAMPS
    if (i.options & 2) token(out, "sack");       // TCPI_OPT_SACK
    if (i.options & 8) token(out, "ecn");        // TCPI_OPT_ECN
    if (i.options & 16) token(out, "ecnseen");   // TCPI_OPT_ECN_SEEN
    if (i.options & 32) token(out, "fastopen");  // TCPI_OPT_SYN_DATA
  }
  if (!congestion.empty()) {
    token(out, "");
    append_escaped(out, congestion);
  }
  if (i.options & 4) {  // TCPI_OPT_WSCALE
    num("wscale:", i.snd_wscale);
    out->push_back(',');
    append_number(out, i.rcv_wscale);
  }
  if (i.rto && i.rto != 3000000) ms("rto:", i.rto);
  if (i.backoff) num("backoff:", i.backoff);
  if (i.rtt) {
    ms("rtt:", i.rtt);
    out->push_back('/');
    append_fixed(out, i.rttvar, 3);
  }
  if (i.ato) ms("ato:", i.ato);
  if (i.snd_mss) num("mss:", i.snd_mss);
  if (i.pmtu) num("pmtu:", i.pmtu);
  if (i.rcv_mss) num("rcvmss:", i.rcv_mss);
  if (i.advmss) num("advmss:", i.advmss);
  if (i.snd_cwnd) num("cwnd:", i.snd_cwnd);
  if (i.snd_ssthresh && i.snd_ssthresh < 0xffff) num("ssthresh:", i.snd_ssthresh);
  if (i.bytes_sent) num("bytes_sent:", i.bytes_sent);
  if (i.bytes_retrans) num("bytes_retrans:", i.bytes_retrans);
  if (i.bytes_acked) num("bytes_acked:", i.bytes_acked);
  if (i.bytes_received) num("bytes_received:", i.bytes_received);
  if (i.segs_out) num("segs_out:", i.segs_out);
  if (i.segs_in) num("segs_in:", i.segs_in);
  if (i.data_segs_out) num("data_segs_out:", i.data_segs_out);
  if (i.data_segs_in) num("data_segs_in:", i.data_segs_in);
  if (i.rtt && i.snd_mss && i.snd_cwnd) {
    token(out, "send ");
    append_rate(out,
                static_cast<double>(i.snd_cwnd) * static_cast<double>(i.snd_mss) * 8e6 /
                    static_cast<double>(i.rtt),
                numeric);
    out->append("bps");
  }
  if (i.last_data_sent_ms) num("lastsnd:", i.last_data_sent_ms);
  if (i.last_data_recv_ms) num("lastrcv:", i.last_data_recv_ms);
  if (i.last_ack_recv_ms) num("lastack:", i.last_ack_recv_ms);
  if (i.pacing_rate && i.pacing_rate != ~0ull) {
    token(out, "pacing_rate ");
    append_rate(out, static_cast<double>(i.pacing_rate) * 8, numeric);
    out->append("bps");
    if (i.max_pacing_rate && i.max_pacing_rate != ~0ull) {
      out->push_back('/');
      append_rate(out, static_cast<double>(i.max_pacing_rate) * 8, numeric);
      out->append("bps");
    }
  }
  if (i.delivery_rate) {
    token(out, "delivery_rate ");
    append_rate(out, static_cast<double>(i.delivery_rate) * 8, numeric);
    out->append("bps");
  }
  if (i.delivered) num("delivered:", i.delivered);
  if (i.delivered_ce) num("delivered_ce:", i.delivered_ce);
  if (i.delivery_rate_app_limited) token(out, "app_limited");
  if (i.busy_time) {
    num("busy:", i.busy_time / 1000);
    out->append("ms");
    auto part = [&](const char* name, std::uint64_t v) {
      if (!v) return;
      num(name, v / 1000);
      out->append(fmt::format("ms({:.1f}%)",
                              100.0 * static_cast<double>(v) / static_cast<double>(i.busy_time)));
    };
    part("rwnd_limited:", i.rwnd_limited);
    part("sndbuf_limited:", i.sndbuf_limited);
  }
  if (i.unacked) num("unacked:", i.unacked);
  if (i.retrans || i.total_retrans) {
    num("retrans:", i.retrans);
    out->push_back('/');
    append_number(out, i.total_retrans);
  }
  if (i.lost) num("lost:", i.lost);
  if (i.sacked && state != kListen) num("sacked:", i.sacked);
  if (i.dsack_dups) num("dsack_dups:", i.dsack_dups);
  if (i.fackets) num("fackets:", i.fackets);
  if (i.reordering != 3) num("reordering:", i.reordering);
  if (i.reord_seen) num("reord_seen:", i.reord_seen);
  if (i.rcv_rtt) ms("rcv_rtt:", i.rcv_rtt);
  if (i.rcv_space) num("rcv_space:", i.rcv_space);
  if (i.rcv_ssthresh) num("rcv_ssthresh:", i.rcv_ssthresh);
  if (i.notsent_bytes) num("notsent:", i.notsent_bytes);
  if (i.min_rtt && i.min_rtt != 0xffffffffu) ms("minrtt:", i.min_rtt);
  if (i.rcv_ooopack) num("rcv_ooopack:", i.rcv_ooopack);
  if (i.snd_wnd) num("snd_wnd:", i.snd_wnd);
}

}  // namespace parley::cmd
