// Media hot-path benchmarks.
//
// srtp/ours/<profile>     one 1200-byte RTP packet protected by one SrtpSession and unprotected by its peer
//                         (copy into the buffer, new sequence number, ProtectRtp, UnprotectRtp) per iteration
// srtp/libsrtp/<profile>  the same loop on two bare libsrtp2 contexts with the same keys and policies
// After the runs it prints, per profile, ours / libsrtp in packets per second: the wrapper's overhead (~1.0).
// The machine's load moves both; run with --benchmark_repetitions=5
// --benchmark_enable_random_interleaving=true and read the medians.
//
// rtp/parse               RtpPacketView::Parse of a 1200-byte packet with five header extensions, plus two
// typed
//                         extension lookups (what a receiver does per packet)
// rtcp/compound_parse     ParseRtcpCompound of SR + SDES + REMB + transport-wide feedback for 100 packets
// rtcp/twcc_build         building and serializing that feedback from 100 arrival records
#include <benchmark/benchmark.h>
#include <srtp2/srtp.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "dtls/srtp.h"
#include "rtp/header_extensions.h"
#include "rtp/rtcp_compound.h"
#include "rtp/rtp_packet.h"
#include "srtp/srtp_session.h"

namespace {

using tandem::ByteSpan;
using tandem::MutableByteSpan;
using tandem::dtls::SrtpKeyingMaterial;
using tandem::dtls::SrtpProfile;

constexpr size_t kPacketSize = 1200;

SrtpKeyingMaterial Keys(SrtpProfile profile, bool swapped) {
  const auto lengths = tandem::dtls::KeyLengthsFor(profile).value();
  SrtpKeyingMaterial m;
  m.profile = profile;
  for (size_t i = 0; i < lengths.key; ++i) {
    m.local_key.push_back(static_cast<uint8_t>(0x10 + i));
    m.remote_key.push_back(static_cast<uint8_t>(0x80 + i));
  }
  for (size_t i = 0; i < lengths.salt; ++i) {
    m.local_salt.push_back(static_cast<uint8_t>(0x40 + i));
    m.remote_salt.push_back(static_cast<uint8_t>(0xC0 + i));
  }
  if (swapped) {
    std::swap(m.local_key, m.remote_key);
    std::swap(m.local_salt, m.remote_salt);
  }
  return m;
}

std::vector<uint8_t> Plaintext() {
  std::vector<uint8_t> p(kPacketSize);
  p[0] = 0x80;
  p[1] = 96;
  tandem::StoreBe32(&p[4], 90000);
  tandem::StoreBe32(&p[8], 0xCAFEBABE);
  for (size_t i = 12; i < p.size(); ++i) p[i] = static_cast<uint8_t>(i);
  return p;
}

void BM_SrtpOurs(benchmark::State& state, SrtpProfile profile) {
  auto sender = tandem::srtp::SrtpSession::Create(Keys(profile, false));
  auto receiver = tandem::srtp::SrtpSession::Create(Keys(profile, true));
  if (!sender.ok() || !receiver.ok()) {
    state.SkipWithError("SrtpSession::Create failed");
    return;
  }
  const std::vector<uint8_t> plain = Plaintext();
  std::vector<uint8_t> buf(kPacketSize + 64);
  uint16_t seq = 0;
  for (auto _ : state) {
    std::memcpy(buf.data(), plain.data(), kPacketSize);
    tandem::StoreBe16(&buf[2], seq++);
    auto n = sender->ProtectRtp(buf, kPacketSize);
    auto m = receiver->UnprotectRtp(MutableByteSpan(buf.data(), n.ok() ? *n : 0));
    if (!m.ok()) {
      state.SkipWithError(m.error().reason);
      break;
    }
    benchmark::DoNotOptimize(buf.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kPacketSize));
}

// The bare libsrtp2 loop: the same policies SrtpSession sets, without the wrapper.
void SetPolicy(srtp_policy_t& policy, SrtpProfile profile) {
  switch (profile) {
    case SrtpProfile::kAes128CmSha1_80:
      srtp_crypto_policy_set_rtp_default(&policy.rtp);
      srtp_crypto_policy_set_rtp_default(&policy.rtcp);
      break;
    case SrtpProfile::kAes128CmSha1_32:
      srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&policy.rtp);
      srtp_crypto_policy_set_rtp_default(&policy.rtcp);
      break;
    case SrtpProfile::kAeadAes128Gcm:
      srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp);
      srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtcp);
      break;
    case SrtpProfile::kAeadAes256Gcm:
      srtp_crypto_policy_set_aes_gcm_256_16_auth(&policy.rtp);
      srtp_crypto_policy_set_aes_gcm_256_16_auth(&policy.rtcp);
      break;
    case SrtpProfile::kNone:
      break;
  }
}

