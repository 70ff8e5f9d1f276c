// Resolver and Responder on a fake clock, and a pair of in-memory nodes resolving each other's names.
#include "mdns/resolver.h"

#include <gtest/gtest.h>

#include <cctype>
#include <map>
#include <string>
#include <vector>

#include "mdns/responder.h"

namespace tandem::mdns {
namespace {

constexpr const char* kName = "1f0e2d3c-aaaa-bbbb-cccc-0123456789ab.local";
const SocketAddress kResponderAddress = *SocketAddress::Parse("192.168.1.20:5353");

IpAddress Ip(const char* s) { return *IpAddress::Parse(s); }
DnsName Name(const char* s) { return *DnsName::Parse(s); }

struct Sent {
  Timestamp at;
  SocketAddress to;
  Message message;
};

// A response carrying `records` in the answer section.
std::vector<uint8_t> Response(std::vector<ResourceRecord> answers,
                              std::vector<ResourceRecord> additionals = {}) {
  Message m;
  m.header.response = true;
  m.header.authoritative = true;
  m.answers = std::move(answers);
  m.additionals = std::move(additionals);
  std::vector<uint8_t> out;
  EXPECT_TRUE(m.Serialize(out).ok());
  return out;
}
ResourceRecord A(const char* name, const char* ip, uint32_t ttl = 120) {
  ResourceRecord rr;
  rr.name = Name(name);
  rr.address = Ip(ip);
  rr.type = rr.address.is_v4() ? type::kA : type::kAaaa;
  rr.cache_flush = true;
  rr.ttl = ttl;
  return rr;
}

class ResolverTest : public ::testing::Test {
 protected:
  void Drain() {
    while (auto t = resolver_.PollTransmit()) {
      auto m = Message::Parse(t->data);
      ASSERT_TRUE(m.ok());
      sent_.push_back(Sent{now_, t->destination, *m});
    }
    while (auto e = resolver_.PollEvent()) events_.push_back(*e);
  }
  void Advance(TimeDelta d) {
    const Timestamp target = now_ + d;
    while (resolver_.PollTimeout() <= target) {
      now_ = std::max(now_, resolver_.PollTimeout());
      resolver_.HandleTimeout(now_);
      Drain();
    }
    now_ = target;
    resolver_.HandleTimeout(now_);
    Drain();
  }
  void Receive(const std::vector<uint8_t>& bytes, const SocketAddress& from = kResponderAddress) {
    resolver_.HandleReceive(now_, from, bytes);
    Drain();
  }

  Timestamp now_ = Timestamp::Seconds(100);
  ResolverConfig config_;
  Resolver resolver_{config_};
  std::vector<Sent> sent_;
  std::vector<ResolverEvent> events_;
};

TEST_F(ResolverTest, QueryFormatRetransmissionAndTimeout) {
  const Timestamp start = now_;
  ASSERT_TRUE(resolver_.Resolve(now_, kName));
  Drain();
  ASSERT_EQ(sent_.size(), 1u);
  EXPECT_EQ(sent_[0].to, MulticastGroupV4());
  const Message& q = sent_[0].message;
  // RFC 6762 §18: ID 0, a query, opcode 0; one question for A and one for AAAA; QU on the first (§5.4).
  EXPECT_EQ(q.header.id, 0);
  EXPECT_FALSE(q.header.response);
  EXPECT_EQ(q.header.opcode, 0);
  ASSERT_EQ(q.questions.size(), 2u);
  EXPECT_EQ(q.questions[0].name, Name(kName));
  EXPECT_EQ(q.questions[0].type, type::kA);
  EXPECT_EQ(q.questions[1].type, type::kAaaa);
  EXPECT_TRUE(q.questions[0].unicast_response);
  EXPECT_TRUE(q.answers.empty());

  Advance(TimeDelta::Seconds(10));
  // §5.2: repeated after 1 s, then 2 s later (doubling); failure at the 5 s timeout.
  ASSERT_EQ(sent_.size(), 3u);
  EXPECT_EQ(sent_[1].at, start + TimeDelta::Seconds(1));
  EXPECT_EQ(sent_[2].at, start + TimeDelta::Seconds(3));
  EXPECT_FALSE(sent_[1].message.questions[0].unicast_response);  // later queries ask for multicast (QM)
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].kind, ResolverEvent::kFailed);
  EXPECT_EQ(events_[0].name, kName);
  EXPECT_EQ(resolver_.stats().failed, 1u);
  EXPECT_EQ(resolver_.pending_count(), 0u);
  EXPECT_EQ(resolver_.PollTimeout(), Timestamp::Infinity());
}

