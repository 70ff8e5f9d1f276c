// libFuzzer harness for the DTLS transport (src/dtls/dtls_transport.h): a client and a server transport,
// started, then driven by a script from the fuzzer that mixes arbitrary datagrams with genuine traffic
// between the two.
//
// Input: records [op:1][len:2 BE][data:len]:
//   op % 9 == 0  the data is a datagram for the server
//             1  the data is a datagram for the client
//             2  exchange the pending genuine datagrams; bit i of the data (cycled) drops the i-th one
//             3  advance the clock by the big-endian u16 in data (milliseconds) and handle timeouts on both
//             sides 4  Send(data) on the client (data[0] odd) or the server, trimmed to
//             max_application_data() 5  Close() on the client (data[0] odd) or the server 6
//             SetRemoteFingerprints on the client (data[0] odd) or the server: right (data[1] odd) or wrong
//             7  take the last genuine datagram, XOR it with the data, deliver it to its destination
//             8  take the last genuine datagram, truncate it to data[0..1] bytes, deliver it
// The first byte of the input, before the records, picks the server's srtp profiles, whether the server knows
// the client's fingerprint from the start, and the mtu. Invariants checked after every step: no crash; a
// finished transport stays finished; after HandleTimeout(now) the next deadline is later than now; every
// datagram fits the mtu (sends are trimmed to max_application_data()); SRTP keys exist exactly when connected
// with a negotiated profile; PollApplicationData only yields while connected or closed.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <vector>

#include "core/log.h"
#include "dtls/dtls_test_pair.h"

namespace {

using namespace tandem;        // NOLINT(google-build-using-namespace): harness only
using namespace tandem::dtls;  // NOLINT(google-build-using-namespace)

#define FUZZ_CHECK(cond)       \
  do {                         \
    if (!(cond)) std::abort(); \
  } while (0)

struct Endpoint {
  DtlsTransport* transport;
  DtlsState last_state = DtlsState::kNew;
};

struct Harness {
  explicit Harness(uint8_t setup) {
    DtlsConfig c =
        testing::MakeConfig(Role::kClient, testing::TestCertificate(0), testing::TestCertificate(1));
    DtlsConfig s =
        testing::MakeConfig(Role::kServer, testing::TestCertificate(1), testing::TestCertificate(0));
    c.srtp_profiles = {SrtpProfile::kAeadAes128Gcm, SrtpProfile::kAes128CmSha1_80};
    if (setup & 1) s.srtp_profiles = {SrtpProfile::kAes128CmSha1_80};
    if (setup & 2) s.remote_fingerprints.clear();
    mtu = (setup & 4) ? 256 : 1200;
    c.mtu = s.mtu = mtu;
    client = std::make_unique<DtlsTransport>(c);
    server = std::make_unique<DtlsTransport>(s);
    client->Start(now);
    server->Start(now);
    Drain();
  }

  DtlsTransport& Pick(bool pick_client) { return pick_client ? *client : *server; }

  void Check(DtlsTransport& t) {
    const DtlsState state = t.state();
    const bool connected = state == DtlsState::kConnected;
    auto keys = t.ExportSrtpKeys();
    FUZZ_CHECK(keys.ok() == (connected && t.srtp_profile() != SrtpProfile::kNone));
    if (keys.ok()) FUZZ_CHECK(keys->local_key.size() >= 16 && keys->local_key != keys->remote_key);
  }

  // Collects what both sides emit; genuine datagrams queue up for op 2.
  void Drain() {
    for (bool c : {true, false}) {
      DtlsTransport& t = Pick(c);
      while (auto d = t.PollTransmit()) {
        FUZZ_CHECK(d->size() <= mtu);
        pending.push_back({c, std::vector<uint8_t>(d->begin(), d->end())});
        if (pending.size() > 64) pending.pop_front();
      }
      while (auto e = t.PollEvent()) {
        (void)e;
      }
      while (auto r = t.PollApplicationData()) {
        FUZZ_CHECK(t.state() == DtlsState::kConnected || t.state() == DtlsState::kClosed);
        FUZZ_CHECK(!r->empty() && r->size() <= DtlsTransport::kMaxApplicationRecord);
      }
      const DtlsState before = c ? client_state : server_state;
      const DtlsState after = t.state();
      if (before == DtlsState::kClosed || before == DtlsState::kFailed) FUZZ_CHECK(after == before);
      (c ? client_state : server_state) = after;
      Check(t);
    }
  }

