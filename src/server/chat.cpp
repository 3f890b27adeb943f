#include "chat.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

namespace parley::server {
namespace {

constexpr std::size_t kMaxName = 24;

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxName) return false;
  return std::all_of(name.begin(), name.end(), [](unsigned char ch) {
    return std::isalnum(ch) || ch == '_' || ch == '-' || ch == '.';
  });
}

bool same_name(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

struct LineContext {
  ChatRoom* room;
  HubConn* conn;
};

}  // namespace

void ChatRoom::announce(std::string_view text, Conn* only) {
  std::string line = fmt::format("<announce> {}\n", text);
  deliver(line, only);
  if (only == nullptr) to_output(line);
}

bool ChatRoom::name_taken(std::string_view name, const Conn* except) const {
  if (same_name(name, "server") || same_name(name, "announce")) return true;
  for (const Conn* c : members())
    if (c != except && !c->closed && same_name(static_cast<const HubConn*>(c)->name, name))
      return true;
  return false;
}

void ChatRoom::chat_joined(HubConn& c) {
  do {  // Somebody may have taken "user7" with /nick already.
    c.name = fmt::format("user{}", ++next_user_);
  } while (name_taken(c.name, &c));
  std::vector<std::string> here;
  for (const Conn* m : members())
    if (m != &c && !m->closed) here.push_back("<" + static_cast<const HubConn*>(m)->name + ">");
  announce(fmt::format("welcome, <{}>. {}. /nick NAME renames you, /who lists who is here.", c.name,
                       here.empty() ? "Nobody else is here yet"
                                    : fmt::format("Here: {}", fmt::join(here, ", "))),
           &c);
  std::string text = fmt::format("{} is connected as <{}>.", c.peer_name(), c.name);
  std::string line = fmt::format("<announce> {}\n", text);
  for (Conn* m : members())
    if (m != &c && !m->closed) deliver(line, m);
  to_output(line);
}

void ChatRoom::chat_left(HubConn& c) {
  if (c.name.empty()) return;
  std::string line = fmt::format("<announce> <{}> is disconnected.\n", c.name);
  for (Conn* m : members())
    if (m != &c && !m->closed) deliver(line, m);
  to_output(line);
}

void ChatRoom::chat_input(HubConn& c, std::string_view data) {
  LineContext ctx{this, &c};
  c.lines.feed(data, member_line_cb, &ctx);
}

bool ChatRoom::member_line_cb(void* context, std::string_view line, std::string_view) {
  auto* ctx = static_cast<LineContext*>(context);
  if (!ctx->conn->closed) ctx->room->member_line(*ctx->conn, line);
  return true;
}

void ChatRoom::member_line(HubConn& c, std::string_view line) {
  if (!line.empty() && line.front() == '/') {
    if (line.size() < 2 || line[1] != '/') return command(c, line);
    line.remove_prefix(1);  // "//text" says "/text".
  }
  if (line.empty()) return;
  std::string text = fmt::format("<{}> {}\n", c.name, escape_bytes(line, SIZE_MAX));
  count_message();
  deliver(text, nullptr);
  to_output(text);
}

void ChatRoom::command(HubConn& c, std::string_view line) {
  std::string_view verb = line.substr(0, line.find(' '));
  std::string_view arg = verb.size() < line.size() ? line.substr(verb.size() + 1) : "";
  while (!arg.empty() && arg.front() == ' ') arg.remove_prefix(1);
  while (!arg.empty() && arg.back() == ' ') arg.remove_suffix(1);
  if (verb == "/nick") {
    if (!valid_name(arg)) {
      return announce(fmt::format("a name is 1 to {} letters, digits, '_', '-' or '.'", kMaxName),
                      &c);
    }
    if (same_name(arg, c.name)) return;
    if (name_taken(arg, &c)) return announce(fmt::format("<{}> is taken", arg), &c);
    std::string old = std::move(c.name);
    c.name = std::string(arg);
    return announce(fmt::format("<{}> is now known as <{}>.", old, c.name), nullptr);
  }
  if (verb == "/who") {
    std::vector<std::string> here;
    for (const Conn* m : members()) {
      if (m->closed) continue;
      const auto* h = static_cast<const HubConn*>(m);
      here.push_back(fmt::format("<{}> ({})", h->name, h->peer_name()));
    }
    return announce(fmt::format("here: {}.", fmt::join(here, ", ")), &c);
  }
  announce(fmt::format("unknown command {}; try /nick NAME or /who (start a line with // to say "
                       "something that begins with /)",
                       escape_bytes(verb, 40)),
           &c);
}

bool ChatRoom::chat_operator_line_cb(void* room, std::string_view line, std::string_view) {
  auto* r = static_cast<ChatRoom*>(room);
  if (line.empty()) return true;
  std::string text = fmt::format("<server> {}\n", escape_bytes(line, SIZE_MAX));
  r->count_message();
  r->deliver(text, nullptr);
  if (r->show_operator_lines) r->to_output(text);
  return true;
}

}  // namespace parley::server
