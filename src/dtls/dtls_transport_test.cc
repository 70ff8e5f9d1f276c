// DtlsTransport: two transports over an in-memory network on a fake clock (dtls_test_pair.h).
#include "dtls/dtls_transport.h"

#include <gtest/gtest.h>
#include <openssl/rsa.h>

#include <numeric>

#include "core/rng.h"
#include "dtls/certificate_internal.h"
#include "dtls/dtls_test_pair.h"
#include "dtls/record.h"

namespace tandem::dtls {
namespace {

using testing::DtlsPair;
using testing::TestCertificate;
using Action = DtlsPair::Action;
using Kind = DtlsEvent::Kind;

std::vector<uint8_t> Pattern(size_t size, uint8_t seed = 0) {
  std::vector<uint8_t> v(size);
  for (size_t i = 0; i < size; ++i) v[i] = static_cast<uint8_t>(i * 31 + seed);
  return v;
}

size_t CountKind(const std::vector<DtlsEvent>& events, Kind kind) {
  return static_cast<size_t>(
      std::count_if(events.begin(), events.end(), [kind](const DtlsEvent& e) { return e.kind == kind; }));
}

const DtlsEvent* Find(const std::vector<DtlsEvent>& events, Kind kind) {
  for (const auto& e : events) {
    if (e.kind == kind) return &e;
  }
  return nullptr;
}

// Datagrams sent by `side`, in order.
std::vector<DtlsPair::Datagram> SentBy(const DtlsPair& pair, DtlsPair::Side side) {
  std::vector<DtlsPair::Datagram> out;
  for (const auto& d : pair.sent) {
    if (d.from == side) out.push_back(d);
  }
  return out;
}

// ---- handshake ----

TEST(DtlsTransportTest, HandshakeClientStartsFirst) {
  DtlsPair pair;
  pair.client().Start(pair.now);
  EXPECT_EQ(pair.client().state(), DtlsState::kConnecting);
  EXPECT_EQ(pair.server().state(), DtlsState::kNew);
  pair.Exchange();  // the server accepts the ClientHello before its own Start()
  pair.server().Start(pair.now);
  ASSERT_TRUE(pair.RunUntil([&] { return pair.Connected(); }, TimeDelta::Seconds(10)));
  EXPECT_EQ(CountKind(pair.events[DtlsPair::kClient], Kind::kConnected), 1u);
  EXPECT_EQ(CountKind(pair.events[DtlsPair::kServer], Kind::kConnected), 1u);
  // No retransmission and no time needed on a lossless network: four flights, each one datagram at mtu 1200.
  EXPECT_EQ(pair.now, Timestamp::Seconds(1000));
  EXPECT_EQ(pair.sent.size(), 4u);
  EXPECT_EQ(pair.client().stats().retransmissions + pair.server().stats().retransmissions, 0u);
  EXPECT_EQ(pair.client().stats().flights_sent, 2u);
  EXPECT_EQ(pair.server().stats().flights_sent, 1u);  // its final flight has no timer
  EXPECT_EQ(pair.client().PollTimeout(), Timestamp::Infinity());
  EXPECT_EQ(pair.server().PollTimeout(), Timestamp::Infinity());
}

TEST(DtlsTransportTest, HandshakeServerStartsFirst) {
  DtlsPair pair;
  pair.server().Start(pair.now);
  EXPECT_EQ(pair.server().state(), DtlsState::kConnecting);
  pair.Exchange();
  EXPECT_TRUE(pair.sent.empty());  // a server waits for the ClientHello
  pair.now = pair.now + TimeDelta::Millis(500);
  pair.client().Start(pair.now);
  ASSERT_TRUE(pair.RunUntil([&] { return pair.Connected(); }, TimeDelta::Seconds(10)));
  EXPECT_EQ(pair.client().role(), Role::kClient);
  EXPECT_EQ(pair.server().role(), Role::kServer);
}

TEST(DtlsTransportTest, NegotiatesMandatorySuiteWithExtendedMasterSecret) {
  DtlsPair pair;
  ASSERT_TRUE(pair.Handshake());
  for (auto side : {DtlsPair::kClient, DtlsPair::kServer}) {
    auto n = pair.at(side).negotiated();
    ASSERT_TRUE(n.has_value());
    // RFC 8827 §6.5's mandatory suite (our first preference) and RFC 7627.
    EXPECT_EQ(n->cipher_suite, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256");
    EXPECT_TRUE(n->extended_master_secret);
    EXPECT_EQ(n->srtp_profile, SrtpProfile::kNone);
  }
  EXPECT_EQ(pair.client().remote_certificate_der(), TestCertificate(1).Der());
  EXPECT_EQ(pair.server().remote_certificate_der(), TestCertificate(0).Der());
}

TEST(DtlsTransportTest, ClientDatagramBeforeStartIsDropped) {
  DtlsPair pair;
  pair.server().Start(pair.now);
  // Nothing from the server yet, so feed the client something well-formed.
  const uint8_t alert[] = {21, 0xFE, 0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 40};
  pair.client().HandleReceive(pair.now, alert);
  EXPECT_EQ(pair.client().stats().dropped_wrong_state, 1u);
  EXPECT_EQ(pair.client().state(), DtlsState::kNew);
  EXPECT_FALSE(pair.client().PollTransmit().has_value());
}

TEST(DtlsTransportTest, StartTwiceHasNoEffect) {
  DtlsPair pair;
  pair.client().Start(pair.now);
  pair.client().Start(pair.now + TimeDelta::Millis(1));
  size_t datagrams = 0;
  while (pair.client().PollTransmit()) ++datagrams;
  EXPECT_EQ(datagrams, 1u);
  EXPECT_EQ(pair.client().stats().flights_sent, 1u);
}

// ---- application data ----

TEST(DtlsTransportTest, DataBothWaysAllSizes) {
  DtlsPair pair;
  ASSERT_TRUE(pair.Handshake());
  const std::vector<size_t> sizes = {1, 2, 100, 1000, 1100, 1200, 4000, 9000, 16383, 16384};
  for (size_t i = 0; i < sizes.size(); ++i) {
    const auto a = Pattern(sizes[i], static_cast<uint8_t>(i));
    const auto b = Pattern(sizes[i], static_cast<uint8_t>(i + 100));
    ASSERT_TRUE(pair.client().Send(a).ok()) << sizes[i];
    ASSERT_TRUE(pair.server().Send(b).ok()) << sizes[i];
    pair.Exchange();
    ASSERT_EQ(pair.received[DtlsPair::kServer].size(), i + 1);
    ASSERT_EQ(pair.received[DtlsPair::kClient].size(), i + 1);
    EXPECT_EQ(pair.received[DtlsPair::kServer].back(), a);
    EXPECT_EQ(pair.received[DtlsPair::kClient].back(), b);
  }
  const uint64_t total = std::accumulate(sizes.begin(), sizes.end(), uint64_t{0});
  EXPECT_EQ(pair.client().stats().application_bytes_sent, total);
  EXPECT_EQ(pair.server().stats().application_bytes_received, total);
  EXPECT_EQ(pair.server().stats().application_records_received, sizes.size());
}

TEST(DtlsTransportTest, SendErrors) {
  DtlsPair pair;
  EXPECT_EQ(pair.client().Send(Pattern(10)).error().code, ErrorCode::kUnavailable);
  ASSERT_TRUE(pair.Handshake());
  EXPECT_EQ(pair.client().Send({}).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(pair.client().Send(Pattern(16385)).error().code, ErrorCode::kLimitExceeded);
  EXPECT_TRUE(pair.client().Send(Pattern(16384)).ok());
}

TEST(DtlsTransportTest, SmallRecordsShareADatagramUpToTheMtu) {
  DtlsPair pair;
  ASSERT_TRUE(pair.Handshake());
  const size_t before = pair.sent.size();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(pair.client().Send(Pattern(100, static_cast<uint8_t>(i))).ok());
  pair.Exchange();
  // 10 records of 100 + 29 bytes: nine fit in 1200 bytes, so two datagrams (RFC 6347 §4.1.1).
  EXPECT_EQ(pair.sent.size() - before, 2u);
  ASSERT_EQ(pair.received[DtlsPair::kServer].size(), 10u);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(pair.received[DtlsPair::kServer][i], Pattern(100, static_cast<uint8_t>(i)));
  }
}

TEST(DtlsTransportTest, MaxApplicationDataFitsTheMtu) {
  DtlsPair pair;
  const size_t estimate = pair.client().max_application_data();
  ASSERT_TRUE(pair.Handshake());
  const size_t exact = pair.client().max_application_data();
  EXPECT_GE(exact, estimate);  // the estimate before the handshake is conservative
  EXPECT_LE(exact, 1200u);
  ASSERT_TRUE(pair.client().Send(Pattern(exact)).ok());
  auto datagram = pair.client().PollTransmit();
  ASSERT_TRUE(datagram.has_value());
  EXPECT_LE(datagram->size(), 1200u);
  EXPECT_GT(datagram->size(), 1200u - 16);
  ASSERT_TRUE(pair.client().Send(Pattern(exact + 1)).ok());
  EXPECT_GT(pair.client().PollTransmit()->size(), 1200u);
}

// ---- fingerprints ----

TEST(DtlsTransportTest, FingerprintMismatchFailsBothSides) {
  auto client = DtlsPair::ClientConfig();
  client.remote_fingerprints = {TestCertificate(0).GetFingerprint()};  // not the server's certificate
  DtlsPair pair(client);
  pair.StartBoth();
  pair.RunUntil([&] { return pair.client().state() == DtlsState::kFailed; }, TimeDelta::Seconds(60));
  ASSERT_EQ(pair.client().state(), DtlsState::kFailed);
  ASSERT_EQ(pair.server().state(), DtlsState::kFailed);
  const DtlsEvent* c = Find(pair.events[DtlsPair::kClient], Kind::kFailed);
  const DtlsEvent* s = Find(pair.events[DtlsPair::kServer], Kind::kFailed);
  ASSERT_NE(c, nullptr);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(c->reason, "remote certificate does not match the SDP fingerprint");
  EXPECT_EQ(s->reason, "peer sent fatal alert: bad certificate");  // the client sent an alert
  EXPECT_EQ(CountKind(pair.events[DtlsPair::kClient], Kind::kConnected), 0u);
  EXPECT_EQ(pair.client().PollTimeout(), Timestamp::Infinity());
  EXPECT_EQ(pair.server().PollTimeout(), Timestamp::Infinity());
  EXPECT_FALSE(pair.client().ExportSrtpKeys().ok());
}

TEST(DtlsTransportTest, ServerRejectsClientCertificateWithWrongFingerprint) {
  auto server = DtlsPair::ServerConfig();
  server.remote_fingerprints = {TestCertificate(1).GetFingerprint()};  // not the client's certificate
  DtlsPair pair(DtlsPair::ClientConfig(), server);
  pair.StartBoth();
  pair.RunUntil([&] { return pair.server().state() == DtlsState::kFailed; }, TimeDelta::Seconds(60));
  ASSERT_EQ(pair.server().state(), DtlsState::kFailed);
  EXPECT_EQ(Find(pair.events[DtlsPair::kServer], Kind::kFailed)->reason,
            "remote certificate does not match the SDP fingerprint");
  EXPECT_EQ(pair.client().state(), DtlsState::kFailed);
  EXPECT_EQ(Find(pair.events[DtlsPair::kClient], Kind::kFailed)->reason,
            "peer sent fatal alert: bad certificate");
}

TEST(DtlsTransportTest, AcceptsAnyOfSeveralFingerprintsOfTheStrongestAlgorithm) {
  auto client = DtlsPair::ClientConfig();
  const auto& server_cert = TestCertificate(1);
  client.remote_fingerprints = {TestCertificate(0).GetFingerprint("sha-384").value(),
                                server_cert.GetFingerprint("sha-384").value(), server_cert.GetFingerprint()};
  DtlsPair pair(client);
  EXPECT_TRUE(pair.Handshake());
}

TEST(DtlsTransportTest, LateFingerprintHoldsConnectedAndData) {
  // The offerer (here the server) can receive the ClientHello before the answer carrying the client's
  // fingerprint.
  auto server = DtlsPair::ServerConfig();
  server.remote_fingerprints.clear();
  DtlsPair pair(DtlsPair::ClientConfig(), server);
  pair.StartBoth();
  ASSERT_TRUE(
      pair.RunUntil([&] { return pair.client().state() == DtlsState::kConnected; }, TimeDelta::Seconds(10)));
  EXPECT_EQ(pair.server().state(), DtlsState::kConnecting);  // handshake done, fingerprint unknown
  EXPECT_TRUE(pair.events[DtlsPair::kServer].empty());
  EXPECT_EQ(pair.server().Send(Pattern(5)).error().code, ErrorCode::kUnavailable);
  // The client is connected and talks; the server holds what arrives.
  ASSERT_TRUE(pair.client().Send(Pattern(300, 1)).ok());
  ASSERT_TRUE(pair.client().Send(Pattern(400, 2)).ok());
  pair.Exchange();
  EXPECT_TRUE(pair.received[DtlsPair::kServer].empty());
  EXPECT_LT(pair.server().PollTimeout(), Timestamp::Infinity());  // the handshake timeout still runs

  pair.server().SetRemoteFingerprints({TestCertificate(0).GetFingerprint()});
  EXPECT_EQ(pair.server().state(), DtlsState::kConnected);
  pair.Exchange();
  ASSERT_EQ(pair.events[DtlsPair::kServer].size(), 1u);
  EXPECT_EQ(pair.events[DtlsPair::kServer][0].kind, Kind::kConnected);
  ASSERT_EQ(pair.received[DtlsPair::kServer].size(), 2u);
  EXPECT_EQ(pair.received[DtlsPair::kServer][0], Pattern(300, 1));
  EXPECT_EQ(pair.received[DtlsPair::kServer][1], Pattern(400, 2));
  EXPECT_EQ(pair.server().PollTimeout(), Timestamp::Infinity());
}

TEST(DtlsTransportTest, FingerprintNeverProvidedFailsAtTheHandshakeDeadline) {
  auto server = DtlsPair::ServerConfig();
  server.remote_fingerprints.clear();
  DtlsPair pair(DtlsPair::ClientConfig(), server);
  pair.StartBoth();
  pair.RunUntil([&] { return pair.server().state() == DtlsState::kFailed; }, TimeDelta::Seconds(60));
  ASSERT_EQ(pair.server().state(), DtlsState::kFailed);
  EXPECT_EQ(pair.now, Timestamp::Seconds(1030));
  EXPECT_EQ(Find(pair.events[DtlsPair::kServer], Kind::kFailed)->reason,
            "remote fingerprint not provided within 30000 ms");
}

TEST(DtlsTransportTest, HeldDataIsBounded) {
  auto server = DtlsPair::ServerConfig();
  server.remote_fingerprints.clear();
  server.max_held_records = 3;
  server.max_held_bytes = 1000;
  DtlsPair pair(DtlsPair::ClientConfig(), server);
  pair.StartBoth();
  ASSERT_TRUE(
      pair.RunUntil([&] { return pair.client().state() == DtlsState::kConnected; }, TimeDelta::Seconds(10)));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(pair.client().Send(Pattern(200, static_cast<uint8_t>(i))).ok());
  ASSERT_TRUE(pair.client().Send(Pattern(900, 9)).ok());  // over the byte bound even with room for records
  pair.Exchange();
  EXPECT_EQ(pair.server().stats().application_records_dropped, 3u);
  pair.server().SetRemoteFingerprints({TestCertificate(0).GetFingerprint()});
  pair.Exchange();
  ASSERT_EQ(pair.received[DtlsPair::kServer].size(), 3u);
  EXPECT_EQ(pair.received[DtlsPair::kServer][2], Pattern(200, 2));
}

TEST(DtlsTransportTest, LateFingerprintMismatchFailsAndClosesThePeer) {
  auto server = DtlsPair::ServerConfig();
  server.remote_fingerprints.clear();
  DtlsPair pair(DtlsPair::ClientConfig(), server);
  pair.StartBoth();
  ASSERT_TRUE(
      pair.RunUntil([&] { return pair.client().state() == DtlsState::kConnected; }, TimeDelta::Seconds(10)));
  pair.server().SetRemoteFingerprints({TestCertificate(1).GetFingerprint()});
  EXPECT_EQ(pair.server().state(), DtlsState::kFailed);
  pair.Exchange();
  ASSERT_EQ(pair.events[DtlsPair::kServer].size(), 1u);
  EXPECT_EQ(pair.events[DtlsPair::kServer][0].reason,
            "remote certificate does not match the SDP fingerprint");
  EXPECT_EQ(pair.client().state(), DtlsState::kClosed);  // told by close_notify
  EXPECT_EQ(Find(pair.events[DtlsPair::kClient], Kind::kClosed)->reason, "peer sent close_notify");
}

TEST(DtlsTransportTest, FingerprintSetDuringHandshakeIsUsed) {
  auto client = DtlsPair::ClientConfig();
  client.remote_fingerprints.clear();
  DtlsPair pair(client);
  pair.client().Start(pair.now);
  pair.client().SetRemoteFingerprints(
      {TestCertificate(0).GetFingerprint()});  // wrong, before the server's flight
  pair.server().Start(pair.now);
  pair.RunUntil([&] { return pair.client().state() == DtlsState::kFailed; }, TimeDelta::Seconds(10));
  EXPECT_EQ(pair.client().state(), DtlsState::kFailed);
}

TEST(DtlsTransportTest, PeerWithRsaCertificateConnects) {
  // Older WebRTC stacks present RSA certificates; the ECDHE-RSA suites cover them.
  internal::OpenSslPtr<EVP_PKEY> key(EVP_RSA_gen(2048));
  ASSERT_TRUE(key);
  internal::OpenSslPtr<X509> x509(X509_new());
  X509_set_version(x509.get(), X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(x509.get()), 7);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(x509.get()), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("rsa"), -1, -1, 0);
  X509_set_issuer_name(x509.get(), X509_get_subject_name(x509.get()));
  X509_gmtime_adj(X509_getm_notBefore(x509.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(x509.get()), 86400);
  X509_set_pubkey(x509.get(), key.get());
  ASSERT_GT(X509_sign(x509.get(), key.get(), EVP_sha256()), 0);
  auto rsa = CertificateAccess::Make(std::move(x509), std::move(key));
  ASSERT_TRUE(rsa.ok());

  DtlsPair pair(testing::MakeConfig(Role::kClient, TestCertificate(0), *rsa),
                testing::MakeConfig(Role::kServer, *rsa, TestCertificate(0)));
  ASSERT_TRUE(pair.Handshake());
  EXPECT_EQ(pair.client().negotiated()->cipher_suite, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
}

// ---- loss and retransmission ----

struct LossCase {
  const char* name;
  DtlsPair::Side lost_side;  // who sends the lost flight
  size_t lost_index;         // which of its datagrams (each flight is one datagram at mtu 1200)
  DtlsPair::Side repeater;   // whose timer recovers it
  size_t repeated_index;     // the repeater's datagram that is sent again
  uint64_t client_retransmissions;
  uint64_t server_retransmissions;
  size_t total_datagrams;
};

class FlightLossTest : public ::testing::TestWithParam<LossCase> {};

TEST_P(FlightLossTest, RecoversByRetransmissionExactlyAtTheDeadline) {
  const LossCase c = GetParam();
  DtlsPair pair;
  pair.policy = [c](const DtlsPair::Datagram& d) {
    return d.from == c.lost_side && d.index == c.lost_index ? Action::kDrop : Action::kDeliver;
  };
  ASSERT_TRUE(pair.Handshake());
  EXPECT_EQ(pair.now, Timestamp::Seconds(1000) + TimeDelta::Millis(100));
  EXPECT_EQ(pair.sent.size(), c.total_datagrams);
  EXPECT_EQ(pair.client().stats().retransmissions, c.client_retransmissions);
  EXPECT_EQ(pair.server().stats().retransmissions, c.server_retransmissions);
  // The repeated flight goes out again exactly initial_retransmit (100 ms) later, same size, new record
  // numbers.
  const auto repeater_sent = SentBy(pair, c.repeater);
  ASSERT_GT(repeater_sent.size(), c.repeated_index + 1);
  const auto& original = repeater_sent[c.repeated_index];
  const auto& again = repeater_sent[c.repeated_index + 1];
  EXPECT_EQ(again.sent_at - original.sent_at, TimeDelta::Millis(100));
  EXPECT_EQ(again.bytes.size(), original.bytes.size());
  EXPECT_NE(again.bytes, original.bytes);
  if (c.repeater != c.lost_side) {
    // The server's final flight has no timer (RFC 6347 §4.2.4): the client's resent last flight makes the
    // server send it again.
    const auto server_sent = SentBy(pair, DtlsPair::kServer);
    ASSERT_EQ(server_sent.size(), c.lost_index + 2);
    EXPECT_EQ(server_sent.back().bytes.size(), server_sent[c.lost_index].bytes.size());
    EXPECT_EQ(server_sent.back().sent_at, again.sent_at);
  }
}

// Both sides arm a timer for their flight at the same instant, so a lost server flight or client Finished
// flight has both timers fire at 100 ms; the stale copy is ignored by its receiver.
INSTANTIATE_TEST_SUITE_P(
    EachFlight, FlightLossTest,
    ::testing::Values(LossCase{"ClientHello", DtlsPair::kClient, 0, DtlsPair::kClient, 0, 1, 0, 5},
                      LossCase{"ServerHelloFlight", DtlsPair::kServer, 0, DtlsPair::kServer, 0, 1, 1, 6},
                      LossCase{"ClientFinishedFlight", DtlsPair::kClient, 1, DtlsPair::kClient, 1, 1, 1, 6},
                      LossCase{"ServerFinished", DtlsPair::kServer, 1, DtlsPair::kClient, 1, 1, 0, 6}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(DtlsTransportTest, NoRetransmissionBeforeTheDeadline) {
  DtlsPair pair;
  pair.client().Start(pair.now);
  ASSERT_TRUE(pair.client().PollTransmit().has_value());  // the ClientHello, lost
  const Timestamp deadline = pair.now + TimeDelta::Millis(100);
  EXPECT_EQ(pair.client().PollTimeout(), deadline);
  pair.client().HandleTimeout(deadline - TimeDelta::Micros(1));
  EXPECT_FALSE(pair.client().PollTransmit().has_value());
  // Input that reaches OpenSSL does not trigger a resend either (its own read-path timer stays quiet): a
  // record of the next epoch that OpenSSL discards after reading it.
  const uint8_t next_epoch[] = {23, 0xFE, 0xFD, 0, 1, 0, 0, 0, 0, 0, 9, 0, 4, 1, 2, 3, 4};
  pair.client().HandleReceive(deadline - TimeDelta::Micros(1), next_epoch);
  EXPECT_EQ(pair.client().stats().malformed_dropped, 0u);
  EXPECT_EQ(pair.client().stats().records_received, 1u);
  EXPECT_FALSE(pair.client().PollTransmit().has_value());
  EXPECT_EQ(pair.client().state(), DtlsState::kConnecting);
  pair.client().HandleTimeout(deadline);
  EXPECT_TRUE(pair.client().PollTransmit().has_value());
  EXPECT_FALSE(pair.client().PollTransmit().has_value());
  EXPECT_EQ(pair.client().PollTimeout(), deadline + TimeDelta::Millis(200));
}

TEST(DtlsTransportTest, RetransmissionBackoffDoublesToTheCapThenHandshakeTimesOut) {
  DtlsPair pair;
  pair.policy = [](const DtlsPair::Datagram&) { return Action::kDrop; };  // total loss
  const Timestamp start = pair.now;
  pair.client().Start(pair.now);
  pair.RunUntil([&] { return pair.client().state() == DtlsState::kFailed; }, TimeDelta::Seconds(60));
  ASSERT_EQ(pair.client().state(), DtlsState::kFailed);
  // RFC 6347 §4.2.4.1: 100, 200, 400, 800, 1600, 3200 ms, then the 4 s cap, until 30 s after Start().
  std::vector<int64_t> offsets_ms;
  for (const auto& d : SentBy(pair, DtlsPair::kClient)) offsets_ms.push_back((d.sent_at - start).ms());
  const std::vector<int64_t> expected = {0,    100,   300,   700,   1500,  3100,
                                         6300, 10300, 14300, 18300, 22300, 26300};
  EXPECT_EQ(offsets_ms, expected);
  EXPECT_EQ(pair.now, start + TimeDelta::Seconds(30));
  EXPECT_EQ(pair.client().stats().retransmissions, 11u);
  const DtlsEvent* failed = Find(pair.events[DtlsPair::kClient], Kind::kFailed);
  ASSERT_NE(failed, nullptr);
  EXPECT_EQ(failed->reason, "DTLS handshake did not complete within 30000 ms");
  EXPECT_EQ(pair.client().PollTimeout(), Timestamp::Infinity());
}

TEST(DtlsTransportTest, ServerWithoutClientTimesOut) {
  DtlsPair pair;
  pair.server().Start(pair.now);
  EXPECT_EQ(pair.server().PollTimeout(), pair.now + TimeDelta::Seconds(30));
  pair.server().HandleTimeout(pair.now + TimeDelta::Seconds(30) - TimeDelta::Micros(1));
  EXPECT_EQ(pair.server().state(), DtlsState::kConnecting);
  pair.server().HandleTimeout(pair.now + TimeDelta::Seconds(30));
  EXPECT_EQ(pair.server().state(), DtlsState::kFailed);
}

TEST(DtlsTransportTest, ManyRetransmissionsAreCappedPerFlight) {
  auto client = DtlsPair::ClientConfig();
  client.initial_retransmit = TimeDelta::Millis(10);
  client.max_retransmit = TimeDelta::Millis(10);
  DtlsPair pair(client);
  pair.policy = [](const DtlsPair::Datagram&) { return Action::kDrop; };
  pair.client().Start(pair.now);
  pair.RunUntil([&] { return pair.client().state() == DtlsState::kFailed; }, TimeDelta::Seconds(60));
  EXPECT_EQ(pair.client().stats().retransmissions,
            static_cast<uint64_t>(DtlsTransport::kMaxRetransmissionsPerFlight));
  EXPECT_EQ(pair.now, Timestamp::Seconds(1030));  // after the copies run out, the handshake deadline decides
}

TEST(DtlsTransportTest, RandomLossStillConnects) {
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    SeededRng rng(seed);
    DtlsPair pair;
    pair.policy = [&rng](const DtlsPair::Datagram&) {
      return rng.Uniform(0, 99) < 30 ? Action::kDrop : Action::kDeliver;
    };
    ASSERT_TRUE(pair.Handshake(TimeDelta::Seconds(30))) << "seed " << seed;
    ASSERT_TRUE(pair.client().Send(Pattern(50)).ok());
    pair.policy = nullptr;
    pair.Exchange();
    EXPECT_EQ(pair.received[DtlsPair::kServer].size(), 1u);
  }
}

TEST(DtlsTransportTest, DuplicatedDatagramsConnectAndDeliverOnce) {
  DtlsPair pair;
  pair.policy = [](const DtlsPair::Datagram&) { return Action::kDuplicate; };
  ASSERT_TRUE(pair.Handshake());
  EXPECT_EQ(CountKind(pair.events[DtlsPair::kClient], Kind::kConnected), 1u);
  EXPECT_EQ(CountKind(pair.events[DtlsPair::kServer], Kind::kConnected), 1u);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(pair.client().Send(Pattern(1000, static_cast<uint8_t>(i))).ok());
  pair.Exchange();
  // DTLS replay detection (RFC 6347 §4.1.2.6) drops the second copy of each record.
  ASSERT_EQ(pair.received[DtlsPair::kServer].size(), 3u);
}

TEST(DtlsTransportTest, ReorderedFlightFragmentsConnectWithoutRetransmission) {
  auto client = DtlsPair::ClientConfig();
  auto server = DtlsPair::ServerConfig();
  client.mtu = server.mtu = 256;  // the server's flight spans several datagrams
  DtlsPair pair(client, server);
  pair.policy = [](const DtlsPair::Datagram& d) {
    return d.from == DtlsPair::kServer ? Action::kHold : Action::kDeliver;
  };
  pair.StartBoth();
  pair.Exchange();
  ASSERT_GE(pair.held().size(), 3u);
  std::vector<size_t> reversed(pair.held().size());
  std::iota(reversed.rbegin(), reversed.rend(), 0);
  pair.policy = nullptr;
  pair.DeliverHeld(reversed);
  ASSERT_TRUE(pair.RunUntil([&] { return pair.Connected(); }, TimeDelta::Seconds(10)));
  EXPECT_EQ(pair.client().stats().retransmissions + pair.server().stats().retransmissions, 0u);
}

TEST(DtlsTransportTest, MtuIsRespectedForEveryDatagram) {
  for (size_t mtu : {256u, 300u, 576u, 1200u}) {
    auto client = DtlsPair::ClientConfig();
    auto server = DtlsPair::ServerConfig();
    client.mtu = server.mtu = mtu;
    DtlsPair pair(client, server);
    // Lose the first server flight so that retransmissions are checked too.
    pair.policy = [](const DtlsPair::Datagram& d) {
      return d.from == DtlsPair::kServer && d.index == 0 ? Action::kDrop : Action::kDeliver;
    };
    ASSERT_TRUE(pair.Handshake()) << mtu;
    for (int i = 0; i < 20; ++i) {
      ASSERT_TRUE(
          pair.client().Send(Pattern(pair.client().max_application_data(), static_cast<uint8_t>(i))).ok());
      ASSERT_TRUE(pair.server().Send(Pattern(1 + i * 7)).ok());
    }
    pair.Exchange();
    EXPECT_EQ(pair.received[DtlsPair::kServer].size(), 20u);
    size_t largest = 0;
    for (const auto& d : pair.sent) largest = std::max(largest, d.bytes.size());
    EXPECT_LE(largest, mtu);
    if (mtu < 1200) {
      EXPECT_GT(pair.sent.size(), 8u) << "handshake messages were fragmented";
    }
  }
}

// ---- SRTP ----

struct SrtpCase {
  const char* name;
  std::vector<SrtpProfile> client;
  std::vector<SrtpProfile> server;
  SrtpProfile expected;
};

class SrtpNegotiationTest : public ::testing::TestWithParam<SrtpCase> {};

TEST_P(SrtpNegotiationTest, SelectsProfileAndExportsCrosswiseKeys) {
  const SrtpCase c = GetParam();
  auto client = DtlsPair::ClientConfig();
  auto server = DtlsPair::ServerConfig();
  client.srtp_profiles = c.client;
  server.srtp_profiles = c.server;
  DtlsPair pair(client, server);
  ASSERT_TRUE(pair.Handshake());
  EXPECT_EQ(pair.client().srtp_profile(), c.expected);
  EXPECT_EQ(pair.server().srtp_profile(), c.expected);
  auto ck = pair.client().ExportSrtpKeys();
  auto sk = pair.server().ExportSrtpKeys();
  if (c.expected == SrtpProfile::kNone) {
    EXPECT_EQ(ck.error().code, ErrorCode::kNotFound);
    EXPECT_EQ(sk.error().code, ErrorCode::kNotFound);
    return;
  }
  ASSERT_TRUE(ck.ok());
  ASSERT_TRUE(sk.ok());
  const auto lengths = KeyLengthsFor(c.expected).value();
  EXPECT_EQ(ck->profile, c.expected);
  EXPECT_EQ(ck->local_key.size(), lengths.key);
  EXPECT_EQ(ck->local_salt.size(), lengths.salt);
  EXPECT_EQ(ck->local_key, sk->remote_key);
  EXPECT_EQ(ck->local_salt, sk->remote_salt);
  EXPECT_EQ(ck->remote_key, sk->local_key);
  EXPECT_EQ(ck->remote_salt, sk->local_salt);
  EXPECT_NE(ck->local_key, ck->remote_key);
}

INSTANTIATE_TEST_SUITE_P(
    Profiles, SrtpNegotiationTest,
    ::testing::Values(SrtpCase{"BothPreferGcm",
                               {SrtpProfile::kAeadAes128Gcm, SrtpProfile::kAes128CmSha1_80},
                               {SrtpProfile::kAeadAes128Gcm, SrtpProfile::kAes128CmSha1_80},
                               SrtpProfile::kAeadAes128Gcm},
                      // OpenSSL's server picks by its own preference among what the client offers (RFC 5764
                      // §4.1.1 leaves it to the server).
                      SrtpCase{"ServerPreferenceWins",
                               {SrtpProfile::kAes128CmSha1_80, SrtpProfile::kAeadAes128Gcm},
                               {SrtpProfile::kAeadAes128Gcm, SrtpProfile::kAes128CmSha1_80},
                               SrtpProfile::kAeadAes128Gcm},
                      SrtpCase{"OnlyCommonProfile",
                               {SrtpProfile::kAes128CmSha1_80},
                               {SrtpProfile::kAeadAes128Gcm, SrtpProfile::kAes128CmSha1_80},
                               SrtpProfile::kAes128CmSha1_80},
                      SrtpCase{"Aes256Gcm",
                               {SrtpProfile::kAeadAes256Gcm},
                               {SrtpProfile::kAeadAes256Gcm},
                               SrtpProfile::kAeadAes256Gcm},
                      SrtpCase{"Sha1_32",
                               {SrtpProfile::kAes128CmSha1_32},
                               {SrtpProfile::kAes128CmSha1_32},
                               SrtpProfile::kAes128CmSha1_32},
                      SrtpCase{"NoCommonProfile",
                               {SrtpProfile::kAes128CmSha1_32},
                               {SrtpProfile::kAeadAes128Gcm},
                               SrtpProfile::kNone},
                      SrtpCase{"DataOnly", {}, {SrtpProfile::kAeadAes128Gcm}, SrtpProfile::kNone}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(DtlsTransportTest, SrtpKeysUnavailableBeforeConnected) {
  auto client = DtlsPair::ClientConfig();
  client.srtp_profiles = {SrtpProfile::kAeadAes128Gcm};
  DtlsPair pair(client);
  EXPECT_EQ(pair.client().ExportSrtpKeys().error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(pair.client().srtp_profile(), SrtpProfile::kNone);
}

// ---- closing ----

TEST(DtlsTransportTest, CloseNotifyClosesBothSides) {
  DtlsPair pair;
  ASSERT_TRUE(pair.Handshake());
  ASSERT_TRUE(pair.client().Send(Pattern(10)).ok());
  pair.client().Close(pair.now);
  EXPECT_EQ(pair.client().state(), DtlsState::kClosed);
  pair.Exchange();
  EXPECT_EQ(pair.received[DtlsPair::kServer].size(), 1u);  // data sent before close_notify still arrives
  EXPECT_EQ(pair.server().state(), DtlsState::kClosed);
  EXPECT_EQ(Find(pair.events[DtlsPair::kClient], Kind::kClosed)->reason, "closed locally");
  EXPECT_EQ(Find(pair.events[DtlsPair::kServer], Kind::kClosed)->reason, "peer sent close_notify");
  EXPECT_EQ(pair.client().Send(Pattern(10)).error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(pair.server().Send(Pattern(10)).error().code, ErrorCode::kUnavailable);
  // Late datagrams are counted, not processed.
  const auto before = pair.client().stats().dropped_wrong_state;
  const auto record = SentBy(pair, DtlsPair::kServer).back().bytes;
  pair.client().HandleReceive(pair.now, record);
  EXPECT_EQ(pair.client().stats().dropped_wrong_state, before + 1);
  pair.client().Close(pair.now);  // idempotent
  EXPECT_EQ(CountKind(pair.events[DtlsPair::kClient], Kind::kClosed), 1u);
}

TEST(DtlsTransportTest, CloseDuringHandshakeStopsTimers) {
  DtlsPair pair;
  pair.client().Start(pair.now);
  pair.client().Close(pair.now);
  EXPECT_EQ(pair.client().state(), DtlsState::kClosed);
  EXPECT_EQ(pair.client().PollTimeout(), Timestamp::Infinity());
  ASSERT_TRUE(pair.client().PollEvent().has_value());
}

// ---- hostile input ----

TEST(DtlsTransportTest, GarbageIsDroppedAndCountedAndTheHandshakeStillCompletes) {
  DtlsPair pair;
  SeededRng rng(7);
  auto inject = [&](DtlsTransport& t) {
    std::vector<std::vector<uint8_t>> junk = {
        {},                                                       // empty
        {22},                                                     // truncated header
        {22, 0xFE, 0xFD, 0, 0, 0, 0, 0, 0, 0, 1, 0, 50},          // length past the end
        {22, 0xFE, 0xFD, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1, 0xAA},  // trailing bytes after a record
        {99, 0xFE, 0xFD, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1},        // unknown content type
        {22, 0x03, 0x03, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1},        // TLS, not DTLS
        {0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xA4, 0x42},         // a STUN header
    };
    for (int i = 0; i < 20; ++i) {
      std::vector<uint8_t> random(rng.Uniform(1, 300));
      rng.Fill(random);
      random[0] = 0x80;  // RTP-looking
      junk.push_back(random);
    }
    for (const auto& j : junk) t.HandleReceive(pair.now, j);
    return junk.size();
  };
  pair.client().Start(pair.now);
  const size_t n_server = inject(pair.server());
  pair.Exchange();
  const size_t n_client = inject(pair.client());
  pair.server().Start(pair.now);
  ASSERT_TRUE(pair.RunUntil([&] { return pair.Connected(); }, TimeDelta::Seconds(10)));
  EXPECT_EQ(pair.server().stats().malformed_dropped, n_server);
  EXPECT_EQ(pair.client().stats().malformed_dropped, n_client);
  // And after the handshake too.
  inject(pair.server());
  ASSERT_TRUE(pair.client().Send(Pattern(64)).ok());
  pair.Exchange();
  EXPECT_EQ(pair.received[DtlsPair::kServer].size(), 1u);
  EXPECT_EQ(pair.server().state(), DtlsState::kConnected);
}

TEST(DtlsTransportTest, OversizedDatagramIsDropped) {
  DtlsPair pair;
  ASSERT_TRUE(pair.Handshake());
  std::vector<uint8_t> big(20000, 0);
  big[0] = 23;
  big[1] = 0xFE;
  big[2] = 0xFD;
  pair.server().HandleReceive(pair.now, big);
  EXPECT_EQ(pair.server().stats().malformed_dropped, 1u);
  EXPECT_EQ(pair.server().state(), DtlsState::kConnected);
}

TEST(DtlsTransportTest, RecordsOfWrongEpochOrBadMacAreIgnored) {
  DtlsPair pair;
  ASSERT_TRUE(pair.Handshake());
  ASSERT_TRUE(pair.client().Send(Pattern(100)).ok());
  auto record = pair.client().PollTransmit().value();
  std::vector<uint8_t> good(record.begin(), record.end());
  auto wrong_epoch = good;
  wrong_epoch[4] = 7;  // epoch 7
  auto bad_mac = good;
  bad_mac[40] ^= 1;  // inside the ciphertext: the AEAD tag no longer matches
  auto replayed_epoch0 = good;
  replayed_epoch0[4] = 0;  // an epoch-0 record after the handshake
  pair.server().HandleReceive(pair.now, wrong_epoch);
  pair.server().HandleReceive(pair.now, bad_mac);
  pair.server().HandleReceive(pair.now, replayed_epoch0);
  EXPECT_FALSE(pair.server().PollApplicationData().has_value());
  EXPECT_EQ(pair.server().state(), DtlsState::kConnected);
  pair.server().HandleReceive(pair.now, good);
  EXPECT_TRUE(pair.server().PollApplicationData().has_value());
  pair.server().HandleReceive(pair.now, good);  // replay
  EXPECT_FALSE(pair.server().PollApplicationData().has_value());
}

TEST(DtlsTransportTest, SecondClientHelloAfterConnectionIsIgnored) {
  DtlsPair pair;
  ASSERT_TRUE(pair.Handshake());
  // A new client (same certificate) starts over on the same 5-tuple.
  DtlsTransport intruder(DtlsPair::ClientConfig());
  intruder.Start(pair.now);
  while (auto d = intruder.PollTransmit()) pair.server().HandleReceive(pair.now, *d);
  EXPECT_EQ(pair.server().state(), DtlsState::kConnected);
  EXPECT_FALSE(pair.server().PollTransmit().has_value());
  ASSERT_TRUE(pair.client().Send(Pattern(20)).ok());
  ASSERT_TRUE(pair.server().Send(Pattern(30)).ok());
  pair.Exchange();
  EXPECT_EQ(pair.received[DtlsPair::kServer].size(), 1u);
  EXPECT_EQ(pair.received[DtlsPair::kClient].size(), 1u);
}

TEST(DtlsTransportTest, FatalAlertFromPeerDuringHandshakeFails) {
  DtlsPair pair;
  pair.server().Start(pair.now);
  pair.client().Start(pair.now);
  // An unencrypted fatal handshake_failure alert in epoch 0, as a peer that gives up would send it.
  const uint8_t alert[] = {21, 0xFE, 0xFD, 0, 0, 0, 0, 0, 0, 0, 5, 0, 2, 2, 40};
  pair.client().HandleReceive(pair.now, alert);
  ASSERT_EQ(pair.client().state(), DtlsState::kFailed);
  auto event = pair.client().PollEvent();
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->kind, Kind::kFailed);
  EXPECT_EQ(event->reason, "peer sent fatal alert: handshake failure");
}

TEST(DtlsTransportTest, BothSidesClientFailsWithAReason) {
  // A setup negotiation bug (both a=setup:active) must fail cleanly, not hang or crash.
  DtlsPair pair(DtlsPair::ClientConfig(),
                testing::MakeConfig(Role::kClient, TestCertificate(1), TestCertificate(0)));
  pair.StartBoth();
  pair.RunUntil([&] { return pair.client().state() == DtlsState::kFailed; }, TimeDelta::Seconds(60));
  ASSERT_EQ(pair.client().state(), DtlsState::kFailed);
  EXPECT_EQ(pair.server().state(), DtlsState::kFailed);
  EXPECT_FALSE(Find(pair.events[DtlsPair::kClient], Kind::kFailed)->reason.empty());
}

TEST(DtlsTransportTest, TransmitQueueIsBounded) {
  auto client = DtlsPair::ClientConfig();
  client.max_queued_datagrams = 4;
  DtlsPair pair(client);
  ASSERT_TRUE(pair.Handshake());
  int accepted = 0;
  for (int i = 0; i < 10; ++i) accepted += pair.client().Send(Pattern(1100)).ok() ? 1 : 0;
  EXPECT_EQ(accepted, 4);
  pair.Exchange();
  EXPECT_EQ(pair.received[DtlsPair::kServer].size(), 4u);
  EXPECT_TRUE(pair.client().Send(Pattern(1100)).ok());  // drained: room again
}

TEST(DtlsTransportTest, InvalidConfigThrows) {
  auto config = DtlsPair::ClientConfig();
  config.certificate = Certificate();
  EXPECT_THROW(DtlsTransport{config}, std::invalid_argument);
  config = DtlsPair::ClientConfig();
  config.mtu = 100;
  EXPECT_THROW(DtlsTransport{config}, std::invalid_argument);
  config = DtlsPair::ClientConfig();
  config.max_retransmit = TimeDelta::Millis(50);
  EXPECT_THROW(DtlsTransport{config}, std::invalid_argument);
  config = DtlsPair::ClientConfig();
  config.handshake_timeout = TimeDelta::Seconds(7200);
  EXPECT_THROW(DtlsTransport{config}, std::invalid_argument);
  config = DtlsPair::ClientConfig();
  config.srtp_profiles = {static_cast<SrtpProfile>(0x1234)};
  EXPECT_THROW(DtlsTransport{config}, std::invalid_argument);
}

TEST(DtlsTransportTest, ToStringNames) {
  EXPECT_STREQ(ToString(Role::kServer), "server");
  EXPECT_STREQ(ToString(DtlsState::kConnecting), "connecting");
  EXPECT_STREQ(ToString(Kind::kFailed), "failed");
  EXPECT_STREQ(ToString(SrtpProfile::kAeadAes128Gcm), "SRTP_AEAD_AES_128_GCM");
}

}  // namespace
}  // namespace tandem::dtls
