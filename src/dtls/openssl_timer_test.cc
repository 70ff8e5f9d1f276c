// Characterisation of OpenSSL 3's DTLS retransmission timer, which dtls_transport.cc depends on (see the
// comment at its top). If an OpenSSL upgrade changes any of this, these tests say so before the transport
// misbehaves.
#include <gtest/gtest.h>

#include <vector>

#include "dtls/certificate_internal.h"
#include "dtls/dtls_test_pair.h"
#include "dtls/openssl_internal.h"
#include "dtls/record.h"

namespace tandem::dtls {
namespace {

using internal::OpenSslPtr;

struct TimerProbe {
  std::vector<unsigned int> calls;  // the `previous_us` argument of each callback
  // Answer for each call: expired (1 us) for the first `expired_answers`, then an hour.
  size_t expired_answers = 0;
};

TimerProbe* g_probe = nullptr;

unsigned int ProbeCallback(SSL*, unsigned int previous_us) {
  g_probe->calls.push_back(previous_us);
  return g_probe->calls.size() <= g_probe->expired_answers ? 1u : 3'600'000'000u;
}

class OpenSslTimerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    g_probe = &probe_;
    ctx_.reset(SSL_CTX_new(DTLS_method()));
    ASSERT_TRUE(ctx_);
    SSL_CTX_set_min_proto_version(ctx_.get(), DTLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx_.get(), DTLS1_2_VERSION);
    SSL_CTX_set_options(ctx_.get(), SSL_OP_NO_QUERY_MTU);
    const Certificate& cert = testing::TestCertificate(0);
    SSL_CTX_use_certificate(ctx_.get(), CertificateAccess::x509(cert));
    SSL_CTX_use_PrivateKey(ctx_.get(), CertificateAccess::private_key(cert));
    ssl_.reset(SSL_new(ctx_.get()));
    rbio_ = BIO_new(BIO_s_mem());
    wbio_ = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(rbio_, -1);
    SSL_set_bio(ssl_.get(), rbio_, wbio_);
    SSL_set_connect_state(ssl_.get());
    SSL_set_mtu(ssl_.get(), 1200);
    DTLS_set_timer_cb(ssl_.get(), ProbeCallback);
  }
  void TearDown() override {
    g_probe = nullptr;
    ERR_clear_error();
  }

  // The records written so far: (sequence number, record bytes).
  std::vector<std::pair<uint64_t, std::vector<uint8_t>>> TakeRecords() {
    std::vector<uint8_t> bytes(BIO_ctrl_pending(wbio_));
    if (!bytes.empty()) BIO_read(wbio_, bytes.data(), static_cast<int>(bytes.size()));
    std::vector<std::pair<uint64_t, std::vector<uint8_t>>> records;
    ForEachRecord(bytes, [&](const RecordHeader& h, ByteSpan r) {
      records.emplace_back(h.sequence_number, std::vector<uint8_t>(r.begin(), r.end()));
    });
    return records;
  }

  TimerProbe probe_;
  OpenSslPtr<SSL_CTX> ctx_;
  OpenSslPtr<SSL> ssl_;
  BIO* rbio_ = nullptr;
  BIO* wbio_ = nullptr;
};

TEST_F(OpenSslTimerTest, AnAlwaysExpiredTimerRetransmitsInTheReadPathUntilOpenSslGivesUp) {
  probe_.expired_answers = 1000;
  const int r = SSL_do_handshake(ssl_.get());
  // One arm for the ClientHello, then twelve retransmissions from the read that follows, then the thirteenth
  // expiry is fatal (DTLS1_TMO_ALERT_COUNT) — all inside one call, with no time passing.
  EXPECT_EQ(r, -1);
  EXPECT_EQ(SSL_get_error(ssl_.get(), r), SSL_ERROR_SSL);
  EXPECT_EQ(probe_.calls.size(), 14u);
  EXPECT_EQ(probe_.calls.front(), 0u);
  EXPECT_EQ(TakeRecords().size(), 13u);
}

TEST_F(OpenSslTimerTest, ExpiredAnswersMakeFreshCopiesOfTheFlightThenALongAnswerStopsIt) {
  probe_.expired_answers =
      4;  // the arm (0) and three expiries answered "expired", the fourth expiry "an hour"
  const int r = SSL_do_handshake(ssl_.get());
  EXPECT_EQ(SSL_get_error(ssl_.get(), r), SSL_ERROR_WANT_READ);
  EXPECT_EQ(probe_.calls, (std::vector<unsigned int>{0, 1, 1, 1, 1}));
  const auto records = TakeRecords();
  ASSERT_EQ(records.size(), 5u);  // the ClientHello and four copies
  for (size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(records[i].first, i);  // each copy is a new record (replay protection accepts it)
    ASSERT_EQ(records[i].second.size(), records[0].second.size());
    // Same handshake fragment: everything after the 13-byte record header is identical.
    EXPECT_TRUE(std::equal(records[i].second.begin() + RecordHeader::kSize, records[i].second.end(),
                           records[0].second.begin() + RecordHeader::kSize));
  }
  // The timer still runs (the flight is unanswered) but is far from expiry: reads and explicit timeout
  // handling write nothing more.
  struct timeval left {};
  EXPECT_EQ(DTLSv1_get_timeout(ssl_.get(), &left), 1);
  EXPECT_GT(left.tv_sec, 3000);
  EXPECT_EQ(DTLSv1_handle_timeout(ssl_.get()), 0);
  EXPECT_EQ(SSL_get_error(ssl_.get(), SSL_do_handshake(ssl_.get())), SSL_ERROR_WANT_READ);
  EXPECT_TRUE(TakeRecords().empty());
  EXPECT_EQ(probe_.calls.size(), 5u);
}

TEST_F(OpenSslTimerTest, ALongAnswerAtTheArmMeansNoCopiesAndNoRetransmission) {
  probe_.expired_answers = 0;
  EXPECT_EQ(SSL_get_error(ssl_.get(), SSL_do_handshake(ssl_.get())), SSL_ERROR_WANT_READ);
  EXPECT_EQ(probe_.calls, (std::vector<unsigned int>{0}));
  EXPECT_EQ(TakeRecords().size(), 1u);
  EXPECT_EQ(DTLSv1_handle_timeout(ssl_.get()), 0);
  EXPECT_TRUE(TakeRecords().empty());
}

}  // namespace
}  // namespace tandem::dtls
