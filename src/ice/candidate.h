// ICE candidates (RFC 8445 §5.1) as value types, with the SDP "candidate" attribute grammar of RFC 8839 §5.1
// (and RFC 6544's tcptype), priority (RFC 8445 §5.1.2) and the RFC 8421 local-preference rule for multi-homed
// and dual-stack hosts.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "core/socket_address.h"

namespace tandem::ice {

// RFC 8445 §5.1.1: host, server-reflexive, peer-reflexive and relayed candidates.
enum class CandidateType : uint8_t { kHost, kServerReflexive, kPeerReflexive, kRelayed };

// "host", "srflx", "prflx", "relay" (the cand-type tokens of RFC 8839 §5.1).
const char* ToString(CandidateType type);

// Limits applied by Candidate::Parse (hostile input from signaling is bounded before anything is stored).
inline constexpr size_t kMaxCandidateLength = 1024;  // whole attribute
inline constexpr size_t kMaxFoundationLength = 32;   // RFC 8839 §5.1: foundation = 1*32ice-char
inline constexpr size_t kMaxHostnameLength = 253;    // RFC 1035 name
inline constexpr size_t kMaxCandidateExtensions = 16;
inline constexpr size_t kMaxExtensionTokenLength = 256;

// One candidate, local or remote. Component 1 only is used by the agent (WebRTC bundles and multiplexes RTCP,
// RFC 8843/RFC 5761), but any component parses.
struct Candidate {
  std::string foundation;         // 1*32 ice-char (RFC 8839 §5.1)
  uint16_t component = 1;         // 1..256
  std::string transport = "udp";  // as written ("udp", "UDP", "tcp"); compare with IsUdp()/IsTcp()
  uint32_t priority = 0;
  SocketAddress address;  // unset when `hostname` is set
  std::string hostname;   // an FQDN connection-address, e.g. an mDNS "<uuid>.local" name (RFC 8839 §5.1)
  CandidateType type = CandidateType::kHost;
  std::optional<SocketAddress> related;  // raddr/rport (RFC 8839 §5.1)
  std::string tcp_type;                  // RFC 6544 §4.5: "active", "passive" or "so" (TCP candidates only)
  // Extension attributes in order: generation, ufrag, network-id, network-cost, ... (RFC 8839 §5.1
  // cand-extension).
  std::vector<std::pair<std::string, std::string>> extensions;

  // Parses "candidate:..." or "a=candidate:..." (a trailing CR/LF is tolerated). Fails with a reason naming
  // the bad field: every field is validated against RFC 8839 §5.1 and the limits above.
  static Result<Candidate> Parse(std::string_view text);
  // "candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type> [raddr <a> rport
  // <p>] [tcptype <t>] [<ext> <value>]..." without "a=". Round-trips what Parse accepted.
  std::string ToString() const;

  bool IsUdp() const;
  bool IsTcp() const;
  bool HasHostname() const { return !hostname.empty(); }
  // True for an mDNS name (RFC 6762: ends in ".local", case-insensitively).
  bool IsMdnsHostname() const;
  // The value of an extension ("ufrag", "generation"), if present.
  std::optional<std::string_view> Extension(std::string_view name) const;
  void SetExtension(std::string_view name, std::string_view value);

  bool operator==(const Candidate&) const = default;
};

// RFC 8445 §5.1.2.2 recommended type preferences.
inline constexpr uint32_t kHostTypePreference = 126;
inline constexpr uint32_t kPeerReflexiveTypePreference = 110;
inline constexpr uint32_t kServerReflexiveTypePreference = 100;
inline constexpr uint32_t kRelayedTypePreference = 0;
uint32_t TypePreference(CandidateType type);

// RFC 8445 §5.1.2.1: priority = 2^24 * type preference + 2^8 * local preference + (256 - component id).
uint32_t ComputePriority(uint32_t type_preference, uint32_t local_preference, uint16_t component);

// RFC 8421 §4 local preference of a host interface address. `index_in_family` is the address's rank among the
// host's addresses of its family (0 = most preferred interface, e.g. wired before Wi-Fi before VPN). IPv6
// ranks above IPv4 and the families interleave (v6#0, v4#0, v6#1, v4#1, ...) so that a broken family does not
// starve the other (the Happy Eyeballs idea of RFC 8421 §4). The result is in 0..65535.
uint32_t MultihomedLocalPreference(AddressFamily family, size_t index_in_family);

// RFC 8445 §6.1.2.3: pair priority = 2^32*MIN(G,D) + 2*MAX(G,D) + (G>D?1:0), G the controlling agent's
// candidate priority and D the controlled agent's.
uint64_t PairPriority(uint32_t controlling_priority, uint32_t controlled_priority);

// RFC 8839 §5.1 ice-char: ALPHA / DIGIT / "+" / "/".
bool IsIceChar(char c);
bool IsIceString(std::string_view s);

}  // namespace tandem::ice
