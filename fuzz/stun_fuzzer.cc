// libFuzzer harness for the STUN codec (src/stun/message.h): parse arbitrary bytes; on success exercise every
// getter and the integrity checks, then rebuild the message from its raw attributes and check the rebuild
// parses to the same thing, and that a rebuild signed with our own key verifies.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "stun/message.h"

namespace {

using namespace tandem;        // NOLINT(google-build-using-namespace): harness only
using namespace tandem::stun;  // NOLINT(google-build-using-namespace)

#define FUZZ_CHECK(cond)       \
  do {                         \
    if (!(cond)) std::abort(); \
  } while (0)

constexpr uint8_t kKeyBytes[] = {'f', 'u', 'z', 'z', '-', 'k', 'e', 'y'};
const ByteSpan kKey(kKeyBytes, sizeof(kKeyBytes));

// Types the TURN server understands; the rest are "unknown" to UnknownComprehensionRequired.
constexpr uint16_t kKnown[] = {attr::kUsername,
                               attr::kMessageIntegrity,
                               attr::kErrorCode,
                               attr::kChannelNumber,
                               attr::kLifetime,
                               attr::kXorPeerAddress,
                               attr::kData,
                               attr::kRealm,
                               attr::kNonce,
                               attr::kRequestedTransport,
                               attr::kDontFragment,
                               attr::kMessageIntegritySha256,
                               attr::kPasswordAlgorithm,
                               attr::kUserhash,
                               attr::kEvenPort,
                               attr::kRequestedAddressFamily,
                               attr::kReservationToken};

void ExerciseGetters(const MessageView& m) {
  volatile size_t sink = 0;
  sink = sink + (ToString(m.method())[0] != 0) + m.method_value();
  for (const RawAttribute& a : m.attributes()) {
    // The index must lie inside the message, pointing at its own TLV.
    FUZZ_CHECK(a.offset >= kHeaderSize);
    FUZZ_CHECK(a.offset + 4 + a.value.size() <= m.bytes().size());
    FUZZ_CHECK(a.value.data() == m.bytes().data() + a.offset + 4);
    FUZZ_CHECK(LoadBe16(m.bytes().data() + a.offset) == a.type);
    FUZZ_CHECK(m.Find(a.type) != nullptr && m.Has(a.type));
    sink = sink + (attr::Name(a.type)[0] != 0);
    if (auto v = m.GetAddress(a.type)) sink = sink + v->port();
    if (auto v = m.GetXorAddress(a.type)) sink = sink + v->port();
    if (auto v = m.GetU32(a.type)) sink = sink + *v;
    if (auto v = m.GetU64(a.type)) sink = sink + static_cast<size_t>(*v);
    if (auto v = m.GetString(a.type)) sink = sink + v->size();
    if (auto v = m.GetBytes(a.type)) sink = sink + v->size();
    if (auto v = m.GetAddressFamily(a.type)) sink = sink + *v;
    SocketAddress all[4];
    bool malformed = false;
    sink = sink + m.GetAllXorAddresses(a.type, all, &malformed) + malformed;
  }
  if (auto e = m.GetErrorCode()) {
    FUZZ_CHECK(e->code >= 300 && e->code <= 699);
    sink = sink + e->reason.size();
  }
  if (auto e = m.GetAddressErrorCode()) {
    FUZZ_CHECK(e->code >= 300 && e->code <= 699);
    sink = sink + e->family;
  }
  sink = sink + m.GetUnknownAttributes().size();
  sink = sink + m.GetChannelNumber().value_or(0);
  sink = sink + m.GetRequestedTransport().value_or(0);
  sink = sink + m.GetEvenPortReserve().value_or(false);
  if (auto c = m.GetChangeRequest()) sink = sink + c->change_ip + c->change_port;
  if (auto p = m.GetPasswordAlgorithm()) sink = sink + static_cast<uint16_t>(*p);
  sink = sink + m.GetPasswordAlgorithms().size();
  for (uint16_t t : m.UnknownComprehensionRequired(kKnown)) FUZZ_CHECK(attr::IsComprehensionRequired(t));
  sink =
      sink + m.VerifyMessageIntegrity(kKey) + m.VerifyMessageIntegritySha256(kKey) + m.HasValidFingerprint();
  (void)sink;
}

bool SameAttributes(const MessageView& a, const MessageView& b) {
  if (a.attributes().size() != b.attributes().size()) return false;
  for (size_t i = 0; i < a.attributes().size(); ++i) {
    const RawAttribute& x = a.attributes()[i];
    const RawAttribute& y = b.attributes()[i];
    if (x.type != y.type || x.value.size() != y.value.size()) return false;
    if (!x.value.empty() && std::memcmp(x.value.data(), y.value.data(), x.value.size()) != 0) return false;
  }
  return true;
}

void RoundTrip(const MessageView& m) {
  // 1. The same indexed attributes, raw, in order: must parse to the same message.
  std::vector<uint8_t> out;
  {
    MessageBuilder b(out, m.method(), m.message_class(), m.transaction_id());
    for (const RawAttribute& a : m.attributes()) b.AddBytes(a.type, a.value);
    const ByteSpan built = b.Finish();
    FUZZ_CHECK(built.size() <= m.bytes().size());  // only ignored attributes and padding bytes can be dropped
    auto r = MessageView::Parse(built);
    FUZZ_CHECK(r.ok());
    FUZZ_CHECK(r->method_value() == m.method_value());
    FUZZ_CHECK(r->message_class() == m.message_class());
    FUZZ_CHECK(r->transaction_id() == m.transaction_id());
    FUZZ_CHECK(SameAttributes(*r, m));
    FUZZ_CHECK(r->VerifyMessageIntegrity(kKey) == m.VerifyMessageIntegrity(kKey) ||
               !std::equal(built.begin(), built.end(), m.bytes().begin()));
  }

  // 2. The unauthenticated attributes, signed with our key and fingerprinted: everything must verify.
  size_t count = 0, body = 0;
  for (const RawAttribute& a : m.attributes()) {
    if (a.type == attr::kMessageIntegrity || a.type == attr::kMessageIntegritySha256 ||
        a.type == attr::kFingerprint) {
      continue;
    }
    ++count;
    body += 4 + ((a.value.size() + 3) & ~size_t{3});
  }
  if (count + 3 > kMaxAttributes || body + 24 + 36 + 8 > 0xFFFC) return;
  MessageBuilder b(out, m.method(), m.message_class(), m.transaction_id());
  for (const RawAttribute& a : m.attributes()) {
    if (a.type == attr::kMessageIntegrity || a.type == attr::kMessageIntegritySha256 ||
        a.type == attr::kFingerprint) {
      continue;
    }
    b.AddBytes(a.type, a.value);
  }
  b.AddMessageIntegrity(kKey).AddMessageIntegritySha256(kKey).AddFingerprint();
  auto r = MessageView::Parse(b.Finish());
  FUZZ_CHECK(r.ok());
  FUZZ_CHECK(r->attributes().size() == count + 3);
  FUZZ_CHECK(r->VerifyMessageIntegrity(kKey));
  FUZZ_CHECK(r->VerifyMessageIntegritySha256(kKey));
  FUZZ_CHECK(r->HasValidFingerprint());
  ExerciseGetters(*r);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ByteSpan in(data, size);
  const bool looks = MessageView::LooksLikeStun(in);
  auto r = MessageView::Parse(in);
  if (!r.ok()) return 0;
  FUZZ_CHECK(looks);  // anything Parse accepts passes the cheap demux check
  ExerciseGetters(*r);
  RoundTrip(*r);
  return 0;
}
