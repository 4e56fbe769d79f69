/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "schedd/hierarchy.h"

static HierarchyNode *nodes;
static size_t n_nodes;

static void teardown(void) {
        nodes = hierarchy_nodes_free(nodes, n_nodes);
        n_nodes = 0;
}

TestSuite(hierarchy, .fini = teardown);

static int compute(const HierarchyVm *vms, size_t n) {
        return hierarchy_compute(vms, n, &nodes, &n_nodes);
}

/* The node for `path`'s weight; fails the test if there is none. */
static uint32_t weight_of(const char *path) {
        for (size_t i = 0; i < n_nodes; i++)
                if (strcmp(nodes[i].cgroup, path) == 0)
                        return nodes[i].weight;
        cr_assert_fail("no node %s", path);
        return 0;
}

#define BUSY 0
#define IDLE (HIERARCHY_IDLE_USEC * 10)

Test(hierarchy, nothing) {
        cr_assert_eq(compute(NULL, 0), 0);
        cr_assert_eq(n_nodes, 0);
        cr_assert_null(nodes);
}

Test(hierarchy, siblings_under_the_root_have_no_parents) {
        HierarchyVm vms[] = {
                {"a", true, 5000, BUSY},
                {"b", true, 5000, BUSY},
        };
        cr_assert_eq(compute(vms, 2), 0);
        cr_assert_eq(n_nodes, 0);
}

Test(hierarchy, two_slices_sum_their_vms) {
        /* nested-cgroups.yaml: web 3, db 1, late 2 of 6 on the 10000 scale. */
        HierarchyVm vms[] = {
                {"machine.slice/web.scope", true, 5000, BUSY},
                {"machine.slice/db.scope", true, 1667, BUSY},
                {"other.slice/late.scope", true, 3333, BUSY},
        };
        cr_assert_eq(compute(vms, 3), 0);
        cr_assert_eq(n_nodes, 2);
        /* sorted: a parent before its children, and by name */
        cr_assert_str_eq(nodes[0].cgroup, "machine.slice");
        cr_assert_str_eq(nodes[1].cgroup, "other.slice");
        cr_assert_eq(weight_of("machine.slice"), 6667);
        cr_assert_eq(weight_of("other.slice"), 3333);
}

Test(hierarchy, deep_paths_every_level) {
        HierarchyVm vms[] = {
                {"a/b/c/vm1", true, 100, BUSY},
                {"a/b/vm2", true, 200, BUSY},
                {"a/x/vm3", true, 400, BUSY},
        };
        cr_assert_eq(compute(vms, 3), 0);
        cr_assert_eq(n_nodes, 4);
        cr_assert_str_eq(nodes[0].cgroup, "a");
        cr_assert_str_eq(nodes[1].cgroup, "a/b");
        cr_assert_str_eq(nodes[2].cgroup, "a/b/c");
        cr_assert_str_eq(nodes[3].cgroup, "a/x");
        cr_assert_eq(weight_of("a"), 700);
        cr_assert_eq(weight_of("a/b"), 300);
        cr_assert_eq(weight_of("a/b/c"), 100);
        cr_assert_eq(weight_of("a/x"), 400);
}

Test(hierarchy, a_prefix_of_a_name_is_not_a_parent) {
        /* "a" is not above "ab/vm": only whole components count. */
        HierarchyVm vms[] = {
                {"a/vm1", true, 100, BUSY},
                {"ab/vm2", true, 200, BUSY},
        };
        cr_assert_eq(compute(vms, 2), 0);
        cr_assert_eq(weight_of("a"), 100);
        cr_assert_eq(weight_of("ab"), 200);
}

Test(hierarchy, idle_vms_do_not_count_while_a_sibling_runs) {
        HierarchyVm vms[] = {
                {"m/web", true, 6000, BUSY},
                {"m/db", true, 1667, IDLE},
                {"o/late", true, 4000, BUSY},
        };
        cr_assert_eq(compute(vms, 3), 0);
        cr_assert_eq(weight_of("m"), 6000);
        cr_assert_eq(weight_of("o"), 4000);
}

Test(hierarchy, all_idle_below_counts_everyone) {
        HierarchyVm vms[] = {
                {"m/a", true, 2000, IDLE},
                {"m/b", true, 3000, IDLE},
                {"o/c", true, 4000, BUSY},
        };
        cr_assert_eq(compute(vms, 3), 0);
        cr_assert_eq(weight_of("m"), 5000);
        cr_assert_eq(weight_of("o"), 4000);
}

