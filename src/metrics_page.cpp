#include "metrics_page.hpp"

#include <cctype>
#include <string_view>

namespace parley {
namespace {

// Each client is one row with a solid green background (#2e7d32), which a screenshot test can
// count. The service name is put in with textContent, never as HTML.
constexpr std::string_view kPage = R"HTML(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>parley</title>
<style>
body { font: 15px/1.4 sans-serif; margin: 24px; color: #222; background: #fff; }
h1 { font-size: 20px; margin: 0 0 12px; }
.totals span { display: inline-block; margin-right: 24px; }
table { border-collapse: separate; border-spacing: 0 6px; margin-top: 16px; min-width: 640px; }
th { text-align: left; padding: 4px 12px; color: #555; }
tr.client td { background: #2e7d32; color: #fff; padding: 6px 12px; }
#none { color: #777; margin-top: 16px; }
</style></head>
<body>
<h1 id="title">parley</h1>
<div class="totals">
  <span>clients now: <b id="active">-</b></span><span>served: <b id="total">-</b></span>
  <span>in: <b id="in">-</b> (<b id="inrate">-</b>/s)</span>
  <span>out: <b id="out">-</b> (<b id="outrate">-</b>/s)</span>
  <span>refused: <b id="refused">-</b></span>
</div>
<table><thead><tr><th>client</th><th>connected</th><th>bytes in</th><th>bytes out</th></tr></thead>
<tbody id="clients"></tbody></table>
<div id="none"></div>
<script>
const service = "@SERVICE@";
document.getElementById("title").textContent = "parley " + service;
let last = null;
function human(n) {
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + " " + u[i];
}
function set(id, text) { document.getElementById(id).textContent = text; }
async function refresh() {
  try {
    const r = await fetch("/clients.json", {cache: "no-store"});
    const j = await r.json();
    const now = Date.now() / 1000;
    set("active", j.active); set("total", j.total);
    set("refused", j.refused + j.denied + j.failed_handshakes);
    set("in", human(j.bytes_in)); set("out", human(j.bytes_out));
    if (last) {
      const dt = Math.max(now - last.t, 0.001);
      set("inrate", human((j.bytes_in - last.i) / dt)); set("outrate", human((j.bytes_out - last.o) / dt));
    }
    last = {t: now, i: j.bytes_in, o: j.bytes_out};
    const body = document.getElementById("clients");
    body.replaceChildren();
    for (const c of j.clients) {
      const tr = document.createElement("tr");
      tr.className = "client";
      for (const v of [c.peer, c.seconds.toFixed(1) + " s", human(c.bytes_in), human(c.bytes_out)]) {
        const td = document.createElement("td"); td.textContent = v; tr.appendChild(td);
      }
      body.appendChild(tr);
    }
    set("none", j.clients.length ? "" : "no clients connected");
  } catch (e) {
    set("none", "the server does not answer");
  }
}
refresh();
setInterval(refresh, 1000);
</script>
</body></html>
)HTML";

}  // namespace

std::string metrics_page(const std::string& service) {
  std::string page(kPage);
  std::string safe;  // A JavaScript string literal: only letters, digits and a few signs.
  for (char c : service)
    if (std::isalnum(static_cast<unsigned char>(c)) || c == ' ' || c == '-' || c == ':') safe += c;
  page.replace(page.find("@SERVICE@"), 9, safe);
  return page;
}

}  // namespace parley
