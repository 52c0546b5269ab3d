# Configures, builds and runs a consumer project of seqnet (run by ctest with cmake -P).
# MODE=subdirectory: the consumer pulls seqnet in with add_subdirectory.
# MODE=installed: seqnet is installed into a prefix first, the consumer finds it with find_package.
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "command failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
endfunction()
if(MODE STREQUAL "subdirectory")
  run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/consumer/subdir -B ${WORK_DIR}/build -DSEQNET_SOURCE_DIR=${SOURCE_DIR})
elseif(MODE STREQUAL "installed")
  run(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/seqnet -DSEQNET_BUILD_TESTS=OFF -DSEQNET_BUILD_EXAMPLES=OFF
      -DSEQNET_BUILD_BENCH=OFF -DSEQNET_INSTALL=ON -DCMAKE_INSTALL_PREFIX=${WORK_DIR}/prefix)
  run(${CMAKE_COMMAND} --install ${WORK_DIR}/seqnet)
  run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/consumer/installed -B ${WORK_DIR}/build -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix)
else()
  message(FATAL_ERROR "MODE must be subdirectory or installed")
endif()
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run(${WORK_DIR}/build/consumer)