srtp_t CreateBare(SrtpProfile profile, const std::vector<uint8_t>& key, const std::vector<uint8_t>& salt,
                  srtp_ssrc_type_t direction) {
  std::vector<uint8_t> material = key;
  material.insert(material.end(), salt.begin(), salt.end());
  srtp_policy_t policy;
  std::memset(&policy, 0, sizeof(policy));
  SetPolicy(policy, profile);
  policy.ssrc.type = direction;
  policy.key = material.data();
  policy.window_size = 1024;
  policy.allow_repeat_tx = 1;
  srtp_t ctx = nullptr;
  if (srtp_create(&ctx, &policy) != srtp_err_status_ok) return nullptr;
  return ctx;
}

void BM_SrtpBare(benchmark::State& state, SrtpProfile profile) {
  // SrtpSession::Create above already ran srtp_init() once for the process; running it here again first is
  // harmless only before any session exists, so make sure one exists.
  (void)tandem::srtp::SrtpSession::Create(Keys(profile, false));
  const SrtpKeyingMaterial k = Keys(profile, false);
  srtp_t sender = CreateBare(profile, k.local_key, k.local_salt, ssrc_any_outbound);
  srtp_t receiver = CreateBare(profile, k.local_key, k.local_salt, ssrc_any_inbound);
  if (sender == nullptr || receiver == nullptr) {
    state.SkipWithError("srtp_create failed");
    return;
  }
  const std::vector<uint8_t> plain = Plaintext();
  std::vector<uint8_t> buf(kPacketSize + 64);
  uint16_t seq = 0;
  for (auto _ : state) {
    std::memcpy(buf.data(), plain.data(), kPacketSize);
    tandem::StoreBe16(&buf[2], seq++);
    int len = static_cast<int>(kPacketSize);
    srtp_err_status_t s = srtp_protect(sender, buf.data(), &len);
    if (s == srtp_err_status_ok) s = srtp_unprotect(receiver, buf.data(), &len);
    if (s != srtp_err_status_ok) {
      state.SkipWithError("libsrtp failed");
      break;
    }
    benchmark::DoNotOptimize(buf.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kPacketSize));
  srtp_dealloc(sender);
  srtp_dealloc(receiver);
}

tandem::rtp::ExtensionMap BenchMap() {
  tandem::rtp::ExtensionMap map;
  map.Register(1, tandem::rtp::ExtensionType::kMid);
  map.Register(2, tandem::rtp::ExtensionType::kAbsSendTime);
  map.Register(3, tandem::rtp::ExtensionType::kTransportSequenceNumber);
  map.Register(4, tandem::rtp::ExtensionType::kRtpStreamId);
  map.Register(5, tandem::rtp::ExtensionType::kVideoOrientation);
  return map;
}

void BM_RtpParse(benchmark::State& state) {
  using namespace tandem::rtp;  // NOLINT(google-build-using-namespace)
  const ExtensionMap map = BenchMap();
  RtpPacketBuilder b;
  b.SetMarker(true).SetPayloadType(96).SetSequenceNumber(1).SetTimestamp(3000).SetSsrc(0x12345678);
  SetExtension<MidExtension>(b, map, "1");
  SetExtension<AbsSendTimeExtension>(b, map, 0x123456);
  SetExtension<TransportSequenceNumberExtension>(b, map, 777);
  SetExtension<RtpStreamIdExtension>(b, map, "h");
  SetExtension<VideoOrientationExtension>(b, map, {false, false, 90});
  std::vector<uint8_t> packet(kPacketSize);
  const std::vector<uint8_t> payload(kPacketSize - b.HeaderSize(), 0x55);
  packet.resize(*b.Build(packet, payload));
  for (auto _ : state) {
    auto v = RtpPacketView::Parse(packet);
    auto tsn = GetExtension<TransportSequenceNumberExtension>(*v, map);
    auto mid = GetExtension<MidExtension>(*v, map);
    benchmark::DoNotOptimize(tsn);
    benchmark::DoNotOptimize(mid);
  }
  state.SetItemsProcessed(state.iterations());
}

