#include "sluice/processors/aggregates/hyper_log_log.h"

#include <algorithm>
#include <cmath>

namespace sluice::processors::aggregates {

uint64_t HashInteger(uint64_t value) {
  value += 0x9e3779b97f4a7c15ULL;
  value = (value ^ (value >> 30)) * 0xbf58476d1ce4e5b9ULL;
  value = (value ^ (value >> 27)) * 0x94d049bb133111ebULL;
  return value ^ (value >> 31);
}

uint64_t HashBytes(std::string_view bytes) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : bytes) hash = (hash ^ c) * 0x100000001b3ULL;
  return HashInteger(hash ^ bytes.size());
}

void HyperLogLog::Merge(const HyperLogLog& other) {
  for (int i = 0; i < kRegisters; ++i) registers_[i] = std::max(registers_[i], other.registers_[i]);
}

int64_t HyperLogLog::Estimate() const {
  constexpr double kRegistersDouble = kRegisters;
  const double alpha = 0.7213 / (1.0 + 1.079 / kRegistersDouble);
  double sum = 0;
  int zeros = 0;
  for (uint8_t value : registers_) {
    sum += std::ldexp(1.0, -value);
    if (value == 0) ++zeros;
  }
  double estimate = alpha * kRegistersDouble * kRegistersDouble / sum;
  // Linear counting is far more accurate while many registers are still empty.
  if (estimate <= 2.5 * kRegistersDouble && zeros > 0) {
    estimate = kRegistersDouble * std::log(kRegistersDouble / zeros);
  }
  return static_cast<int64_t>(std::llround(estimate));
}

}  // namespace sluice::processors::aggregates
