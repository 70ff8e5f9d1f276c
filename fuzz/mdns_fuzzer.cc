// libFuzzer harness for the Multicast DNS code (src/mdns): the DNS message parser, the resolver and the
// responder.
//
// Input: byte 0 picks the source port (5353 or a legacy one) and whether a name is being resolved; the rest
// is one datagram. Properties: Message::Parse never crashes and stays within its limits; whatever it accepts
// serializes (unless compression of the original was better than ours and the result would pass 9000 bytes)
// and parses back to the same message; the resolver and the responder swallow anything, and whatever they
// send parses.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "mdns/dns_message.h"
#include "mdns/resolver.h"
#include "mdns/responder.h"

namespace {

using namespace tandem;        // NOLINT(google-build-using-namespace): harness only
using namespace tandem::mdns;  // NOLINT(google-build-using-namespace): harness only

#define FUZZ_CHECK(cond)       \
  do {                         \
    if (!(cond)) std::abort(); \
  } while (0)

bool SameRecords(const std::vector<ResourceRecord>& a, const std::vector<ResourceRecord>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!(a[i].name == b[i].name) || a[i].type != b[i].type || a[i].rclass != b[i].rclass ||
        a[i].cache_flush != b[i].cache_flush || a[i].ttl != b[i].ttl || !(a[i].address == b[i].address) ||
        a[i].rdata != b[i].rdata) {
      return false;
    }
  }
  return true;
}

bool Same(const Message& a, const Message& b) {
  const Header& x = a.header;
  const Header& y = b.header;
  if (x.id != y.id || x.response != y.response || x.opcode != y.opcode ||
      x.authoritative != y.authoritative || x.truncated != y.truncated ||
      x.recursion_desired != y.recursion_desired || x.recursion_available != y.recursion_available ||
      x.rcode != y.rcode) {
    return false;
  }
  if (a.questions.size() != b.questions.size()) return false;
  for (size_t i = 0; i < a.questions.size(); ++i) {
    const auto& p = a.questions[i];
    const auto& q = b.questions[i];
    if (!(p.name == q.name) || p.type != q.type || p.qclass != q.qclass ||
        p.unicast_response != q.unicast_response) {
      return false;
    }
  }
  return SameRecords(a.answers, b.answers) && SameRecords(a.authorities, b.authorities) &&
         SameRecords(a.additionals, b.additionals);
}

void CheckOutput(ByteSpan data) { FUZZ_CHECK(Message::Parse(data).ok()); }

}  // namespace

// libFuzzer's entropic scheduler costs more than a run of this harness does (a run touches ~20k features);
// unless the command line says otherwise, turn it off (measured here: ~4x the executions per second).
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  static std::vector<char*> args;
  for (int i = 0; i < *argc; ++i) {
    if (std::strncmp((*argv)[i], "-entropic=", 10) == 0) return 0;
    args.push_back((*argv)[i]);
  }
  static char entropic_off[] = "-entropic=0";
  args.push_back(entropic_off);
  args.push_back(nullptr);
  *argc = static_cast<int>(args.size()) - 1;
  *argv = args.data();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  const ByteSpan packet(data + 1, size - 1);

  auto parsed = Message::Parse(packet);
  if (parsed.ok()) {
    const Message& m = *parsed;
    FUZZ_CHECK(m.questions.size() <= kMaxQuestions);
    FUZZ_CHECK(m.answers.size() + m.authorities.size() + m.additionals.size() <= kMaxRecords);
    std::vector<uint8_t> again;
    const Status s = m.Serialize(again);
    if (s.ok()) {
      auto reparsed = Message::Parse(again);
      FUZZ_CHECK(reparsed.ok());
      FUZZ_CHECK(Same(m, *reparsed));
    } else {
      FUZZ_CHECK(s.error().code == ErrorCode::kLimitExceeded);
    }
  }

  const SocketAddress from(IpAddress::V4({192, 168, 1, 10}), (mode & 0x01) ? 40000 : kMdnsPort);
  const Timestamp now = Timestamp::Seconds(100);

  ResolverConfig rc;
  rc.max_cache_entries = 4;
  Resolver resolver(rc);
  if (mode & 0x02) (void)resolver.Resolve(now, "target.local");
  resolver.HandleReceive(now, from, packet);
  resolver.HandleTimeout(now + TimeDelta::Seconds(1));
  while (auto t = resolver.PollTransmit()) CheckOutput(t->data);
  while (auto e = resolver.PollEvent()) FUZZ_CHECK(e->name == "target.local");
  FUZZ_CHECK(resolver.cache_size() <= 4);

  Responder responder;
  (void)responder.Announce(now, "target.local", IpAddress::V4({192, 168, 1, 20}));
  if (mode & 0x04) (void)responder.Announce(now, "target.local", *IpAddress::Parse("fe80::20"));
  while (responder.PollTransmit()) {
  }
  responder.HandleReceive(now + TimeDelta::Seconds(2), from, packet);
  while (auto t = responder.PollTransmit()) CheckOutput(t->data);
  return 0;
}
