/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdio.h>

#include "model.h"

/*
 * The writer: emits a Policy as YAML that policy_parse_* reads back to an
 * equal model (every set field, amounts in their original kind: a
 * percentage stays a percentage).  Unset fields are left out, so writing an
 * overlay writes only what it overrides.
 *
 * Strings are written plain where YAML reads them back as they are, else
 * double-quoted with every character the reader would refuse or change
 * (C0 and C1 controls, U+0085, U+2028, U+2029, U+FEFF, U+FFFE, U+FFFF)
 * escaped.  A string that is not UTF-8 cannot be written: -EILSEQ.
 *
 * policy_write_string() returns 0 and a malloc()ed NUL-terminated text in
 * *ret_text, -EILSEQ or -ENOMEM.  policy_write_file() writes to an open
 * stream and returns 0 or -errno (-EILSEQ before writing anything).
 */
int policy_write_string(const Policy *p, char **ret_text);
int policy_write_file(const Policy *p, FILE *f);

/* True if both models hold the same set fields with the same values
 * (locations are not compared).  Used by the round-trip tests and to tell
 * whether an overlay changes anything. */
bool policy_equal(const Policy *a, const Policy *b);
