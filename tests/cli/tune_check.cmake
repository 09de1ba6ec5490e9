# `tconv tune` end to end: writes a wisdom file, a second run for another thread count merges
# into it, and a defective file is replaced (with a warning) instead of stopping the tuner.
#   cmake -DTCONV=<tconv program> -DWORK_DIR=<scratch dir> -P tune_check.cmake
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
set(layers "${WORK_DIR}/layers.csv")
file(WRITE "${layers}" "name,N,Cin,Cout,H,W,kh,kw,sh,sw,ph,pw,oph,opw,dh,dw,groups\n"
                       "up2,1,8,4,6,6,4,4,2,2,1,1,0,0,1,1,1\n"
                       "dw,1,4,4,5,5,3,3,2,2,1,1,1,1,1,1,4\n")
set(wisdom "${WORK_DIR}/wisdom.txt")

function(tune threads)
  execute_process(COMMAND "${TCONV}" tune --layers "${layers}" --wisdom "${wisdom}" --threads ${threads}
                          --layout nchw,nhwc --min-time 0.001 --repetitions 1
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "tconv tune --threads ${threads} failed (${rc}):\n${out}\n${err}")
  endif()
  set(tune_err "${err}" PARENT_SCOPE)
endfunction()

function(expect_entries n)
  file(READ "${wisdom}" text)
  if(NOT text MATCHES "^tconv-wisdom 1\n" OR NOT text MATCHES "\nend ${n}\n$")
    message(FATAL_ERROR "expected a wisdom file with ${n} entries, got:\n${text}")
  endif()
  string(REGEX MATCHALL "\nentry [^\n]* strategy=(direct_scatter|gemm_col2im|im2col_gemm|subpixel|subpixel_via_nhwc|direct_scatter_via_nchw) ms=[0-9.e+-]+" entries "${text}")
  list(LENGTH entries found)
  if(NOT found EQUAL n)
    message(FATAL_ERROR "expected ${n} well-formed entries, found ${found}:\n${text}")
  endif()
endfunction()

tune(1)
expect_entries(4)   # 2 layers x 2 layouts
tune(2)
expect_entries(8)   # merged with the thread-count-1 entries
tune(2)
expect_entries(8)   # re-tuning replaces, never duplicates

file(WRITE "${wisdom}" "tconv-wisdom 1\nentry broken\n")
tune(1)
if(NOT tune_err MATCHES "ignoring wisdom file")
  message(FATAL_ERROR "a defective wisdom file was not reported:\n${tune_err}")
endif()
expect_entries(4)
