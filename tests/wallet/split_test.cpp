// Fees and proportional refunds: integer arithmetic that never loses or
// creates a minor unit.

#include <boost/test/unit_test.hpp>

#include "souk/wallet/service.hpp"

namespace w = souk::wallet;

BOOST_AUTO_TEST_SUITE(split)

BOOST_AUTO_TEST_CASE(fee_is_basis_points_plus_fixed_capped_at_gross) {
  w::fee_policy p;                           // 5% + NGN 100.00 / USD 0.30
  auto s = w::split_sale(500'000, "NGN", p); // NGN 5,000.00
  BOOST_TEST(s.fee == 25'000 + 10'000);
  BOOST_TEST(s.net == 465'000);
  auto usd = w::split_sale(1'000, "USD", p); // USD 10.00
  BOOST_TEST(usd.fee == 50 + 30);
  BOOST_TEST(usd.net == 920);
  BOOST_TEST(w::split_sale(3, "USD", p).fee == 3); // never above the gross
  BOOST_TEST(w::split_sale(3, "USD", p).net == 0);
  p.basis_points = 333;
  p.fixed.clear();
  BOOST_TEST(w::split_sale(150, "NGN", p).fee == 5); // 4.995 rounds up
  BOOST_TEST(w::split_sale(0, "NGN", p).fee == 0);
}

BOOST_AUTO_TEST_CASE(refunds_are_proportional_and_add_up_exactly) {
  w::fee_policy p;
  int64_t gross = 500'000;
  auto sale = w::split_sale(gross, "NGN", p);
  // Half: half of each share.
  auto half = w::split_refund(gross, sale, {}, 250'000);
  BOOST_TEST(half.net == 232'500);
  BOOST_TEST(half.fee == 17'500);
  // Refunded in odd parts, the total reverses the sale exactly.
  w::split done{};
  for (int64_t part : {33'333, 77'777, 1, 100'000}) {
    auto r = w::split_refund(gross, sale, done, part);
    BOOST_TEST(r.net + r.fee == part);
    BOOST_TEST(r.net >= 0);
    BOOST_TEST(r.fee >= 0);
    done.net += r.net;
    done.fee += r.fee;
  }
  auto rest = w::split_refund(gross, sale, done, gross - done.net - done.fee);
  done.net += rest.net;
  done.fee += rest.fee;
  BOOST_TEST(done.net == sale.net);
  BOOST_TEST(done.fee == sale.fee);
  // More than is left is cut to what is left.
  auto over = w::split_refund(gross, sale, done, 1);
  BOOST_TEST(over.net + over.fee == 0);
}

BOOST_AUTO_TEST_SUITE_END()
