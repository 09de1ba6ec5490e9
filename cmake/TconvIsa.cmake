# tconv_add_isa_objects(<name> <source> <flags>): an object library for one ISA's kernels,
# compiled with only that ISA's flags. Release builds stay portable: nothing else in the
# library gets ISA flags, and the runtime dispatcher calls these only on CPUs that have them.
function(tconv_add_isa_objects name source flags)
  add_library(${name} OBJECT ${source})
  target_compile_options(${name} PRIVATE ${flags})
  # Kernels write their short zero runs with vector stores; GCC would turn those loops into
  # memset calls (a call and a vzeroupper per few floats). Loops on 32-byte boundaries: small
  # layers moved 5-12% with where an unrelated change put an unchanged kernel loop (seed_5x5,
  # Zen 2: 0.262 -> 0.295 us after the transpose edges changed, 0.254 aligned; the suite within
  # noise either way, 0.99x-1.01x in geometric mean).
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${name} PRIVATE -fno-tree-loop-distribute-patterns -falign-loops=32)
  endif()
  # ASan's use-after-scope check poisons every xsimd batch temporary of the unrolled tile bodies:
  # the AVX-512 unit took over 5 minutes to compile with it and 16 s without. The kernels keep
  # their state in registers, so the check buys nothing there; the rest of the library keeps it.
  if(TCONV_SANITIZE AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${name} PRIVATE -fno-sanitize-address-use-after-scope)
  endif()
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/include)
  target_link_libraries(${name} PRIVATE xsimd)
  set_target_properties(${name} PROPERTIES POSITION_INDEPENDENT_CODE ON)
endfunction()
