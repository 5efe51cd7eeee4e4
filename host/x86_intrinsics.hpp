// <immintrin.h> for the x86-64 vector paths (GCC/Clang only; include inside such a guard).
// GCC 12's AVX-512 headers build their "undefined" vectors from themselves (__m512i __Y = __Y),
// which -W(maybe-)uninitialized reports at every inlined use; the warning is about the header's idiom.
#pragma once

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#pragma GCC diagnostic pop