TEST_F(ResolverTest, FailsExactlyAtTheTimeout) {
  ASSERT_TRUE(resolver_.Resolve(now_, kName));
  Drain();
  Advance(TimeDelta::Millis(4999));
  EXPECT_TRUE(events_.empty());
  Advance(TimeDelta::Millis(1));
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].kind, ResolverEvent::kFailed);
}

TEST(ResolverConfigTest, Ipv6AndQmOnlyAndSingleType) {
  ResolverConfig c;
  c.use_ipv6 = true;
  c.unicast_response = false;
  c.query_aaaa = false;
  Resolver r(c);
  ASSERT_TRUE(r.Resolve(Timestamp::Zero(), kName));
  std::vector<SocketAddress> to;
  while (auto t = r.PollTransmit()) {
    to.push_back(t->destination);
    auto m = Message::Parse(t->data);
    ASSERT_TRUE(m.ok());
    ASSERT_EQ(m->questions.size(), 1u);
    EXPECT_EQ(m->questions[0].type, type::kA);
    EXPECT_FALSE(m->questions[0].unicast_response);
  }
  EXPECT_EQ(to, (std::vector<SocketAddress>{MulticastGroupV4(), MulticastGroupV6()}));
  EXPECT_EQ(MulticastGroupV6().ToString(), "[ff02::fb]:5353");
}

TEST_F(ResolverTest, AnswerResolvesThePendingName) {
  ASSERT_TRUE(resolver_.Resolve(now_, kName));
  Drain();
  // The answer spells the name differently (names compare case-insensitively).
  std::string upper = kName;
  for (char& c : upper) c = static_cast<char>(std::toupper(c));
  Receive(Response({A(upper.c_str(), "192.168.1.20")}));
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].kind, ResolverEvent::kResolved);
  EXPECT_EQ(events_[0].name, kName);
  EXPECT_EQ(events_[0].ip, Ip("192.168.1.20"));
  EXPECT_EQ(resolver_.pending_count(), 0u);
  EXPECT_EQ(resolver_.PollTimeout(), Timestamp::Infinity());
  Advance(TimeDelta::Seconds(10));
  EXPECT_EQ(sent_.size(), 1u);  // no more queries
  EXPECT_EQ(events_.size(), 1u);
}

TEST_F(ResolverTest, AnswerInTheAdditionalSectionAndIpv6) {
  ASSERT_TRUE(resolver_.Resolve(now_, kName));
  Drain();
  Receive(Response({A("other.local", "192.168.1.5")}, {A(kName, "fe80::1234")}));
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].ip, Ip("fe80::1234"));
  EXPECT_EQ(resolver_.Lookup(now_, "other.local"), Ip("192.168.1.5"));  // cached, unsolicited
}

TEST_F(ResolverTest, IgnoresWhatRfc6762SaysToIgnore) {
  ASSERT_TRUE(resolver_.Resolve(now_, kName));
  Drain();
  const auto answer = Response({A(kName, "192.168.1.20")});
  // Not from port 5353 (§6).
  Receive(answer, *SocketAddress::Parse("192.168.1.20:40000"));
  EXPECT_EQ(resolver_.stats().dropped_bad_source_port, 1u);
  // Non-zero rcode (§18.11) or opcode (§18.3).
  auto bad = answer;
  bad[3] |= 0x03;
  Receive(bad);
  bad = answer;
  bad[2] |= 0x08;
  Receive(bad);
  EXPECT_EQ(resolver_.stats().dropped_bad_header, 2u);
  // Queries (someone else's, or our own looped back) are not answers.
  Message q;
  q.questions.push_back(Question{Name(kName), type::kA, kClassIn, false});
  q.answers.push_back(A(kName, "192.168.1.66"));  // a known answer in a query is not an answer for us
  std::vector<uint8_t> qb;
  ASSERT_TRUE(q.Serialize(qb).ok());
  Receive(qb);
  EXPECT_EQ(resolver_.stats().ignored_queries, 1u);
  // Garbage.
  Receive({1, 2, 3});
  EXPECT_EQ(resolver_.stats().dropped_malformed, 1u);
  // Records that are not A/AAAA for a .local host name.
  Receive(Response({A("host.example.com", "192.168.1.20")}));
  EXPECT_TRUE(events_.empty());
  EXPECT_EQ(resolver_.pending_count(), 1u);
  Receive(answer);
  ASSERT_EQ(events_.size(), 1u);
}