tandem::rtp::TransportFeedback Feedback() {
  tandem::rtp::TransportFeedback fb(0xFA17FA17, 1, 3);
  const auto t0 = tandem::Timestamp::Seconds(100);
  fb.SetBase(1000, t0);
  for (uint16_t i = 0; i < 100; ++i) {
    if (i % 17 == 5) continue;  // a few losses
    fb.AddReceivedPacket(static_cast<uint16_t>(1000 + i),
                         t0 + tandem::TimeDelta::Micros(i * 1100 + (i % 3) * 400));
  }
  return fb;
}

void BM_RtcpCompoundParse(benchmark::State& state) {
  using namespace tandem::rtp;  // NOLINT(google-build-using-namespace)
  std::vector<uint8_t> buf;
  RtcpCompoundBuilder builder(buf, 1500);
  SenderReport sr;
  sr.sender_ssrc = 1;
  sr.report_blocks.push_back(ReportBlock{2, 10, 5, 70000, 30, 0x12345678, 6553});
  builder.Add(sr);
  Sdes sdes;
  sdes.chunks.push_back({1, {{Sdes::kCname, "bench-cname-0123"}}});
  builder.Add(sdes);
  builder.Add(Remb{1, 2'500'000, {2, 3}});
  builder.Add(Feedback());
  for (auto _ : state) {
    auto c = ParseRtcpCompound(buf);
    benchmark::DoNotOptimize(c);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(buf.size()));
}

void BM_TwccBuild(benchmark::State& state) {
  std::vector<uint8_t> out;
  out.reserve(1500);
  for (auto _ : state) {
    out.clear();
    tandem::ByteWriter w(out);
    Feedback().SerializeTo(w);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}

// Remembers packets/s of the SRTP runs to print the overhead ratio at the end.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      auto it = r.counters.find("items_per_second");
      if (it != r.counters.end()) rates_[r.benchmark_name()] = it->second.value;
    }
    ConsoleReporter::ReportRuns(runs);
  }
  void PrintRatios() const {
    for (const auto& [name, ours] : rates_) {
      const std::string prefix = "srtp/ours/";
      if (name.rfind(prefix, 0) != 0) continue;
      // Single runs, or the median of repetitions; not the other aggregates.
      const bool aggregate = name.find('_', name.rfind('/')) != std::string::npos &&
                             (name.ends_with("_mean") || name.ends_with("_stddev") || name.ends_with("_cv"));
      if (aggregate) continue;
      auto bare = rates_.find("srtp/libsrtp/" + name.substr(prefix.size()));
      if (bare == rates_.end() || bare->second <= 0) continue;
      std::printf("srtp overhead %-28s ours %10.0f pkt/s  libsrtp %10.0f pkt/s  ratio %.3f\n",
                  name.substr(prefix.size()).c_str(), ours, bare->second, ours / bare->second);
    }
  }

 private:
  std::map<std::string, double> rates_;
};

}  // namespace

int main(int argc, char** argv) {
  for (SrtpProfile p : {SrtpProfile::kAes128CmSha1_80, SrtpProfile::kAes128CmSha1_32,
                        SrtpProfile::kAeadAes128Gcm, SrtpProfile::kAeadAes256Gcm}) {
    const std::string name = tandem::dtls::ToString(p);
    benchmark::RegisterBenchmark(("srtp/ours/" + name).c_str(), BM_SrtpOurs, p);
    benchmark::RegisterBenchmark(("srtp/libsrtp/" + name).c_str(), BM_SrtpBare, p);
  }
  benchmark::RegisterBenchmark("rtp/parse", BM_RtpParse);
  benchmark::RegisterBenchmark("rtcp/compound_parse", BM_RtcpCompoundParse);
  benchmark::RegisterBenchmark("rtcp/twcc_build", BM_TwccBuild);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.PrintRatios();
  benchmark::Shutdown();
  return 0;
}
