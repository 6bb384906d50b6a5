// The 32-bit counter hash of procedural (JIT) connectivity, for every C++ site. Its
// constants are those of jithash.def, which neurodyn/event/_jitconn.py reads too, so that
// the native kernels and the pure-JAX generator draw the same matrix bit for bit.
#pragma once

#include <cstdint>

namespace neurodyn::jithash {

#define ND_HASH_CONST(name, value) inline constexpr std::uint32_t k##name = value##u;
#include "jithash.def"
#undef ND_HASH_CONST

// MurmurHash3's 32-bit finaliser.
inline std::uint32_t Fmix(std::uint32_t x) {
  x ^= x >> kFMIX_SHIFT1;
  x *= kFMIX_MUL1;
  x ^= x >> kFMIX_SHIFT2;
  x *= kFMIX_MUL2;
  x ^= x >> kFMIX_SHIFT3;
  return x;
}

// The part of the hash that depends on the row only: computed once per row.
inline std::uint32_t RowKey(std::uint32_t seed, std::uint32_t i) {
  return Fmix((seed * kSEED_MUL) ^ (i * kROW_MUL));
}

// hash3 from a row's key: synapse k of the row, stream 0 (the skip), 1 or 2 (the weight).
inline std::uint32_t FromRowKey(std::uint32_t row_key, std::uint32_t k, std::uint32_t stream) {
  return Fmix(row_key ^ (k * kCOL_MUL + stream * kSTREAM_MUL));
}

inline std::uint32_t Hash3(std::uint32_t seed, std::uint32_t i, std::uint32_t k,
                           std::uint32_t stream) {
  return FromRowKey(RowKey(seed, i), k, stream);
}

}  // namespace neurodyn::jithash
