// The subcommands of the `tconv` program.
#pragma once

#include <string>
#include <vector>

namespace tconv::bench {

int bench_command(const std::vector<std::string>& args);
int tune_command(const std::vector<std::string>& args);
int shape_command(const std::vector<std::string>& args);

// bench/layers.csv of the source tree this program was built from.
std::string default_layers_path();

}  // namespace tconv::bench
