#include "ice/candidate.h"

#include <gtest/gtest.h>

#include <string>

namespace tandem::ice {
namespace {

// Candidate lines as Chromium and Firefox print them (addresses changed to documentation ranges).
const char* const kBrowserCandidates[] = {
    // Chromium: host, srflx, relay, tcp, IPv6, mDNS, srflx with the mDNS-era zero related address.
    "candidate:2999745851 1 udp 2122260223 192.168.56.1 57279 typ host generation 0 ufrag 1SJw network-id 1",
    "candidate:842163049 1 udp 1677729535 203.0.113.10 56143 typ srflx raddr 192.168.1.2 rport 56143 "
    "generation 0 "
    "ufrag EsAw network-id 1 network-cost 10",
    "candidate:3745422337 1 udp 41885439 203.0.113.5 58624 typ relay raddr 198.51.100.7 rport 61722 "
    "generation 0 "
    "ufrag wP3M network-id 1 network-cost 10",
    "candidate:1510613869 1 tcp 1518280447 192.168.1.2 9 typ host tcptype active generation 0 ufrag EsAw "
    "network-id 1 network-cost 10",
    "candidate:1931856462 1 udp 2122197247 2001:db8:85a3::8a2e:370:7334 53084 typ host generation 0 ufrag "
    "9t8n "
    "network-id 2 network-cost 10",
    "candidate:3164473224 1 udp 2113937151 b5e9f8a4-3f3e-4bd2-9b8c-2a35c8c0b2d9.local 61722 typ host "
    "generation 0 "
    "ufrag wP3M network-cost 999",
    "candidate:1 1 udp 1685987071 198.51.100.7 61722 typ srflx raddr 0.0.0.0 rport 0 generation 0 ufrag wP3M "
    "network-cost 999",
    "candidate:2 2 udp 2122260222 192.168.56.1 57280 typ host generation 0 ufrag 1SJw network-id 1",
    // Firefox: upper-case transport, no extensions, tcp, relay, mDNS, IPv6 link-local.
    "candidate:0 1 UDP 2122252543 192.168.1.5 53084 typ host",
    "candidate:1 1 UDP 1686052863 203.0.113.20 53084 typ srflx raddr 192.168.1.5 rport 53084",
    "candidate:3 1 TCP 2105524479 192.168.1.5 9 typ host tcptype active",
    "candidate:2 1 UDP 92217087 203.0.113.5 64542 typ relay raddr 203.0.113.5 rport 64542",
    "candidate:0 1 UDP 2122187007 9d8ba3a5-f4e3-4f6e-8b0d-6b8b5a8c9e1f.local 49765 typ host",
    "candidate:5 1 UDP 2122187007 fe80::1c2b:3cff:fe4d:5e6f 49765 typ host",
    // libnice / Pion style: a prflx with passive tcp.
    "candidate:4 1 tcp 1845501695 203.0.113.40 9 typ prflx raddr 192.168.1.9 rport 9 tcptype passive",
};

TEST(CandidateTest, BrowserCandidatesRoundTrip) {
  for (const char* line : kBrowserCandidates) {
    auto c = Candidate::Parse(line);
    ASSERT_TRUE(c.ok()) << line << ": " << c.error().reason;
    EXPECT_EQ(c->ToString(), line);
    // With the SDP attribute prefix and CRLF, as it appears in an offer.
    auto a = Candidate::Parse(std::string("a=") + line + "\r\n");
    ASSERT_TRUE(a.ok()) << line;
    EXPECT_EQ(*a, *c);
  }
}

TEST(CandidateTest, FieldsOfAChromiumServerReflexiveCandidate) {
  auto c = Candidate::Parse(kBrowserCandidates[1]);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->foundation, "842163049");
  EXPECT_EQ(c->component, 1);
  EXPECT_TRUE(c->IsUdp());
  EXPECT_EQ(c->priority, 1677729535u);
  EXPECT_EQ(c->address, *SocketAddress::Parse("203.0.113.10:56143"));
  EXPECT_EQ(c->type, CandidateType::kServerReflexive);
  ASSERT_TRUE(c->related.has_value());
  EXPECT_EQ(*c->related, *SocketAddress::Parse("192.168.1.2:56143"));
  EXPECT_EQ(c->Extension("ufrag"), "EsAw");
  EXPECT_EQ(c->Extension("network-cost"), "10");
  EXPECT_FALSE(c->Extension("missing").has_value());
  EXPECT_FALSE(c->HasHostname());
}

TEST(CandidateTest, MdnsAndTcpAndIpv6) {
  auto mdns = Candidate::Parse(kBrowserCandidates[5]);
  ASSERT_TRUE(mdns.ok());
  EXPECT_TRUE(mdns->HasHostname());
  EXPECT_TRUE(mdns->IsMdnsHostname());
  EXPECT_FALSE(mdns->address.IsSet());
  EXPECT_EQ(mdns->address.port(), 61722);
  EXPECT_EQ(mdns->hostname, "b5e9f8a4-3f3e-4bd2-9b8c-2a35c8c0b2d9.local");

  auto tcp = Candidate::Parse(kBrowserCandidates[10]);
  ASSERT_TRUE(tcp.ok());
  EXPECT_TRUE(tcp->IsTcp());
  EXPECT_FALSE(tcp->IsUdp());
  EXPECT_EQ(tcp->tcp_type, "active");

  auto v6 = Candidate::Parse(kBrowserCandidates[4]);
  ASSERT_TRUE(v6.ok());
  EXPECT_TRUE(v6->address.ip().is_v6());

  auto fqdn = Candidate::Parse("candidate:1 1 udp 1 turn.example.com 3478 typ host");
  ASSERT_TRUE(fqdn.ok());
  EXPECT_TRUE(fqdn->HasHostname());
  EXPECT_FALSE(fqdn->IsMdnsHostname());
  auto upper = Candidate::Parse("candidate:1 1 udp 1 ABC.LOCAL. 3478 typ host");
  ASSERT_TRUE(upper.ok());
  EXPECT_TRUE(upper->IsMdnsHostname());
}

TEST(CandidateTest, SetExtensionReplacesOrAppends) {
  Candidate c = *Candidate::Parse("candidate:1 1 udp 5 192.0.2.1 1000 typ host ufrag old");
  c.SetExtension("ufrag", "new");
  c.SetExtension("generation", "0");
  EXPECT_EQ(c.ToString(), "candidate:1 1 udp 5 192.0.2.1 1000 typ host ufrag new generation 0");
}

struct BadCandidate {
  std::string text;
  std::string reason;  // a fragment of the expected reason
};

TEST(CandidateTest, RejectsMalformedCandidatesWithAReason) {
  const BadCandidate cases[] = {
      {"", "prefix"},
      {"a=rtpmap:0 PCMU/8000", "prefix"},
      {"candidate:1 1 udp", "fewer than 8"},
      {"candidate:ab$c 1 udp 1 192.0.2.1 5 typ host", "foundation"},
      {"candidate:0123456789012345678901234567890123 1 udp 1 192.0.2.1 5 typ host", "foundation"},
      {"candidate:1 0 udp 1 192.0.2.1 5 typ host", "component"},
      {"candidate:1 257 udp 1 192.0.2.1 5 typ host", "component"},
      {"candidate:1 x udp 1 192.0.2.1 5 typ host", "component"},
      {"candidate:1 1 u\"dp 1 192.0.2.1 5 typ host", "transport"},
      {"candidate:1 1 udp 4294967296 192.0.2.1 5 typ host", "priority"},
      {"candidate:1 1 udp 12345678901 192.0.2.1 5 typ host", "priority"},
      {"candidate:1 1 udp -1 192.0.2.1 5 typ host", "priority"},
      {"candidate:1 1 udp 1 192.0.2.1 70000 typ host", "port"},
      {"candidate:1 1 udp 1 192.0.2.1 5 typo host", "typ"},
      {"candidate:1 1 udp 1 192.0.2.1 5 typ foo", "unknown candidate type"},
      {"candidate:1 1 udp 1 192.0.2.1 5 typ srflx raddr", "extension without a value"},
      {"candidate:1 1 udp 1 192.0.2.1 5 typ srflx raddr 192.0.2.2", "raddr without rport"},
      {"candidate:1 1 udp 1 192.0.2.1 5 typ srflx raddr 192.0.2.2 generation 0", "raddr without rport"},
      {"candidate:1 1 udp 1 192.0.2.1 5 typ srflx rport 5", "rport without raddr"},
      {"candidate:1 1 udp 1 192.0.2.1 5 typ srflx raddr nothing rport 5", "bad raddr"},
      {"candidate:1 1 udp 1 192.0.2.1 5 typ host tcptype active", "tcptype on non-TCP"},
      {"candidate:1 1 tcp 1 192.0.2.1 5 typ host tcptype sideways", "bad tcptype"},
      {"candidate:1 1 udp 1 fe80::1%eth0 5 typ host", "IPv6"},
      {"candidate:1 1 udp 1 [::1] 5 typ host", "IPv6"},
      {"candidate:1 1 udp 1 bad!host.local 5 typ host", "connection address"},
      {"candidate:1 1 udp 1 1.2.3 5 typ host", "connection address"},
      {"candidate:1 1 udp 1 192.0.2.1 5 typ host generation 0 ufrag a\x01 b", "extension"},
  };
  for (const auto& bad : cases) {
    auto c = Candidate::Parse(bad.text);
    ASSERT_FALSE(c.ok()) << bad.text;
    EXPECT_NE(std::string(c.error().reason).find(bad.reason), std::string::npos)
        << bad.text << " -> " << c.error().reason;
  }
}

TEST(CandidateTest, EnforcesLengthAndExtensionLimits) {
  std::string long_line = "candidate:1 1 udp 1 192.0.2.1 5 typ host x ";
  long_line += std::string(kMaxCandidateLength, 'y');
  auto c = Candidate::Parse(long_line);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, ErrorCode::kLimitExceeded);

