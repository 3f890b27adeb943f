#pragma once
// Bytes from the network or the kernel as JSON fields, the same way in every command: the text
// (bytes that are not UTF-8 become U+FFFD when dumped), and the exact bytes in hex under KEY_hex
// whenever they are not valid UTF-8, so no input can make a dump throw or lose what it held.

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "conns_text.hpp"

namespace parley::cmd {

template <class Json>
void put_text(Json& j, const std::string& key, std::string_view text) {
  j[key] = std::string(text);
  if (!valid_utf8(text)) j[key + "_hex"] = hex_bytes(text);
}

// One object on one line, never throwing on bad UTF-8 (put_text keeps the exact bytes).
template <class Json>
std::string json_line(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
}

}  // namespace parley::cmd
