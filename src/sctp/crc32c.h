// CRC32c (Castagnoli, RFC 9260 Appendix A) for the per-packet checksum, incremental and fast: the SSE4.2
// CRC32 instruction when the CPU has it (checked once at run time), a table otherwise. It computes exactly
// what core's crypto::Crc32c does (the unit tests compare them); it lives here because the SCTP data path
// checksums every packet twice and the byte-wise table costs ~80% of the CPU of an in-memory transfer. It
// belongs in core; see the component report.
#pragma once

#include <cstdint>

#include "core/bytes.h"

namespace tandem::sctp {

inline constexpr uint32_t kCrc32cInit = 0xffffffffu;
// Feeds `data` into a running CRC32c state (start from kCrc32cInit).
uint32_t Crc32cExtend(uint32_t state, ByteSpan data);
// The final CRC32c value of a running state.
inline uint32_t Crc32cFinish(uint32_t state) { return state ^ 0xffffffffu; }
// One-shot CRC32c of `data` (equal to crypto::Crc32c(data)).
inline uint32_t Crc32c(ByteSpan data) { return Crc32cFinish(Crc32cExtend(kCrc32cInit, data)); }
// True if the hardware path is in use (for the benchmark's report).
bool Crc32cIsHardwareAccelerated();

}  // namespace tandem::sctp
