# tconv_add_isa_objects(<name> <source> <flags>): an object library for one ISA's kernels,
# compiled with only that ISA's flags. Release builds stay portable: nothing else in the
# library gets ISA flags, and the runtime dispatcher calls these only on CPUs that have them.
function(tconv_add_isa_objects name source flags)
  add_library(${name} OBJECT ${source})
  target_compile_options(${name} PRIVATE ${flags})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/include)
  target_link_libraries(${name} PRIVATE xsimd)
  set_target_properties(${name} PROPERTIES POSITION_INDEPENDENT_CODE ON)
endfunction()
