/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <yaml.h>

#include "error.h"
#include "model.h"

/* Largest policy text parsed (a file, or the bus's ValidatePolicy text): far
 * above any real policy (a few KiB), small enough that pointing the parser at
 * a huge or endless file fails fast. */
#define POLICY_FILE_MAX_BYTES (16U * 1024U * 1024U)

/*
 * Bounded work for any input (the bus's ValidatePolicy takes text from any
 * caller, and the daemon parses at start and at every reload):
 *
 * Nesting: the deepest policy key (vms.VM.io.DEV.wbps.reserve) sits in six
 * nested mappings.  libyaml's scanner does work proportional to the open
 * flow collections at every token, so "[[[[...]]]]" 100,000 deep took 48 s;
 * a scan of the events before loading stops past this depth, where that
 * work is still small (a few milliseconds).
 */
#define POLICY_DEPTH_MAX 32U

/* Nodes in a document (scalars, mappings, lists, aliases), counted by the
 * same scan: a 100,000-VM policy with a setting or two each has about a
 * million; this bounds libyaml's document (~100 bytes a node) at a few
 * hundred MB even for a file at POLICY_FILE_MAX_BYTES. */
#define POLICY_NODES_MAX 2000000U

/* VMs, host devices or host interfaces in one document: a host runs at most
 * thousands of VMs; each entry costs about 1 KB in the model and its copies,
 * so this bounds them at about 100 MB (a million VMs in 11 MB of text took
 * 11 s and 1.3 GB to validate). */
#define POLICY_ENTRIES_MAX 100000U

/*
 * Aliases are kept (anchors let VMs share settings, and YAML defines them),
 * but a node reached again through an alias is walked again, and a few KB of
 * aliases to aliases make millions of VM entries ("a billion laughs").  The
 * walk may visit the document's own nodes once each, and this many more in
 * all through aliases: 20,000 VMs sharing a 5-node block stay below it;
 * the model it can build is bounded at a few tens of MB.
 */
#define POLICY_ALIAS_NODES_MAX 100000U

/*
 * The policy parser (libyaml document API).  Strict: unknown keys, wrong
 * types (a list where a mapping belongs, a mapping where a scalar belongs),
 * bad amounts (non-numeric, negative, overflowing), a share outside 0..10000,
 * a percentage over 100 %, duplicate keys: each is an error naming
 * file:line:column and the dotted key ("vms.web.cpu.reserve").
 *
 * Range checks that need capacities (limit below reserve, admission control)
 * belong to policy_validate().
 *
 * All return 0 and fill *ret (which must be policy_init()ed and is merged
 * into: fields set by this document replace those already there), or a
 * negative errno with err filled and *ret unchanged.
 */

/* Parse `len` bytes of YAML text; `file` names it in errors ("<stdin>"). */
int policy_parse_string(const char *text, size_t len, const char *file, Policy *ret, PolicyError *err);

/* Read and parse a file. -ENOENT etc. are reported as "file: cannot read: ...". */
int policy_parse_file(const char *path, Policy *ret, PolicyError *err);

/* Parse the mapping `node` of an already loaded document (used by scenario
 * files that embed a policy under a key).  `key_prefix` is prepended to
 * dotted keys in errors ("policy."), may be "". */
int policy_parse_node(yaml_document_t *doc, yaml_node_t *node, const char *file, const char *key_prefix, Policy *ret,
                      PolicyError *err);

/*
 * Base policy plus overlays: parse `base_path`, then every "*.yaml" file of
 * `override_dir` in lexical order (the directory may be missing or NULL),
 * merging each over the result.  Errors name the file they came from.
 */
int policy_load(const char *base_path, const char *override_dir, Policy *ret, PolicyError *err);