TEST_F(ResolverTest, UnsolicitedAnswersAreCachedUntilTheirTtlRunsOut) {
  Receive(Response({A(kName, "192.168.1.20", 10)}));
  EXPECT_EQ(resolver_.Lookup(now_, kName), Ip("192.168.1.20"));
  ASSERT_TRUE(resolver_.Resolve(now_, kName));
  Drain();
  EXPECT_TRUE(sent_.empty());  // answered from the cache, no query
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].kind, ResolverEvent::kResolved);
  EXPECT_EQ(events_[0].ip, Ip("192.168.1.20"));
  now_ = now_ + TimeDelta::Seconds(10);
  EXPECT_FALSE(resolver_.Lookup(now_, kName));
  ASSERT_TRUE(resolver_.Resolve(now_, kName));
  Drain();
  EXPECT_EQ(sent_.size(), 1u);  // expired: asks again
}

TEST_F(ResolverTest, GoodbyeRemovesTheCachedName) {
  Receive(Response({A(kName, "192.168.1.20")}));
  ASSERT_TRUE(resolver_.Lookup(now_, kName));
  Receive(Response({A(kName, "192.168.1.20", 0)}));
  EXPECT_FALSE(resolver_.Lookup(now_, kName));
  EXPECT_EQ(resolver_.stats().goodbyes, 1u);
  EXPECT_EQ(resolver_.cache_size(), 0u);
}

TEST_F(ResolverTest, TtlIsCapped) {
  Receive(Response({A(kName, "192.168.1.20", 0xFFFFFFFF)}));
  EXPECT_TRUE(resolver_.Lookup(now_ + TimeDelta::Seconds(3599), kName));
  EXPECT_FALSE(resolver_.Lookup(now_ + TimeDelta::Seconds(3600), kName));
}

TEST_F(ResolverTest, NameValidationAndLimits) {
  for (const char* bad : {"example.com", "local", "a..local", "", "foo bar.local"}) {
    EXPECT_EQ(resolver_.Resolve(now_, bad).error().code, ErrorCode::kInvalidArgument) << bad;
  }
  for (size_t i = 0; i < config_.max_pending; ++i) {
    ASSERT_TRUE(resolver_.Resolve(now_, "h" + std::to_string(i) + ".local"));
  }
  EXPECT_TRUE(resolver_.Resolve(now_, "h0.local"));  // already pending: fine
  EXPECT_EQ(resolver_.Resolve(now_, "one-more.local").error().code, ErrorCode::kLimitExceeded);
  resolver_.Cancel("h0.local");
  EXPECT_TRUE(resolver_.Resolve(now_, "one-more.local"));
}

TEST(ResolverCacheTest, CacheIsBoundedAndEvictsTheSoonestToExpire) {
  ResolverConfig c;
  c.max_cache_entries = 3;
  Resolver r(c);
  const Timestamp now = Timestamp::Seconds(1);
  const auto from = kResponderAddress;
  r.HandleReceive(now, from, Response({A("a.local", "10.0.0.1", 100)}));
  r.HandleReceive(now, from, Response({A("b.local", "10.0.0.2", 10)}));
  r.HandleReceive(now, from, Response({A("c.local", "10.0.0.3", 100)}));
  r.HandleReceive(now, from, Response({A("d.local", "10.0.0.4", 100)}));
  EXPECT_EQ(r.cache_size(), 3u);
  EXPECT_FALSE(r.Lookup(now, "b.local"));
  EXPECT_TRUE(r.Lookup(now, "a.local"));
  EXPECT_TRUE(r.Lookup(now, "d.local"));
  EXPECT_EQ(r.stats().cache_evictions, 1u);
}

