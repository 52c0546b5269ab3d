# Included by ctest (TEST_INCLUDE_FILES, after the discovered tests are defined): the real-data tests of
# test_imdb_data.cpp print "SEQNET_SKIPPED: <reason>" when SEQNET_IMDB_DIR is unset or has no data, and
# ctest then reports them as skipped instead of passed. Catch2 2.13 has no skip of its own.
set(_seqnet_imdb_data_tests
  "IMDB data: 25,000 train and 25,000 test reviews, 12,500 of each label"
  "IMDB data: a known review is encoded as expected")
foreach(_t IN LISTS _seqnet_imdb_data_tests)
  set_tests_properties("${_t}" PROPERTIES SKIP_REGULAR_EXPRESSION "SEQNET_SKIPPED")
endforeach()
