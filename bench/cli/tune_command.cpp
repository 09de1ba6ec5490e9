// `tconv tune`: placeholder until the wisdom issue lands; says so instead of pretending.
#include <cstdio>

#include "cli/commands.hpp"
#include "tconv/tconv.hpp"

namespace tconv::bench {

int tune_command(const std::vector<std::string>&) {
  throw Error("tune is not available yet: measured selection (wisdom files) is not implemented in this build");
}

}  // namespace tconv::bench