TEST_F(ResolverTest, CancelStopsQueriesWithoutAnEvent) {
  ASSERT_TRUE(resolver_.Resolve(now_, kName));
  Drain();
  resolver_.Cancel(kName);
  Advance(TimeDelta::Seconds(10));
  EXPECT_EQ(sent_.size(), 1u);
  EXPECT_TRUE(events_.empty());
}

// --- Responder
// --------------------------------------------------------------------------------------------------

struct ResponderOut {
  SocketAddress to;
  Message message;
};
std::vector<ResponderOut> DrainResponder(Responder& r) {
  std::vector<ResponderOut> out;
  while (auto t = r.PollTransmit()) out.push_back({t->destination, *Message::Parse(t->data)});
  return out;
}
std::vector<uint8_t> Query(const char* name, uint16_t qtype, bool qu, uint16_t id = 0,
                           std::vector<ResourceRecord> known = {}) {
  Message m;
  m.header.id = id;
  m.questions.push_back(Question{Name(name), qtype, kClassIn, qu});
  m.answers = std::move(known);
  std::vector<uint8_t> out;
  EXPECT_TRUE(m.Serialize(out).ok());
  return out;
}

TEST(ResponderTest, AnnouncesAnswersAndSaysGoodbye) {
  Responder r;
  Timestamp now = Timestamp::Seconds(10);
  ASSERT_TRUE(r.Announce(now, kName, Ip("192.168.1.20")));
  ASSERT_TRUE(r.Announce(now, kName, Ip("fe80::20")));
  auto out = DrainResponder(r);
  ASSERT_EQ(out.size(), 2u);  // §8.3 announcements
  EXPECT_EQ(out[0].to, MulticastGroupV4());
  EXPECT_TRUE(out[0].message.header.response);
  EXPECT_TRUE(out[0].message.header.authoritative);
  EXPECT_TRUE(out[0].message.questions.empty());
  EXPECT_EQ(out[0].message.answers.at(0).ttl, 120u);
  EXPECT_TRUE(out[0].message.answers.at(0).cache_flush);

  now = now + TimeDelta::Seconds(5);
  const SocketAddress querier = *SocketAddress::Parse("192.168.1.10:5353");
  // A multicast (QM) query for A: answer multicast, AAAA in the additional section (§6.2).
  r.HandleReceive(now, querier, Query(kName, type::kA, false));
  out = DrainResponder(r);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].to, MulticastGroupV4());
  ASSERT_EQ(out[0].message.answers.size(), 1u);
  EXPECT_EQ(out[0].message.answers[0].address, Ip("192.168.1.20"));
  ASSERT_EQ(out[0].message.additionals.size(), 1u);
  EXPECT_EQ(out[0].message.additionals[0].address, Ip("fe80::20"));
  // Within a second of that multicast the same record is not multicast again (§6).
  now = now + TimeDelta::Millis(500);
  r.HandleReceive(now, querier, Query(kName, type::kA, false));
  EXPECT_TRUE(DrainResponder(r).empty());
  // A QU query gets a unicast answer (§5.4) regardless.
  r.HandleReceive(now, querier, Query(kName, type::kAaaa, true));
  out = DrainResponder(r);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].to, querier);
  EXPECT_EQ(out[0].message.answers.at(0).address, Ip("fe80::20"));
  // Queries for names we do not own get nothing.
  r.HandleReceive(now, querier, Query("other.local", type::kA, true));
  EXPECT_TRUE(DrainResponder(r).empty());

  ASSERT_TRUE(r.Withdraw(now, kName));
  out = DrainResponder(r);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].message.answers.size(), 2u);
  EXPECT_EQ(out[0].message.answers[0].ttl, 0u);  // goodbye (§10.1)
  EXPECT_EQ(out[0].message.answers[1].ttl, 0u);
  EXPECT_EQ(r.Withdraw(now, kName).error().code, ErrorCode::kNotFound);
  r.HandleReceive(now + TimeDelta::Seconds(10), querier, Query(kName, type::kA, true));
  EXPECT_TRUE(DrainResponder(r).empty());
}

