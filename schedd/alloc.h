/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Weighted max-min fair allocation with floors and ceilings, by
 * water-filling.  Pure.
 *
 * Every item first gets its floor.  What is left of the capacity is poured
 * over the items with a weight: at water level L an item holds
 * min(cap, floor + weight * L).  The level rises until the capacity is used
 * or every weighted item has reached its cap.  If the floors alone exceed
 * the capacity they are scaled down in proportion (admission control keeps
 * reservations within capacity, so this only happens to bursts).
 */

#include <stddef.h>
#include <stdint.h>

typedef struct AllocItem {
        double floor;    /* granted first */
        double cap;      /* never exceeded; >= floor */
        uint32_t weight; /* 0: takes no part in the division */
} AllocItem;

/* Scratch the caller owns (one per item), so a tick allocates nothing. */
typedef struct AllocKey {
        double key;
        uint32_t index;
} AllocKey;

/* Writes x[i] for each item.  Returns the capacity left over (> 0 only when
 * every weighted item is capped).  *ret_level (may be NULL) is the final
 * water level, INFINITY when every weighted item is capped. */
double alloc_waterfill(double capacity, const AllocItem *items, size_t n, double *x, AllocKey *scratch,
                       double *ret_level);
