// Overflow-checked 64-bit arithmetic for shape computations: every size product goes through here.
#pragma once

#include <cstdint>
#include <string>

#include "tconv/tconv.hpp"

namespace tconv::detail {

inline int64_t checked_mul(int64_t a, int64_t b, const char* what) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) {
    throw Error(std::string(what) + " overflows 64-bit integers (" + std::to_string(a) + " * " +
                std::to_string(b) + ")");
  }
  return r;
}

inline int64_t checked_add(int64_t a, int64_t b, const char* what) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) {
    throw Error(std::string(what) + " overflows 64-bit integers (" + std::to_string(a) + " + " +
                std::to_string(b) + ")");
  }
  return r;
}

// Floor division and modulo for possibly negative numerators (positive divisor).
inline int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}
inline int64_t floor_mod(int64_t a, int64_t b) { return a - floor_div(a, b) * b; }
inline int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }

}  // namespace tconv::detail