  void Deliver(bool to_client, ByteSpan datagram) {
    Pick(to_client).HandleReceive(now, datagram);
    Drain();
  }

  void Step(uint8_t op, ByteSpan data) {
    const uint8_t b0 = data.empty() ? 0 : data[0];
    const uint8_t b1 = data.size() < 2 ? 0 : data[1];
    switch (op % 9) {
      case 0:
        Deliver(false, data);
        break;
      case 1:
        Deliver(true, data);
        break;
      case 2: {
        for (size_t i = 0; !pending.empty() && i < 256; ++i) {
          auto d = std::move(pending.front());
          pending.pop_front();
          last = d;
          const bool drop = !data.empty() && ((data[(i / 8) % data.size()] >> (i % 8)) & 1);
          if (!drop) Deliver(!d.from_client, d.bytes);
        }
        break;
      }
      case 3: {
        now = now + TimeDelta::Millis((int64_t{b0} << 8) | b1);
        for (bool c : {true, false}) {
          DtlsTransport& t = Pick(c);
          t.HandleTimeout(now);
          FUZZ_CHECK(t.PollTimeout() > now);
        }
        Drain();
        break;
      }
      case 4: {
        DtlsTransport& t = Pick(b0 & 1);
        ByteSpan payload = data.size() > 1 ? data.subspan(1) : data;
        if (payload.size() > t.max_application_data()) payload = payload.first(t.max_application_data());
        const Status s = t.Send(payload);
        FUZZ_CHECK(s.ok() || t.state() != DtlsState::kConnected || payload.empty());
        Drain();
        break;
      }
      case 5:
        Pick(b0 & 1).Close(now);
        Drain();
        break;
      case 6: {
        const bool c = b0 & 1;
        const Certificate& peer = testing::TestCertificate(c ? 1 : 0);
        const Certificate& other = testing::TestCertificate(c ? 0 : 1);
        Pick(c).SetRemoteFingerprints({((b1 & 1) ? peer : other).GetFingerprint()});
        Drain();
        break;
      }
      case 7: {
        if (last.bytes.empty()) break;
        auto mutated = last.bytes;
        for (size_t i = 0; i < data.size() && i < mutated.size(); ++i) mutated[i] ^= data[i];
        Deliver(!last.from_client, mutated);
        break;
      }
      case 8: {
        if (last.bytes.empty()) break;
        const size_t n = ((size_t{b0} << 8) | b1) % (last.bytes.size() + 1);
        Deliver(!last.from_client, ByteSpan(last.bytes).first(n));
        break;
      }
    }
  }

  struct Datagram {
    bool from_client = false;
    std::vector<uint8_t> bytes;
  };

  Timestamp now = Timestamp::Seconds(1000);
  size_t mtu = 1200;
  std::unique_ptr<DtlsTransport> client;
  std::unique_ptr<DtlsTransport> server;
  DtlsState client_state = DtlsState::kNew;
  DtlsState server_state = DtlsState::kNew;
  std::deque<Datagram> pending;
  Datagram last;
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  log::SetLevel(log::Level::kOff);
  (void)testing::TestCertificate(0);
  (void)testing::TestCertificate(1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  Harness h(data[0]);
  size_t pos = 1;
  int steps = 0;
  while (pos + 3 <= size && steps++ < 64) {
    const uint8_t op = data[pos];
    const size_t len = (size_t{data[pos + 1]} << 8) | data[pos + 2];
    pos += 3;
    const size_t n = len < size - pos ? len : size - pos;
    h.Step(op, ByteSpan(data + pos, n));
    pos += n;
  }
  return 0;
}
