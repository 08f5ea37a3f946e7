/* Shared by the cmocka suites that check refusals (test_verify,
 * test_rollout): a refusal is a negative return with exactly this reason.
 * Include after <cmocka.h>. CALYX_TEST_VERBOSE=1 prints each message. */
#ifndef CALYX_TU_EXPECT_H
#define CALYX_TU_EXPECT_H

#include <stdlib.h>

#include "calyx/common.h"

static inline void expect(int r, const cx_error *err, int want)
{
	if (getenv("CALYX_TEST_VERBOSE"))
		print_message("  refused %s: %s\n", cx_reason_name(err->reason), err->msg);
	if (r >= 0 || err->reason != want)
		print_error("want %s, got r=%d %s: %s\n", cx_reason_name(want), r,
			    cx_reason_name(err->reason), err->msg);
	assert_true(r < 0);
	assert_int_equal(err->reason, want);
}

#endif
