// The one translation unit per test executable that defines Boost.Test's
// main(); SOUK_TEST_MODULE names the executable's folder.
#define BOOST_TEST_MODULE SOUK_TEST_MODULE
#include <boost/test/unit_test.hpp>
