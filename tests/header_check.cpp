// The public C++ and C headers compile as C++17 with nothing else on the include path.
#include "paraminit/paraminit.hpp"
#include "paraminit/paraminit.h"
#include "paraminit/safetensors.hpp"

int paraminit_header_check() { return static_cast<int>(paraminit::kMaxRank) + PI_OK; }
