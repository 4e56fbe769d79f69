/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* schedd's version: `schedd --version`, the metric schedd_build_info. */
#define SCHEDD_VERSION "0.1"