Test(hierarchy, idle_boundary) {
        cr_assert(hierarchy_vm_active(0));
        cr_assert(hierarchy_vm_active(HIERARCHY_IDLE_USEC - 1));
        cr_assert_not(hierarchy_vm_active(HIERARCHY_IDLE_USEC));
        cr_assert_not(hierarchy_vm_active(UINT64_MAX));
}

Test(hierarchy, unmanaged_vms_name_nodes_but_add_nothing) {
        HierarchyVm vms[] = {
                {"m/a", false, 9999, BUSY},
                {"o/b", true, 300, BUSY},
                {"o/c", false, 9999, BUSY},
        };
        cr_assert_eq(compute(vms, 3), 0);
        cr_assert_eq(n_nodes, 2);
        cr_assert_eq(weight_of("m"), 0);
        cr_assert_eq(weight_of("o"), 300);
}

Test(hierarchy, a_vm_cgroup_is_never_a_node) {
        /* A VM inside another VM's cgroup: the outer one's weight is its own. */
        HierarchyVm vms[] = {
                {"outer", true, 1000, BUSY},
                {"outer/mid/inner", true, 500, BUSY},
        };
        cr_assert_eq(compute(vms, 2), 0);
        cr_assert_eq(n_nodes, 1);
        cr_assert_str_eq(nodes[0].cgroup, "outer/mid");
        cr_assert_eq(nodes[0].weight, 500);
}

Test(hierarchy, clamped_to_the_range) {
        HierarchyVm high[] = {
                {"m/a", true, 8000, BUSY},
                {"m/b", true, 8000, BUSY},
                {"m/c", true, UINT32_MAX, BUSY},
        };
        cr_assert_eq(compute(high, 3), 0);
        cr_assert_eq(weight_of("m"), HIERARCHY_WEIGHT_MAX);
        teardown();

        HierarchyVm zero[] = {
                {"m/a", true, 0, BUSY},
        };
        cr_assert_eq(compute(zero, 1), 0);
        cr_assert_eq(weight_of("m"), HIERARCHY_WEIGHT_MIN);
}

Test(hierarchy, shared_parents_listed_once) {
        HierarchyVm vms[] = {
                {"s/a", true, 1, BUSY},
                {"s/b", true, 2, BUSY},
                {"s/c", true, 3, BUSY},
        };
        cr_assert_eq(compute(vms, 3), 0);
        cr_assert_eq(n_nodes, 1);
        cr_assert_eq(nodes[0].weight, 6);
}

Test(hierarchy, bad_paths) {
        const char *bad[] = {"", "/abs/vm", "a//b", "a/", "/"};

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                HierarchyVm vms[] = {
                        {"ok/vm", true, 1, BUSY},
                        {bad[i], true, 1, BUSY},
                };
                cr_assert_eq(compute(vms, 2), -EINVAL, "%s", bad[i]);
                cr_assert_eq(n_nodes, 0);
        }
        HierarchyVm null_path[] = {{NULL, true, 1, BUSY}};
        cr_assert_eq(compute(null_path, 1), -EINVAL);
}

Test(hierarchy, parent_lookup) {
        HierarchyVm vms[] = {
                {"a/b/vm1", true, 100, BUSY},
                {"a/vm2", true, 200, BUSY},
                {"top", true, 300, BUSY},
        };
        cr_assert_eq(compute(vms, 3), 0);
        cr_assert_eq(n_nodes, 2);
        cr_assert_eq(hierarchy_parent(nodes, n_nodes, "a/b/vm1"), 1);
        cr_assert_eq(hierarchy_parent(nodes, n_nodes, "a/vm2"), 0);
        cr_assert_eq(hierarchy_parent(nodes, n_nodes, "a/b"), 0);
        cr_assert_eq(hierarchy_parent(nodes, n_nodes, "a"), -ENOENT);
        cr_assert_eq(hierarchy_parent(nodes, n_nodes, "top"), -ENOENT);
        cr_assert_eq(hierarchy_parent(nodes, n_nodes, "ab/x"), -ENOENT);
        cr_assert_eq(hierarchy_parent(NULL, 0, "a/b"), -ENOENT);
}
