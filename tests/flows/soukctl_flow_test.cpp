// End-to-end: `soukctl flow ...` on the real binary. No database: these
// commands run before soukctl reads its config.

#include <fstream>

#include <boost/test/unit_test.hpp>

#include "souk/testing/support.hpp"

namespace st = souk::testing;

BOOST_AUTO_TEST_SUITE(soukctl_flow)

BOOST_AUTO_TEST_CASE(validate_reports_ok_or_the_place_of_the_error) {
  st::temp_dir dir;
  auto good = std::string{SOUK_FLOW_TEMPLATES} + "/digital_download.yaml";
  auto r
    = st::run_program({SOUK_SOUKCTL, "flow", "validate", good}, {}, dir.path());
  BOOST_TEST(r.code == 0);
  BOOST_TEST(r.out.starts_with(good
                               + ": ok (flow digital_download version 3, "
                                 "hash "));
  auto bad = (dir.path() / "bad.yaml").string();
  std::ofstream{bad} << "flow: t\nversion: 1\ninitial: a\nstates:\n"
                        "  a: { on: { go.now: zz } }\n";
  r = st::run_program({SOUK_SOUKCTL, "flow", "validate", bad}, {}, dir.path());
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find(bad
                        + ":5:22: 'go.now' in state 'a' leads to unknown "
                          "state 'zz'")
             != std::string::npos);
  r = st::run_program({SOUK_SOUKCTL, "flow", "validate"}, {}, dir.path());
  BOOST_TEST(r.code == 2);
}

BOOST_AUTO_TEST_CASE(graph_prints_dot) {
  st::temp_dir dir;
  auto r = st::run_program({SOUK_SOUKCTL, "flow", "graph", "digital_download",
                            "--templates", SOUK_FLOW_TEMPLATES},
                           {}, dir.path());
  BOOST_TEST(r.code == 0);
  BOOST_TEST(r.out.starts_with("digraph \"digital_download\" {"));
  BOOST_TEST(r.out.find("\"refunded\" [shape=doublecircle];")
             != std::string::npos);
  BOOST_TEST(r.out.find("after 30m") != std::string::npos);
  // The default directory is templates/flows under the working directory.
  r = st::run_program({SOUK_SOUKCTL, "flow", "graph", "digital_download"}, {},
                      dir.path());
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("templates/flows/digital_download.yaml: cannot open")
             != std::string::npos);
  // A name, not a path.
  r = st::run_program({SOUK_SOUKCTL, "flow", "graph", "../../etc/passwd"}, {},
                      dir.path());
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("bad flow name") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
