// Steady-state application data must not allocate per record: neither our code (global operator new) nor
// OpenSSL (CRYPTO_malloc, counted through CRYPTO_set_mem_functions, which only works before OpenSSL's first
// allocation — hence this binary's own main()).
#include <gtest/gtest.h>
#include <openssl/crypto.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <new>

#include "dtls/dtls_test_pair.h"

// GCC cannot see that the replacement operator new below allocates with malloc.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace {

std::atomic<bool> g_counting{false};
std::atomic<uint64_t> g_cxx_allocations{0};
std::atomic<uint64_t> g_openssl_allocations{0};
bool g_openssl_hooked = false;

void* CountingMalloc(size_t n, const char*, int) {
  if (g_counting) ++g_openssl_allocations;
  return std::malloc(n);
}
void* CountingRealloc(void* p, size_t n, const char*, int) {
  if (g_counting) ++g_openssl_allocations;
  return std::realloc(p, n);
}
void CountingFree(void* p, const char*, int) { std::free(p); }

}  // namespace

void* operator new(size_t n) {
  if (g_counting) ++g_cxx_allocations;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace tandem::dtls {
namespace {

using testing::DtlsPair;

TEST(DtlsAllocationTest, SteadyStateRecordsDoNotAllocate) {
  ASSERT_TRUE(g_openssl_hooked) << "CRYPTO_set_mem_functions must run before OpenSSL allocates";
  DtlsPair pair;
  ASSERT_TRUE(pair.Handshake());
  std::vector<uint8_t> payload(1100, 0x5A);
  uint64_t delivered = 0;
  auto one_way = [&](DtlsTransport& from, DtlsTransport& to) {
    ASSERT_TRUE(from.Send(payload).ok());
    auto datagram = from.PollTransmit();
    ASSERT_TRUE(datagram.has_value());
    to.HandleReceive(pair.now, *datagram);
    auto record = to.PollApplicationData();
    ASSERT_TRUE(record.has_value());
    ASSERT_EQ(record->size(), payload.size());
    ++delivered;
  };
  for (int i = 0; i < 100; ++i) {  // warm-up: buffers reach their working size
    one_way(pair.client(), pair.server());
    one_way(pair.server(), pair.client());
  }
  // The counters work: one allocation of each kind is seen.
  g_counting = true;
  auto probe = std::make_unique<int>(1);
  OPENSSL_free(OPENSSL_malloc(16));
  g_counting = false;
  ASSERT_EQ(g_cxx_allocations.exchange(0), 1u);
  ASSERT_EQ(g_openssl_allocations.exchange(0), 1u);

  g_counting = true;
  for (int i = 0; i < 1000; ++i) {
    one_way(pair.client(), pair.server());
    one_way(pair.server(), pair.client());
  }
  g_counting = false;
  EXPECT_EQ(delivered, 2200u);
  EXPECT_EQ(g_cxx_allocations.load(), 0u);
  EXPECT_EQ(g_openssl_allocations.load(), 0u);
}

}  // namespace
}  // namespace tandem::dtls

int main(int argc, char** argv) {
  g_openssl_hooked = CRYPTO_set_mem_functions(CountingMalloc, CountingRealloc, CountingFree) == 1;
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