  std::string many = "candidate:1 1 udp 1 192.0.2.1 5 typ host";
  for (size_t i = 0; i <= kMaxCandidateExtensions; ++i) many += " e" + std::to_string(i) + " v";
  c = Candidate::Parse(many);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, ErrorCode::kLimitExceeded);

  std::string enough = "candidate:1 1 udp 1 192.0.2.1 5 typ host";
  for (size_t i = 0; i < kMaxCandidateExtensions; ++i) enough += " e" + std::to_string(i) + " v";
  EXPECT_TRUE(Candidate::Parse(enough).ok());
}

TEST(CandidateTest, PriorityFormulas) {
  // RFC 8445 §5.1.2.1 with the recommended values: host, local preference 65535, component 1.
  EXPECT_EQ(ComputePriority(kHostTypePreference, 65535, 1), 2130706431u);
  EXPECT_EQ(ComputePriority(kRelayedTypePreference, 0, 1), 255u);
  EXPECT_EQ(ComputePriority(kServerReflexiveTypePreference, 65535, 2), (100u << 24) + (65535u << 8) + 254u);
  // RFC 8445 §6.1.2.3.
  EXPECT_EQ(PairPriority(10, 20), (uint64_t{10} << 32) + 40 + 0);
  EXPECT_EQ(PairPriority(20, 10), (uint64_t{10} << 32) + 40 + 1);
  EXPECT_GT(PairPriority(20, 10), PairPriority(10, 20));  // the tie-breaking bit favours G > D
}

TEST(CandidateTest, MultihomedLocalPreferenceInterleavesFamilies) {
  // RFC 8421 §4: IPv6 first, then the families alternate; within a family, interface order.
  const uint32_t v6a = MultihomedLocalPreference(AddressFamily::kIPv6, 0);
  const uint32_t v4a = MultihomedLocalPreference(AddressFamily::kIPv4, 0);
  const uint32_t v6b = MultihomedLocalPreference(AddressFamily::kIPv6, 1);
  const uint32_t v4b = MultihomedLocalPreference(AddressFamily::kIPv4, 1);
  EXPECT_EQ(v6a, 65535u);
  EXPECT_GT(v6a, v4a);
  EXPECT_GT(v4a, v6b);
  EXPECT_GT(v6b, v4b);
  EXPECT_EQ(MultihomedLocalPreference(AddressFamily::kIPv4, 1000000), 0u);
}

TEST(CandidateTest, IceChars) {
  EXPECT_TRUE(IsIceString("abcXYZ019+/"));
  EXPECT_FALSE(IsIceString("a-b"));
  EXPECT_FALSE(IsIceString("a b"));
}

}  // namespace
}  // namespace tandem::ice
