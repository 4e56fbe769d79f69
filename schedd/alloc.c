/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <math.h>
#include <stdlib.h>

#include "alloc.h"

static int key_compare(const void *a, const void *b) {
        const AllocKey *x = a, *y = b;
        return (x->key > y->key) - (x->key < y->key);
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
                scratch[k++] = (AllocKey){ (items[i].cap - items[i].floor) / items[i].weight, (uint32_t)i };
                weights += items[i].weight;
        }
        if (k > 1)
                qsort(scratch, k, sizeof(*scratch), key_compare);

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