TEST(ResponderTest, LegacyUnicastQueryGetsIdQuestionAndShortTtl) {
  Responder r;
  ASSERT_TRUE(r.Announce(Timestamp::Zero(), kName, Ip("192.168.1.20")));
  DrainResponder(r);
  const SocketAddress legacy = *SocketAddress::Parse("192.168.1.10:41000");
  r.HandleReceive(Timestamp::Seconds(5), legacy, Query(kName, type::kA, false, 0x1234));
  auto out = DrainResponder(r);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].to, legacy);  // §6.7: unicast to the source
  EXPECT_EQ(out[0].message.header.id, 0x1234);
  ASSERT_EQ(out[0].message.questions.size(), 1u);
  EXPECT_EQ(out[0].message.questions[0].name, Name(kName));
  EXPECT_EQ(out[0].message.answers.at(0).ttl, 10u);
  EXPECT_FALSE(out[0].message.answers.at(0).cache_flush);
}

TEST(ResponderTest, KnownAnswerSuppressionAndHostileInput) {
  Responder r;
  ASSERT_TRUE(r.Announce(Timestamp::Zero(), kName, Ip("192.168.1.20")));
  DrainResponder(r);
  const SocketAddress querier = *SocketAddress::Parse("192.168.1.10:5353");
  // §7.1: the querier lists the answer with more than half its TTL: no answer.
  r.HandleReceive(Timestamp::Seconds(5), querier,
                  Query(kName, type::kA, true, 0, {A(kName, "192.168.1.20", 100)}));
  EXPECT_TRUE(DrainResponder(r).empty());
  EXPECT_EQ(r.stats().answers_suppressed, 1u);
  // With less than half left, answer.
  r.HandleReceive(Timestamp::Seconds(5), querier,
                  Query(kName, type::kA, true, 0, {A(kName, "192.168.1.20", 30)}));
  EXPECT_EQ(DrainResponder(r).size(), 1u);
  r.HandleReceive(Timestamp::Seconds(5), querier, std::vector<uint8_t>{0xFF});
  EXPECT_EQ(r.stats().dropped_malformed, 1u);
  auto bad = Query(kName, type::kA, true);
  bad[2] = 0x08;  // opcode 1
  r.HandleReceive(Timestamp::Seconds(5), querier, bad);
  EXPECT_EQ(r.stats().dropped_bad_header, 1u);
  EXPECT_TRUE(DrainResponder(r).empty());
  EXPECT_EQ(r.Announce(Timestamp::Zero(), "bad name.local", Ip("1.2.3.4")).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.Announce(Timestamp::Zero(), "x.local", IpAddress()).error().code, ErrorCode::kInvalidArgument);
}

// --- Two nodes on an in-memory link
// ------------------------------------------------------------------------------

// A node: a resolver and a responder behind one address, as a driver with one socket on port 5353 would run
// them.
struct Node {
  SocketAddress address;
  Resolver resolver;
  Responder responder;
  std::vector<ResolverEvent> events;
};

// Delivers multicast to every node (the sender included: multicast loopback is on by default) and unicast to
// the node with that address, until the link is quiet.
void RunLink(std::vector<Node*> nodes, Timestamp now, int* datagrams = nullptr) {
  for (int round = 0; round < 100; ++round) {
    bool moved = false;
    for (Node* n : nodes) {
      auto deliver = [&](const Transmit& t) {
        moved = true;
        if (datagrams) ++*datagrams;
        const std::vector<uint8_t> bytes(t.data.begin(), t.data.end());
        const SocketAddress dest = t.destination;
        for (Node* m : nodes) {
          if (dest == MulticastGroupV4() || dest == m->address) {
            m->resolver.HandleReceive(now, n->address, bytes);
            m->responder.HandleReceive(now, n->address, bytes);
          }
        }
      };
      while (auto t = n->resolver.PollTransmit()) deliver(*t);
      while (auto t = n->responder.PollTransmit()) deliver(*t);
      while (auto e = n->resolver.PollEvent()) {
        moved = true;
        n->events.push_back(*e);
      }
    }
    if (!moved) return;
  }
  FAIL() << "link never went quiet";
}

