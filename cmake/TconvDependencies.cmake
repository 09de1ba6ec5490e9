# Dependencies, all from Debian packages (scripts/deps installs them).

# Debian 12's xsimd package links a target `xtl` it never defines; an empty one satisfies it.
if(NOT TARGET xtl)
  add_library(xtl INTERFACE IMPORTED)
endif()
find_package(xsimd 8 REQUIRED)
find_package(OpenMP REQUIRED)
