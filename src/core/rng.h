// Injected randomness: production code uses SecureRng (OpenSSL), tests a seeded deterministic one.
#pragma once

#include <cstdint>
#include <span>

namespace tandem {

class Rng {
 public:
  virtual ~Rng() = default;
  virtual void Fill(std::span<uint8_t> out) = 0;
  uint32_t NextU32() {
    uint32_t v;
    Fill({reinterpret_cast<uint8_t*>(&v), sizeof(v)});
    return v;
  }
  uint64_t NextU64() {
    uint64_t v;
    Fill({reinterpret_cast<uint8_t*>(&v), sizeof(v)});
    return v;
  }
  // Uniform in [lo, hi] (inclusive); hi - lo must be < 2^32.
  uint32_t Uniform(uint32_t lo, uint32_t hi) {
    uint64_t span = uint64_t{hi} - lo + 1;
    return lo + static_cast<uint32_t>(NextU64() % span);
  }
};

// OpenSSL RAND_bytes, buffered so that small draws do not each enter OpenSSL.
class SecureRng final : public Rng {
 public:
  void Fill(std::span<uint8_t> out) override;

 private:
  uint8_t pool_[256];
  size_t available_ = 0;
};

// xoshiro256** seeded by splitmix64: deterministic, for tests and simulations only.
class SeededRng final : public Rng {
 public:
  explicit SeededRng(uint64_t seed);
  void Fill(std::span<uint8_t> out) override;

 private:
  uint64_t Next();
  uint64_t s_[4];
};

}  // namespace tandem
