#include "parley/telnet.hpp"

namespace parley {
namespace {

constexpr unsigned char kIac = 255, kDont = 254, kDo = 253, kWont = 252, kWill = 251, kSb = 250,
                        kSe = 240;

}  // namespace

void TelnetFilter::feed(std::string_view in, std::string* data, std::string* replies) {
  for (char ch : in) {
    const auto c = static_cast<unsigned char>(ch);
    switch (state_) {
      case State::data:
        if (c == kIac)
          state_ = State::iac;
        else
          *data += ch;
        break;
      case State::iac:
        if (c == kIac) {
          *data += ch;  // An escaped 0xFF data byte.
          state_ = State::data;
        } else if (c == kDo || c == kDont || c == kWill || c == kWont) {
          command_ = c;
          state_ = State::option;
        } else if (c == kSb) {
          state_ = State::sub;
        } else {
          state_ = State::data;  // NOP, GA, AYT, ...: nothing to show, nothing to answer.
        }
        break;
      case State::option:
        if (command_ == kDo || command_ == kWill) {
          *replies += static_cast<char>(kIac);
          *replies += static_cast<char>(command_ == kDo ? kWont : kDont);
          *replies += ch;
        }
        state_ = State::data;
        break;
      case State::sub:
        if (c == kIac) state_ = State::sub_iac;
        break;
      case State::sub_iac:
        state_ = c == kSe ? State::data : State::sub;
        break;
    }
  }
}

}  // namespace parley
