// docs/openapi.yaml must list exactly the routes soukd serves.

#include <set>

#include <boost/test/unit_test.hpp>
#include <yaml-cpp/yaml.h>

#include "souk/http/routes.hpp"
#include "souk/storage/blob_store.hpp"
#include "souk/testing/support.hpp"

BOOST_AUTO_TEST_SUITE(openapi)

BOOST_AUTO_TEST_CASE(documented_routes_match_the_router) {
  // Every optional service present, so every route is registered.
  souk::testing::temp_dir files;
  auto svc = std::make_shared<souk::http::services>();
  svc->store = souk::storage::make_local_store(files.path());
  souk::http::router r;
  souk::http::add_routes(r, svc);
  std::set<std::string> served;
  for (auto& route : r.routes())
    served.insert(route.method + " " + route.pattern);

  auto doc = YAML::LoadFile(SOUK_OPENAPI_FILE);
  std::set<std::string> documented;
  for (auto path : doc["paths"])
    for (auto op : path.second) {
      auto method = op.first.as<std::string>();
      if (method == "parameters" || method == "summary")
        continue;
      for (auto& c : method)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      documented.insert(method + " " + path.first.as<std::string>());
    }
  BOOST_TEST(served == documented, boost::test_tools::per_element());
  BOOST_TEST(!served.empty());
}

BOOST_AUTO_TEST_SUITE_END()
