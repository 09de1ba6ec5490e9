# tconv_add_isa_objects(<name> <source> <flags>): an object library for one ISA's kernels,
# compiled with only that ISA's flags. Release builds stay portable: nothing else in the
# library gets ISA flags, and the runtime dispatcher calls these only on CPUs that have them.
function(tconv_add_isa_objects name source flags)
  add_library(${name} OBJECT ${source})
  target_compile_options(${name} PRIVATE ${flags})
  # Kernels write their short zero runs with vector stores; GCC would turn those loops into
  # memset calls (a call and a vzeroupper per few floats).
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${name} PRIVATE -fno-tree-loop-distribute-patterns)
  endif()
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/include)
  target_link_libraries(${name} PRIVATE xsimd)
  set_target_properties(${name} PROPERTIES POSITION_INDEPENDENT_CODE ON)
endfunction()
