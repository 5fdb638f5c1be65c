// TCP sequence-number arithmetic (RFC 9293 3.4): 32-bit numbers compared
// modulo 2^32, so "a before b" means the signed distance b - a is positive.
#pragma once

#include "kernel/lib/types.h"

namespace mote::net {

constexpr bool seq_lt(u32 a, u32 b) { return i32(a - b) < 0; }
constexpr bool seq_leq(u32 a, u32 b) { return i32(a - b) <= 0; }
constexpr bool seq_gt(u32 a, u32 b) { return i32(a - b) > 0; }
constexpr bool seq_geq(u32 a, u32 b) { return i32(a - b) >= 0; }
// lo <= x < hi, modulo 2^32.
constexpr bool seq_in(u32 x, u32 lo, u32 hi) { return seq_leq(lo, x) && seq_lt(x, hi); }
constexpr u32 seq_max(u32 a, u32 b) { return seq_gt(a, b) ? a : b; }

}  // namespace mote::net
