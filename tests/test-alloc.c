/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <criterion/criterion.h>
#include <math.h>

#include "schedd/alloc.h"

#define N 8
static double x[N], level;
static AllocKey keys[N];

static double fill(double cap, const AllocItem *items, size_t n) {
        return alloc_waterfill(cap, items, n, x, keys, &level);
}

#define near(a, b) cr_assert_float_eq((a), (b), 1e-9, "%s = %g, expected %g", #a, (double)(a), (double)(b))

Test(alloc, empty) {
        near(fill(2, NULL, 0), 2);
}

Test(alloc, equal_shares) {
        AllocItem it[] = {{0, 2, 1}, {0, 2, 1}, {0, 2, 1}, {0, 2, 1}};
        near(fill(2, it, 4), 0);
        for (int i = 0; i < 4; i++)
                near(x[i], 0.5);
}

Test(alloc, reservation_plus_share_vserver_rule) {
        /* semantics.md row 1: A reserve 1 CPU share 1, B..E share 1, 2 CPUs:
         * A = 1 + 1/5, others 1/5. */
        AllocItem it[] = {{1, 2, 1}, {0, 2, 1}, {0, 2, 1}, {0, 2, 1}, {0, 2, 1}};
        fill(2, it, 5);
        near(x[0], 1.2);
        for (int i = 1; i < 5; i++)
                near(x[i], 0.2);
}

Test(alloc, share_zero_takes_only_floor) {
        AllocItem it[] = {{1, 1, 0}, {0, 2, 1}, {0, 2, 1}, {0, 2, 1}, {0, 2, 1}};
        fill(2, it, 5);
        near(x[0], 1);
        for (int i = 1; i < 5; i++)
                near(x[i], 0.25);
}

Test(alloc, capped_item_leaves_rest_to_others) {
        /* A share 3 capped at one CPU, B share 1: A 1, B 1. */
        AllocItem it[] = {{0, 1, 3}, {0, 2, 1}};
        near(fill(2, it, 2), 0);
        near(x[0], 1);
        near(x[1], 1);
}

Test(alloc, all_capped_leaves_spare_and_infinite_level) {
        AllocItem it[] = {{0, 0.5, 1}, {0.2, 0.3, 2}};
        near(fill(2, it, 2), 1.2);
        near(x[0], 0.5);
        near(x[1], 0.3);
        cr_assert(isinf(level));
}

Test(alloc, floors_over_capacity_are_scaled) {
        AllocItem it[] = {{3, 3, 1}, {1, 4, 1}};
        near(fill(2, it, 2), 0);
        near(x[0], 1.5);
        near(x[1], 0.5);
}

Test(alloc, zero_capacity) {
        AllocItem it[] = {{0, 1, 1}, {0, 1, 1}};
        fill(0, it, 2);
        near(x[0], 0);
        near(x[1], 0);
}

Test(alloc, weights_at_the_extremes) {
        AllocItem it[] = {{0, 10, 10000}, {0, 10, 1}};
        fill(10001, it, 2);
        near(x[0], 10);
        near(x[1], 10);
        fill(1.0001, it, 2);
        near(x[0], 1);
        near(x[1], 0.0001);
}

Test(alloc, idle_reservation_releases_capacity) {
        /* Row 3: A reserve 1 CPU but wants nothing; B share 1, C share 3. */
        AllocItem it[] = {{0, 0, 1}, {0, 2, 1}, {0, 2, 3}};
        fill(2, it, 3);
        near(x[0], 0);
        near(x[1], 0.5);
        near(x[2], 1.5);
}

/* Reference: the level found by bisection, the allocation from it. */
static double reference_fill(double capacity, const AllocItem *it, size_t n, double *out) {
        double floors = 0;
        for (size_t i = 0; i < n; i++)
                floors += it[i].floor;
        double lo = 0, hi = 1e12;
        for (int iter = 0; iter < 200; iter++) {
                double mid = (lo + hi) / 2, sum = floors;
                for (size_t i = 0; i < n; i++)
                        if (it[i].weight > 0 && it[i].cap > it[i].floor)
                                sum += fmin(it[i].cap, it[i].floor + it[i].weight * mid) - it[i].floor;
                if (sum > capacity)
                        hi = mid;
                else
                        lo = mid;
        }
        double used = 0;
        for (size_t i = 0; i < n; i++) {
                out[i] = it[i].floor;
                if (it[i].weight > 0 && it[i].cap > it[i].floor)
                        out[i] = fmin(it[i].cap, it[i].floor + it[i].weight * lo);
                used += out[i];
        }
        return capacity - used;
}

Test(alloc, many_items_match_a_bisection_reference) {
        /* Enough items that the sort partitions, with ties and duplicates. */
        enum { M = 3000 };
        static AllocItem it[M];
        static double got[M], want[M];
        static AllocKey k[M];
        uint64_t seed = 12345;
        for (int round = 0; round < 5; round++) {
                double floors = 0;
                for (int i = 0; i < M; i++) {
                        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
                        double f = (double)(seed >> 40 & 0xff) * (round % 2 ? 0 : 0.001);
                        double c = f + (double)(seed >> 20 & 0x3ff) / 64.0;
                        it[i] = (AllocItem){f, (seed >> 33 & 7) == 0 ? f : c, (uint32_t)(seed >> 50 & 3) * 3};
                        floors += f;
                }
                double cap = floors + 100 * (round + 1);
                double spare = alloc_waterfill(cap, it, M, got, k, NULL);
                double ref_spare = reference_fill(cap, it, M, want);
                cr_assert_float_eq(spare, ref_spare, 1e-6);
                for (int i = 0; i < M; i++)
                        cr_assert_float_eq(got[i], want[i], 1e-6, "item %d: %g vs %g", i, got[i], want[i]);
        }
}