TEST(MdnsPairTest, TwoNodesResolveEachOther) {
  Node a{*SocketAddress::Parse("192.168.1.10:5353"), Resolver(), Responder(), {}};
  Node b{*SocketAddress::Parse("192.168.1.20:5353"), Resolver(), Responder(), {}};
  const char* a_name = "0a0a0a0a-1111-4222-8333-444444444444.local";
  const char* b_name = "0b0b0b0b-5555-4666-8777-888888888888.local";
  Timestamp now = Timestamp::Seconds(50);
  ASSERT_TRUE(a.responder.Announce(now, a_name, Ip("192.168.1.10")));
  ASSERT_TRUE(b.responder.Announce(now, b_name, Ip("192.168.1.20")));
  // The announcements are lost on the link, so that the names must be queried.
  while (a.responder.PollTransmit() || b.responder.PollTransmit()) {
  }
  std::vector<Node*> link = {&a, &b};
  int datagrams = 0;
  now = now + TimeDelta::Seconds(2);
  ASSERT_TRUE(a.resolver.Resolve(now, b_name));
  ASSERT_TRUE(b.resolver.Resolve(now, a_name));
  RunLink(link, now, &datagrams);
  ASSERT_EQ(a.events.size(), 1u);
  EXPECT_EQ(a.events[0].kind, ResolverEvent::kResolved);
  EXPECT_EQ(a.events[0].name, b_name);
  EXPECT_EQ(a.events[0].ip, Ip("192.168.1.20"));
  ASSERT_EQ(b.events.size(), 1u);
  EXPECT_EQ(b.events[0].ip, Ip("192.168.1.10"));
  EXPECT_EQ(datagrams, 4);  // two queries (QU) and two unicast answers
  EXPECT_EQ(a.resolver.PollTimeout(), Timestamp::Infinity());

  // b withdraws its name: a's cache forgets it, and a new resolve fails after the timeout.
  ASSERT_TRUE(b.responder.Withdraw(now, b_name));
  RunLink(link, now);
  EXPECT_FALSE(a.resolver.Lookup(now, b_name));
  ASSERT_TRUE(a.resolver.Resolve(now, b_name));
  for (int i = 0; i < 10; ++i) {
    now = now + TimeDelta::Seconds(1);
    a.resolver.HandleTimeout(now);
    RunLink(link, now);
  }
  ASSERT_EQ(a.events.size(), 2u);
  EXPECT_EQ(a.events[1].kind, ResolverEvent::kFailed);
}

TEST(MdnsPairTest, LostFirstQueryIsRecoveredByTheRetransmission) {
  Node a{*SocketAddress::Parse("192.168.1.10:5353"), Resolver(), Responder(), {}};
  Node b{*SocketAddress::Parse("192.168.1.20:5353"), Resolver(), Responder(), {}};
  ASSERT_TRUE(b.responder.Announce(Timestamp::Zero(), kName, Ip("192.168.1.20")));
  while (b.responder.PollTransmit()) {
  }
  Timestamp now = Timestamp::Seconds(10);
  ASSERT_TRUE(a.resolver.Resolve(now, kName));
  ASSERT_TRUE(a.resolver.PollTransmit());  // lost on the link
  now = a.resolver.PollTimeout();
  EXPECT_EQ(now, Timestamp::Seconds(11));
  a.resolver.HandleTimeout(now);
  RunLink({&a, &b}, now);
  ASSERT_EQ(a.events.size(), 1u);
  EXPECT_EQ(a.events[0].kind, ResolverEvent::kResolved);
  EXPECT_EQ(a.events[0].ip, Ip("192.168.1.20"));
}

}  // namespace
}  // namespace tandem::mdns
