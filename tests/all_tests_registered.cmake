# Checks that ctest runs every Catch2 test case of seqnet_tests: catch_discover_tests turns the executable's
# list into one ctest test per test case, and a name that CMake's list handling misreads would silently
# merge several test cases into one or split one into several that run nothing.
# Usage: cmake -DTEST_BINARY=<seqnet_tests> -DTESTS_DIR=<its build folder> -P all_tests_registered.cmake
# (Catch2 2.13 exits with the number of test cases listed, so the exit status says nothing here.)
execute_process(COMMAND ${TEST_BINARY} --list-test-names-only OUTPUT_VARIABLE listed)
# Lines are counted as characters: a CMake list would itself misread the names.
string(REGEX REPLACE "[^\n]" "" newlines "${listed}")
string(LENGTH "${newlines}" catch_count)
if(catch_count EQUAL 0)
  message(FATAL_ERROR "${TEST_BINARY} --list-test-names-only listed no test case")
endif()
# catch_discover_tests splits a name at ';' (a CMake list separator) and misreads one with '[' or ']'; the
# ctest test of such a name then selects no test case and passes without running anything.
foreach(bad ";" "[" "]")
  string(FIND "${listed}" "${bad}" at)
  if(NOT at EQUAL -1)
    string(SUBSTRING "${listed}" 0 ${at} before)
    string(REGEX REPLACE ".*\n" "" name_start "${before}")
    message(FATAL_ERROR "a test case name contains '${bad}', which ctest cannot register: \"${name_start}...\"")
  endif()
endforeach()
file(GLOB discovered "${TESTS_DIR}/seqnet_tests_tests-*.cmake")
if(NOT discovered)
  message(FATAL_ERROR "no file of discovered tests (seqnet_tests_tests-*.cmake) in ${TESTS_DIR}")
endif()
# The newest one: a build folder keeps the files of earlier discovery settings.
set(newest 0)
foreach(f IN LISTS discovered)
  file(TIMESTAMP ${f} when "%s")
  if(when GREATER_EQUAL newest)
    set(newest ${when})
    set(discovered_file ${f})
  endif()
endforeach()
file(READ ${discovered_file} script)
string(REGEX MATCHALL "(^|\n)add_test\\(" add_tests "${script}")
list(LENGTH add_tests ctest_count)
if(NOT catch_count EQUAL ctest_count)
  message(FATAL_ERROR "seqnet_tests has ${catch_count} test cases but ctest registered ${ctest_count}: "
                      "catch_discover_tests misread a test name")
endif()
message(STATUS "all ${catch_count} test cases of seqnet_tests are registered with ctest")
