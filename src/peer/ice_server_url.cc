#include "peer/ice_server_url.h"

#include <charconv>

namespace tandem::peer {

Result<IceServerUrl> IceServerUrl::Parse(std::string_view url) {
  IceServerUrl out;
  const size_t colon = url.find(':');
  if (colon == std::string_view::npos)
    return MakeError(ErrorCode::kMalformed, "ICE server URL without a scheme");
  std::string scheme(url.substr(0, colon));
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme == "stun") {
    out.scheme = Scheme::kStun;
  } else if (scheme == "stuns") {
    out.scheme = Scheme::kStuns;
  } else if (scheme == "turn") {
    out.scheme = Scheme::kTurn;
  } else if (scheme == "turns") {
    out.scheme = Scheme::kTurns;
  } else {
    return MakeError(ErrorCode::kMalformed, "ICE server URL scheme must be stun, stuns, turn or turns");
  }
  const bool secure = out.scheme == Scheme::kStuns || out.scheme == Scheme::kTurns;
  out.transport = secure ? Transport::kTls : Transport::kUdp;
  out.port = secure ? 5349 : 3478;  // RFC 7064 §3.1, RFC 7065 §3.1
  std::string_view rest = url.substr(colon + 1);
  // RFC 7064/7065: no "//", no user info; the query (turn only) names the transport.
  if (rest.starts_with("//")) return MakeError(ErrorCode::kMalformed, "ICE server URL must not have \"//\"");
  std::string_view query;
  if (const size_t q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  std::string_view port_text;
  if (!rest.empty() && rest.front() == '[') {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos)
      return MakeError(ErrorCode::kMalformed, "ICE server URL: unclosed [");
    out.host = std::string(rest.substr(1, close - 1));
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return MakeError(ErrorCode::kMalformed, "ICE server URL: junk after ]");
      port_text = after.substr(1);
    }
  } else {
    const size_t c = rest.rfind(':');
    out.host = std::string(rest.substr(0, c));
    if (c != std::string_view::npos) port_text = rest.substr(c + 1);
  }
  if (out.host.empty() || out.host.find_first_of("@/ ") != std::string::npos) {
    return MakeError(ErrorCode::kMalformed, "ICE server URL without a valid host");
  }
  if (!port_text.empty()) {
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc() || ptr != port_text.data() + port_text.size() || value == 0 || value > 65535) {
      return MakeError(ErrorCode::kMalformed, "ICE server URL with a bad port");
    }
    out.port = static_cast<uint16_t>(value);
  }
  if (!query.empty()) {
    if (!out.is_turn()) return MakeError(ErrorCode::kMalformed, "a stun URL takes no query");
    if (query == "transport=udp") {
      if (out.scheme == Scheme::kTurns) return MakeError(ErrorCode::kMalformed, "turns with transport=udp");
      out.transport = Transport::kUdp;
    } else if (query == "transport=tcp") {
      out.transport = out.scheme == Scheme::kTurns ? Transport::kTls : Transport::kTcp;
    } else {
      return MakeError(ErrorCode::kMalformed, "ICE server URL query must be transport=udp or transport=tcp");
    }
  }
  return out;
}

}  // namespace tandem::peer
