/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <math.h>

#include "alloc.h"

/* Below this many keys insertion sort beats partitioning. */
#define SORT_INSERTION_MAX 16

static void insertion_sort(AllocKey *a, size_t n) {
        for (size_t i = 1; i < n; i++) {
                AllocKey k = a[i];
                size_t j = i;
                for (; j > 0 && a[j - 1].key > k.key; j--)
                        a[j] = a[j - 1];
                a[j] = k;
        }
}

/* Quicksort by key with a median-of-three pivot, recursing into the smaller
 * part only (stack depth O(log n)).  Specialised rather than qsort(): no
 * call per comparison, no allocation, and this runs every tick. */
static void sort_keys(AllocKey *a, size_t n) {
        while (n > SORT_INSERTION_MAX) {
                size_t mid = n / 2;
                AllocKey t;
                if (a[mid].key < a[0].key)
                        t = a[mid], a[mid] = a[0], a[0] = t;
                if (a[n - 1].key < a[0].key)
                        t = a[n - 1], a[n - 1] = a[0], a[0] = t;
                if (a[n - 1].key < a[mid].key)
                        t = a[n - 1], a[n - 1] = a[mid], a[mid] = t;
                double pivot = a[mid].key;

                size_t i = 0, j = n - 1;
                for (;;) {
                        while (a[i].key < pivot)
                                i++;
                        while (a[j].key > pivot)
                                j--;
                        if (i >= j)
                                break;
                        t = a[i], a[i] = a[j], a[j] = t;
                        i++;
                        j--;
                }
                /* [0, j] <= pivot <= [j + 1, n) */
                size_t left = j + 1, right = n - left;
                if (left < right) {
                        sort_keys(a, left);
                        a += left;
                        n = right;
                } else {
                        sort_keys(a + left, right);
                        n = left;
                }
        }
        insertion_sort(a, n);
}

double alloc_waterfill(double capacity, const AllocItem *items, size_t n, double *x, AllocKey *scratch,
                       double *ret_level) {
        double floors = 0, weights = 0;
        size_t k = 0;

        for (size_t i = 0; i < n; i++)
                floors += items[i].floor;

        if (floors >= capacity) {
                double scale = floors > 0 ? capacity / floors : 0;
                for (size_t i = 0; i < n; i++)
                        x[i] = items[i].floor * scale;
                if (ret_level)
                        *ret_level = 0;
                return 0;
        }

        /* Each weighted item that can take more is capped at level
         * (cap - floor) / weight: sort by that, and raise the level past one
         * cap after another while the capacity lasts. */
        for (size_t i = 0; i < n; i++) {
                x[i] = items[i].floor;
                if (items[i].weight == 0 || items[i].cap <= items[i].floor)
                        continue;
                scratch[k++] = (AllocKey){(items[i].cap - items[i].floor) / items[i].weight, (uint32_t)i};
                weights += items[i].weight;
        }
        sort_keys(scratch, k);

        double left = capacity - floors, level = 0;
        size_t j = 0;
        for (; j < k; j++) {
                double cost = (scratch[j].key - level) * weights;
                if (cost >= left) {
                        level += left / weights;
                        left = 0;
                        break;
                }
                left -= cost;
                level = scratch[j].key;
                weights -= items[scratch[j].index].weight;
        }
        if (j == k)
                level = INFINITY;

        for (size_t m = 0; m < k; m++) {
                const AllocItem *it = &items[scratch[m].index];
                double v = it->floor + it->weight * level;
                x[scratch[m].index] = v < it->cap ? v : it->cap;
        }

        if (ret_level)
                *ret_level = level;
        return left;
}
